"""Shared helpers of the plugin's self-tests.

``run_gate`` writes an environment profile and a check module into a fresh pytester folder and runs
pytest on it in a subprocess (where the gonogo plugin is active, as in real use). What it returns,
a :class:`GateRun`, gives the exit code, the terminal output, the verdict file (``run.gate``:
validated against gonogo/data/gate.schema.json every time it is read) and the files under ``reports/``.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "gonogo" / "data" / "gate.schema.json"

#: Enough of a profile for most cases: the release is what proves which profile was loaded.
PROFILE = """
[environment]
release = "1.4.2"
public_domain = "shop.example.test"
"""

#: Outside variables that would change what the inner pytest does: none of them may leak in.
HERMETIC = (
    "GONOGO_ENV", "CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "PYTEST_ADDOPTS", "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID",
)


@cache
def gate_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def validate_gate(document: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless ``document`` follows gate.schema.json."""
    jsonschema.validate(document, gate_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def load_gate(text: str | None) -> dict[str, Any]:
    """A verdict file's content, parsed and checked against the schema."""
    assert text is not None, "the run wrote no reports/gate.json"
    document = json.loads(text)
    validate_gate(document)
    return document


@dataclass
class GateRun:
    """One inner pytest run."""

    result: pytest.RunResult
    root: Path
    #: reports/gate.json as the run left it (a later run in the same folder replaces the file)
    gate_text: str | None

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def out(self) -> str:
        return self.result.stdout.str()

    @property
    def err(self) -> str:
        return self.result.stderr.str()

    @property
    def gate(self) -> dict[str, Any]:
        return load_gate(self.gate_text)

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def allure_dir(self) -> Path:
        return self.reports / "allure-results"

    def allure_results(self) -> list[dict[str, Any]]:
        """The checks' Allure results (the verdict's own result left out: see :meth:`verdict_result`)."""
        return [r for r in self._results() if r["fullName"] != "gonogo#verdict"]

    def verdict_result(self) -> dict[str, Any]:
        """The Allure result that carries the verdict (gonogo/verdict_result.py)."""
        [result] = [r for r in self._results() if r["fullName"] == "gonogo#verdict"]
        return result

    def _results(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.allure_dir.glob("*-result.json"))]

    def allure_stories(self) -> Counter[str]:
        """How many Allure results each check (its story label, e.g. ``shop.sale``) has."""
        return Counter(label["value"] for result in self.allure_results() for label in result["labels"]
                       if label["name"] == "story")

    def report_files(self) -> list[Path]:
        return sorted(p for p in self.reports.rglob("*") if p.is_file())

    def comparable(self) -> dict[str, Any]:
        """The verdict file without what differs from run to run (times, durations, worker count)."""
        volatile = {"started_at", "finished_at", "duration_s", "seconds"}

        def strip(data: Any) -> Any:
            if isinstance(data, dict):
                return {k: strip(v) for k, v in data.items() if k not in volatile}
            if isinstance(data, list):
                return [strip(v) for v in data]
            return data

        document = strip(self.gate)
        document["selection"].pop("workers", None)
        return document

    def error_line(self) -> str:
        """The one line of a usage error: exit code 4, a single non-empty line, no traceback."""
        lines = [line for line in (self.out + "\n" + self.err).splitlines() if line.strip()]
        assert self.ret == 4, self.log
        assert len(lines) == 1, self.log
        assert "Traceback" not in self.out + self.err, self.log
        return lines[0]

    def ids(self, key: str) -> list[str]:
        """The check ids listed under ``key`` of gate.json (failed, errored, waived, ...)."""
        return [entry["id"] for entry in self.gate[key]]

    @property
    def log(self) -> str:
        """Everything the run said: the message of an assertion about it (``assert ..., run.log``)."""
        return f"exit code {self.ret}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def _text(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


