"""No secret in any output (issue 21): every secret of the sandbox's env file is a canary, and checks of
each subject fail on it, in every phase; then no piece of any canary may appear anywhere a run writes.

Each canary is a unique token with the characters that make writers escape (``/ & + < > " '``, a
backslash): a JSON writer's ``\\/`` or ``\\u0026``, URL encoding, HTML escaping all keep the token's
letters, so finding the bare token anywhere (the terminal, gate.json, JUnit XML, the Allure results
with every attachment and the members of every zip such as a Playwright trace, the baseline, the
coverage and quality-gate files, the rendered HTML report) is a leak, whatever the encoding.
The stack itself keeps its real env file: only gonogo's copy (a state folder of its own) holds the canaries.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
#: the env file's secrets (every variable the sandbox profile does not list as public)
SECRETS = ("SECRET_KEY", "DATABASE_URL", "DATABASE_URL_READONLY", "SCRATCH_DATABASE_URL", "DEMO_PASSWORD",
           "SMTP_PASSWORD", "STRIPE_WEBHOOK_SECRET")
#: what makes a writer escape a value
AWKWARD = "/&+<>\"'\\x"


def canary_state(sandbox: "Sandbox", folder: Path) -> dict[str, str]:
    """A state folder like the sandbox's (its files linked) whose env file holds a canary for every secret;
    returns each secret's token."""
    state = sandbox.state_dir
    folder.mkdir()
    for child in state.iterdir():
        if child.name != ".env.sandbox":
            (folder / child.name).symlink_to(child)
    tokens = {key: f"Cnry{secrets.token_hex(8)}" for key in SECRETS}
    lines = []
    for line in (state / ".env.sandbox").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key in tokens:
            value = _canary(value, tokens[key])
        elif sep and key == "SANDBOX_STATE_DIR":
            value = str(folder)
        lines.append(f"{key}{sep}{value}")
    (folder / ".env.sandbox").write_text("\n".join(lines) + "\n")
    return tokens


def _canary(value: str, token: str) -> str:
    """The canary of one value: a DSN keeps its shape with the canary as its password (percent-encoded)."""
    if "://" in value:
        parts = urlsplit(value)
        user = parts.username or "gonogo"
        netloc = f"{user}:{quote(token + AWKWARD, safe='')}@{parts.hostname}:{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    return token + AWKWARD.replace("\\", "")  # an env file value with a backslash reads differently per parser


def run(env: dict[str, str], out: Path, phase: str) -> tuple[str, dict[str, str]]:
    """One whole phase against the canaried profile; everything it writes goes under ``out``."""
    out.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", phase, "--env", "sandbox", "-n", "2", "-p", "no:cacheprovider",
         f"--gate-file={out / 'gate.json'}", f"--alluredir={out / 'allure'}", f"--junitxml={out / 'junit.xml'}",
         f"--baseline={out / 'baseline.json'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    (out / "terminal.txt").write_text(done.stdout + done.stderr)
    import json

    gate = json.loads((out / "gate.json").read_text())
    return gate["verdict"], {e["id"]: e["reason"] for e in gate["failed"] + gate["errored"]}


def texts(folder: Path) -> list[tuple[str, bytes]]:
    """Every file under ``folder`` (and every member of every zip), as bytes."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found.append((str(path.relative_to(folder)), data))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                found += [(f"{path.relative_to(folder)}!{name}", archive.read(name)) for name in archive.namelist()]
    return found


def test_no_canary_of_the_env_file_reaches_any_output(sandbox: "Sandbox", tmp_path: Path) -> None:
    tokens = canary_state(sandbox, tmp_path / "state")
    env = {**sandbox.env, "SANDBOX_STATE_DIR": str(tmp_path / "state")}
    out = tmp_path / "out"

    failed: dict[str, str] = {}
    for phase in ("predeploy", "postdeploy", "rollback"):
        verdict, reasons = run(env, out / phase, phase)
        assert verdict == "NO-GO", (out / phase / "terminal.txt").read_text()[-3000:]
        failed |= reasons
    report = subprocess.run(
        [sys.executable, "-m", "gonogo.report", "build", f"--reports={out / 'postdeploy'}",
         f"--results={out / 'postdeploy' / 'allure'}", f"--gate-file={out / 'postdeploy' / 'gate.json'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert report.returncode == 0, report.stdout + report.stderr

    # the canaries were used: a check of each subject that reads one failed on it
    subjects = {check.split(".", 1)[0] for check in failed}
    assert {"database", "migrations", "restore", "smoke"} <= subjects, sorted(failed)
    assert "password authentication failed" in failed["database.accepts_connection"], failed
    written = (tmp_path / "state" / ".env.sandbox").read_bytes()  # the search finds each token where it is
    assert all(token.encode() in written for token in tokens.values())
    leaks = [f"{key} in {where}" for where, data in texts(out) for key, token in tokens.items()
             if token.encode() in data]
    assert not leaks, leaks[:20]
    assert any(p.suffix == ".html" for p in (out / "postdeploy").rglob("*")), "the report was rendered"