def write_inventory(pytester: pytest.Pytester) -> None:
    """The project's inventory.toml, from an in-process collection of its checks (gonogo.inventory)."""
    from gonogo.inventory import FILE_NAME, Collector, render

    for name in HERMETIC:
        os.environ.pop(name, None)
    collector = Collector()
    # a check module named like a test module already imported here (test_containers.py) must be the project's:
    # those names leave sys.modules for the collection (pytester puts sys.modules back afterwards); a module that
    # does not collect is left out here as in the run (where it is a collection error: NO-GO)
    names = {p.stem for p in pytester.path.rglob("*.py")}
    hidden = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    try:
        # --no-gate clears the verdict file it is given: not the project's, which a test may have left on purpose
        aside = f"--gate-file={pytester.path.parent / (pytester.path.name + '-inventory-gate.json')}"
        pytester.inline_run("--collect-only", "-q", "--no-gate", "-p", "no:cacheprovider", aside, plugins=[collector])
    finally:
        sys.modules.update(hidden)
    (pytester.path / FILE_NAME).write_text(render(collector.entries), encoding="utf-8")


@pytest.fixture
def inventory_of(pytester: pytest.Pytester):
    """Write the pytester project's inventory.toml from the checks it holds now (:func:`write_inventory`)."""
    return lambda: write_inventory(pytester)


@pytest.fixture
def run_gate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Write a profile and checks, run pytest with gonogo on them, return a :class:`GateRun`.

    ``checks``: the source of ``test_app.py`` (subject "app"), or {file name: source}.
    ``profile``: the text of ``environments/<env>.toml``, or {env name: text}, or None to write none
    (keeping the files of an earlier call, to run the same project again).
    ``env``: passed as ``--env`` (None: choose no environment on the command line).
    ``environ``: process environment variables of the run. ``args``: more pytest arguments.
    ``cache``: keep pytest's cache plugin (for ``--lf``); off by default.
    ``inventory``: write the project's inventory.toml from the checks just written (as
    ``python -m gonogo.inventory`` would); False keeps whatever inventory is there (or none).
    """
    for name in HERMETIC:
        monkeypatch.delenv(name, raising=False)

    def run(
        checks: str | Mapping[str, str] | None = None,
        *args: str,
        profile: str | Mapping[str, str] | None = PROFILE,
        env: str | None = "dev",
        environ: Mapping[str, str] | None = None,
        cache: bool = False,
        inventory: bool = True,
    ) -> GateRun:
        if isinstance(checks, str):
            checks = {"test_app.py": checks}
        for name, source in (checks or {}).items():
            path = pytester.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_text(source), encoding="utf-8")
        if checks and inventory:
            write_inventory(pytester)
        if isinstance(profile, str):
            profile = {env or "dev": profile}
        for name, text in (profile or {}).items():
            path = pytester.path / "environments" / f"{name}.toml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_text(text), encoding="utf-8")
        for key, value in (environ or {}).items():
            monkeypatch.setenv(key, value)
        options = [*([] if cache else ["-p", "no:cacheprovider"]), *(["--env", env] if env else []), *args]
        result = pytester.runpytest_subprocess(*options, timeout=120)
        gate_file = pytester.path / "reports" / "gate.json"
        return GateRun(result, pytester.path, gate_file.read_text(encoding="utf-8") if gate_file.is_file() else None)

    return run


@pytest.fixture
def gate_schema_document() -> dict[str, Any]:
    """gonogo/data/gate.schema.json, for tests that validate documents of their own."""
    return gate_schema()


class StubServer:
    """A real HTTP server on 127.0.0.1 (in a thread) whose answers a test sets per path.

    ``routes[path] = (status, body)``; every request is logged with its arrival time, so a test can
    tell whether two endpoints were probed side by side. Not a mock of gonogo: gonogo's HTTP probe
    talks to it over a real socket.
    """

    def __init__(self) -> None:
        import http.server
        import threading
        import time

        self.routes: dict[str, tuple[int, str]] = {}
        self.log: list[tuple[str, float]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, send_body: bool) -> None:
                server.log.append((self.path, time.monotonic()))
                status, body = server.routes.get(self.path, (404, '{"detail": "not found"}'))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if send_body:
                    self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub_server():
    """A real loopback HTTP server whose answers the test chooses (see :class:`StubServer`)."""
    server = StubServer()
    yield server
    server.close()


HEALTH_CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_health.py"


@pytest.fixture
def health_module() -> dict[str, str]:
    """The real checks/test_health.py, to run in a pytester project against a stub server."""
    return {"test_health.py": HEALTH_CHECKS.read_text(encoding="utf-8")}
