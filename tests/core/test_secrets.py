"""Secrets the first masking missed: env-file values, escaped forms, URL parts, collection errors,
node ids, logged tracebacks, Allure files written during the run, the HTTP probe's Host header, and
short or numeric values that blinded unrelated text.

The end-to-end tests grep every output of a run for each secret (stdout, stderr, gate.json, a JUnit
XML, a log file, every Allure result and the rendered Allure report); each output also has a positive
control, a marker the same check wrote next to the secret (``MARK ***``), so that a grep of an empty
or unreadable output cannot pass.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import subprocess
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gonogo.probes.http import fetch
from gonogo.secrets import MASK, Masker

REPO = Path(__file__).resolve().parents[2]
REPORT_TOOL = REPO / "reports" / "node_modules" / ".bin" / "allure"
REPORT_CONFIG = REPO / "reports" / "allurerc.mjs"

# -- secrets and the profile of the main run ------------------------------------------------------

ENV_ONLY = "EnvOnly-Zx81-secret"  # in the env file, never referenced by the profile
PUBLIC_NOTE = "public-visible-note"  # in the env file, listed public
WEIRD = "Qv7\\Kp\"Wm'Rt\x07Yz-tail"  # a backslash, both quotes and a control character
DSN_PASSWORD = "DsnPart-Pw-4821"
DSN = f"postgresql://app:{DSN_PASSWORD}@db.internal:5432/shop?sslmode=require"
HOOK_SIG = "HookSig-5521-q"
HOOK_URL = f"https://hooks.example.test/notify?channel=ops&sig={HOOK_SIG}"
HOOK2_URL = "https://hooks.example.test/notify?channel=ops&sig=OtherSig-9034-w"
YEAR = str(dt.date.today().year)  # a port that happens to equal the year of every timestamp

ENV_FILE = f"""
GX_ENV_ONLY={ENV_ONLY}
GX_PUBLIC_NOTE={PUBLIC_NOTE}
DEBUG=False
GX_PORT={YEAR}
"""

PROFILE = """
[environment]
release = "${GX_RELEASE}"
public_domain = "shop.example.test"
env_file = "dev.env"
public_variables = ["GX_RELEASE", "GX_PUBLIC_NOTE"]

[database]
dsn = "${GX_DSN}"

[[health]]
name = "hook"
url = "${GX_HOOK_URL}"

[[health]]
name = "hook2"
url = "${GX_HOOK2_URL}"

[[health]]
name = "local"
url = "http://127.0.0.1:${GX_PORT}/health/"

[smoke]
base_url = "https://shop.example.test"
user = "demo"
password = "${GX_WEIRD}"
"""

ENVIRON = {"GX_RELEASE": "rel-4f2a9e1", "GX_DSN": DSN, "GX_HOOK_URL": HOOK_URL, "GX_HOOK2_URL": HOOK2_URL,
           "GX_WEIRD": WEIRD}

CHECKS = """
import logging
from urllib.parse import parse_qs, urlsplit

import gonogo
from gonogo.plugin import ENVIRONMENT

log = logging.getLogger("ops")


def pytest_generate_tests(metafunc):
    if "endpoint" in metafunc.fixturenames:  # ids built from the URL: one holds a token
        metafunc.parametrize("endpoint", metafunc.config.stash[ENVIRONMENT].profile.health, ids=lambda entry: entry.url)


def test_env_file(gonogo_env):
    values = gonogo_env.env_file_values
    print(f"PUBLIC-MARK {values['GX_PUBLIC_NOTE']} debug={values['DEBUG']}")
    print(f"built {values['GX_PORT']}-11-23T10:00 on port {values['GX_PORT']}")
    gonogo.attach("env", f"ENVONLY-MARK {values['GX_ENV_ONLY']}")
    assert not values["GX_ENV_ONLY"], f"ENVONLY-MARK {values['GX_ENV_ONLY']}"


def test_weird(profile):
    password = profile.smoke.password.get_secret_value()
    gonogo.attach("weird", {"WEIRD-MARK": password}, kind="json")
    log.warning("WEIRD-MARK %r", password)
    assert password == "x", f"WEIRD-MARK {password}"


def test_url_parts(profile):
    password = urlsplit(profile.database.dsn.get_secret_value()).password
    sig = parse_qs(urlsplit(profile.health[0].url).query)["sig"][0]
    assert not password, f"PARTS-MARK {password} and {sig}"


def test_hook(endpoint):
    try:
        raise ConnectionError(f"EXC-MARK {endpoint.url}")
    except ConnectionError:
        log.exception("LOGEXC-MARK unreachable")
    assert endpoint.name == "local", f"HOOK-MARK {endpoint.name} is not local"
"""

#: another plugin that writes a secret to the terminal, and logs at the very end of the run, outside
#: any check, where Python's last-resort handler writes to stderr
CONFTEST = """
import logging

from gonogo.plugin import ENVIRONMENT

log = logging.getLogger("late")


def pytest_terminal_summary(terminalreporter, config):
    env = config.stash.get(ENVIRONMENT, None)
    if env is not None:
        terminalreporter.write_line(f"SUMMARY-MARK {env.env_file_values['GX_ENV_ONLY']}")


def pytest_unconfigure(config):
    env = config.stash.get(ENVIRONMENT, None)
    if env is None:
        return
    secret = env.env_file_values["GX_ENV_ONLY"]
    log.error("STDERR-MARK %s", secret)
    try:
        raise ConnectionError(f"STDERR-MARK {env.profile.smoke.password.get_secret_value()}")
    except ConnectionError:
        log.exception("late failure")
"""

MAIN_SECRETS = (ENV_ONLY, WEIRD, DSN_PASSWORD, HOOK_SIG, HOOK_URL, HOOK2_URL, DSN)
#: per output: what a check wrote next to a secret, as the masker must leave it
MAIN_CONTROLS = {
    "stdout": ["ENVONLY-MARK ***", "WEIRD-MARK ***", "PARTS-MARK *** and ***", "EXC-MARK ***", "test_hook[***]",
               f"PUBLIC-MARK {PUBLIC_NOTE} debug=False", f"built {YEAR}-11-23T10:00 on port ***", "SUMMARY-MARK ***"],
    "stderr": ["STDERR-MARK ***", "ConnectionError: STDERR-MARK ***"],
    "gate.json": ["ENVONLY-MARK ***", "WEIRD-MARK ***", "PARTS-MARK *** and ***", "hook[***]"],
    "junit.xml": ["ENVONLY-MARK ***", "WEIRD-MARK ***", "PARTS-MARK *** and ***", "test_hook[***]"],
    "run.log": ["LOGEXC-MARK unreachable", "EXC-MARK ***", "WEIRD-MARK '***'"],
    "allure-results": ["ENVONLY-MARK ***", "WEIRD-MARK ***", "PARTS-MARK *** and ***", "EXC-MARK ***"],
    "allure-report": ["ENVONLY-MARK ***", "WEIRD-MARK ***", "PARTS-MARK *** and ***", "EXC-MARK ***"],
}
#: the log file is appended to: under -n every worker opens it too, and "w" would let them clobber it
REPORT_ARGS = ("-rA", "-o", "log_cli=true", "--junitxml=reports/junit.xml", "--log-file=reports/run.log",
               "--log-file-level=INFO", "--log-file-mode=a")


# -- the grep ---------------------------------------------------------------------------------------


def variants(secret: str) -> set[str]:
    """The forms a secret takes in the outputs: as is, escaped in a repr, escaped in JSON."""
    return {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}


def render_report(results: Path, output: Path) -> None:
    """Render the Allure results with Allure Report 3, as ./run demo does."""
    if not REPORT_TOOL.exists():
        pytest.fail(f"Allure Report 3 is not installed ({REPORT_TOOL} is missing): run ./run setup, "
                    "or `cd reports && npm install` (needs Node.js and npm)", pytrace=False)
    done = subprocess.run([str(REPORT_TOOL), "generate", str(results), "--config", str(REPORT_CONFIG), "-o", str(output)],
                          capture_output=True, text=True, timeout=180, cwd=results.parent)
    assert done.returncode == 0, f"allure generate failed:\n{done.stdout}\n{done.stderr}"
    # the report must be plain files (test results as JSON), not data packed into index.html
    assert list((output / "data" / "test-results").glob("*.json")), sorted(p.name for p in output.iterdir())


def _files(folder: Path) -> list[tuple[str, str]]:
    assert folder.is_dir(), f"{folder} was not written"
    return [(str(p.relative_to(folder)), p.read_bytes().decode("utf-8", errors="replace"))
            for p in sorted(folder.rglob("*")) if p.is_file()]


def output(run, name: str) -> list[tuple[str, str]]:
    """One output of a run, as (file, text) pairs: stdout, stderr, a file under reports/, the Allure
    results, or the Allure report rendered from them."""
    if name in ("stdout", "stderr"):
        return [(name, run.out if name == "stdout" else run.err)]
    if name == "allure-results":
        return _files(run.allure_dir)
    if name == "allure-report":
        report = run.root / "rendered-report"
        render_report(run.allure_dir, report)
        return _files(report)
    path = run.reports / name
    assert path.is_file(), f"the run wrote no reports/{name}\n{run.log}"
    return [(name, path.read_text(encoding="utf-8"))]


def assert_nowhere(run, secrets: tuple[str, ...], controls: Mapping[str, list[str]]) -> None:
    """No form of any secret in the outputs named by ``controls``, each of which holds its markers.

    XML and HTML entities are decoded too (``&quot;``), so an escaped secret cannot hide.
    """
    for name, markers in controls.items():
        assert markers, f"{name}: a grep without a positive control proves nothing"
        views = [(file, view) for file, text in output(run, name) for view in {text, html.unescape(text)}]
        for marker in markers:
            assert any(marker in view for _, view in views), f"positive control {marker!r} not in {name}\n{run.log}"
        for secret in secrets:
            for form in variants(secret):
                where = sorted({file for file, view in views if form in view})
                assert not where, f"{secret!r} (as {form!r}) in {name}: {where}"


@pytest.fixture
def env_file(pytester: pytest.Pytester) -> Path:
    """environments/dev.env of the run (the profile's env file)."""
    path = pytester.path / "environments" / "dev.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ENV_FILE.lstrip("\n"), encoding="utf-8")
    return path


# -- items 10, 11, 13, 14 (node ids, log.exception) and 16, end to end --------------------------------


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_secrets_of_env_file_escapes_url_parts_node_ids_and_tracebacks_are_nowhere(run_gate, env_file, workers):
    run = run_gate({"test_ops.py": CHECKS, "conftest.py": CONFTEST}, *REPORT_ARGS, *workers,
                   profile=PROFILE, environ=ENVIRON)

    assert run.ret == 1, run.log
    assert sorted(run.ids("failed")) == sorted(["ops.env_file", "ops.weird", "ops.url_parts", "ops.hook[***]",
                                                "ops.hook[***-2]"]), run.log
    assert_nowhere(run, MAIN_SECRETS, MAIN_CONTROLS)
    assert run.gate["started_at"].startswith(f"{YEAR}-")  # a numeric value does not blind timestamps


def test_values_of_the_env_file_are_secrets_unless_public_or_empty_words(run_gate, env_file):
    """Every env-file value is a secret, except public variables and values like False."""
    env_file.write_text(env_file.read_text() + "GX_EMPTY=\nGX_FLAG=off\nGX_NONE=None\n", encoding="utf-8")
    run = run_gate({"test_ops.py": """
        def test_env(gonogo_env):
            values = gonogo_env.env_file_values
            print(f"ENV-MARK {values['GX_ENV_ONLY']} note={values['GX_PUBLIC_NOTE']}")
            print(f"words: debug=False flag=off none=None")
            assert not values["GX_ENV_ONLY"], f"ENVONLY-MARK {values['GX_ENV_ONLY']}"
    """}, "-rA", profile=PROFILE, environ=ENVIRON)

    assert f"ENV-MARK *** note={PUBLIC_NOTE}" in run.out, run.log
    assert "words: debug=False flag=off none=None" in run.out  # no information: never registered
    assert run.gate["failed"][0]["reason"] == "AssertionError: ENVONLY-MARK ***"
    assert ENV_ONLY not in run.out + run.err


# -- item 11 -----------------------------------------------------------------------------------------


def test_escaped_forms_of_a_secret_are_masked(run_gate, env_file):
    """A secret with a backslash, quotes and a control character, in reprs, JSON and log records."""
    run = run_gate({"test_ops.py": """
        import json, logging
        import gonogo

        def test_weird(profile):
            password = profile.smoke.password.get_secret_value()
            logging.getLogger("ops").warning("REPR-MARK %r", password)
            print("JSON-MARK", json.dumps({"pw": password}))
            assert [password] == ["x"]
    """}, "-rA", "--junitxml=reports/junit.xml", profile=PROFILE, environ=ENVIRON)

    assert run.ids("failed") == ["ops.weird"], run.log
    assert_nowhere(run, (WEIRD,), {
        "stdout": ["REPR-MARK '***'", 'JSON-MARK {"pw": "***"}', "['***'] == ['x']"],
        "gate.json": ["['***'] == ['x']"],
        "junit.xml": ["['***'] == ['x']"],
    })


# -- item 12 -----------------------------------------------------------------------------------------

ALLURE_CHECKS = """
import os
import pathlib

import allure


def test_a_leaks(profile):
    password = profile.smoke.password.get_secret_value()
    allure.attach(f"ATTACH-MARK {password}", name="raw")  # allure itself, not gonogo.attach
    evidence = pathlib.Path("evidence.txt")
    evidence.write_text(f"FILE-MARK {password}", encoding="utf-8")
    allure.attach.file(str(evidence), name="file")
    assert password == "x", f"STATUS-MARK {password}"


def test_b_results_on_disk_now(profile, pytestconfig):
    secret = profile.smoke.password.get_secret_value()
    results = pathlib.Path(pytestconfig.option.allure_report_dir)
    texts = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in results.iterdir() if p.is_file()}
    for marker in ("STATUS-MARK ***", "ATTACH-MARK ***", "FILE-MARK ***"):
        assert any(marker in text for text in texts.values()), f"{marker!r} not on disk yet: nothing checked"
    leaked = sorted(name for name, text in texts.items() if secret in text)
    assert not leaked, f"the secret is on disk while the run goes on: {leaked}"
"""
ALLURE_PROFILE = PROFILE.replace("${GX_WEIRD}", "${GX_SECRET}")
ALLURE_SECRET = "Allure-Pw-6613-secret"


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadfile"]], ids=["serial", "xdist"])
def test_allure_results_are_masked_as_they_are_written(run_gate, env_file, workers):
    """A later check of the same module (same worker: loadfile) reads what is on disk already."""
    run = run_gate({"test_ops.py": ALLURE_CHECKS}, "-rA", *workers, profile=ALLURE_PROFILE,
                   environ={**ENVIRON, "GX_SECRET": ALLURE_SECRET})

    assert run.ids("failed") == ["ops.a_leaks"], run.log
    assert "PASSED test_ops.py::test_b_results_on_disk_now" in run.out, run.log


def test_a_run_killed_before_its_end_leaves_no_secret_in_the_allure_results(run_gate, env_file):
    """os._exit: no end-of-session scrub ever runs; what is on disk is what was written."""
    run = run_gate({"test_ops.py": ALLURE_CHECKS + "\n\ndef test_c_killed():\n    os._exit(3)\n"},
                   profile=ALLURE_PROFILE, environ={**ENVIRON, "GX_SECRET": ALLURE_SECRET})

    assert run.ret == 3 and run.gate_text is None, run.log
    assert_nowhere(run, (ALLURE_SECRET,), {
        "stdout": ["test_ops.py"],
        "allure-results": ["STATUS-MARK ***", "ATTACH-MARK ***", "FILE-MARK ***"],
    })


# -- item 14: collection errors -----------------------------------------------------------------------


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_collection_error_does_not_print_the_secret(run_gate, env_file, workers):
    run = run_gate({"conftest.py": CONFTEST, "test_broken.py": """
        import os

        raise RuntimeError(f"COLLECT-MARK cannot reach {os.environ['GX_DSN']} as {os.environ['GX_WEIRD']}")
    """}, "--junitxml=reports/junit.xml", *workers, profile=PROFILE, environ=ENVIRON)

    assert run.ret == 1 and run.gate["counts"]["collection_errors"] == 1, run.log
    marker = "COLLECT-MARK cannot reach *** as ***"
    assert_nowhere(run, (DSN, WEIRD, DSN_PASSWORD), {
        "stdout": [marker], "stderr": ["STDERR-MARK ***"], "gate.json": [marker], "junit.xml": [marker],
    })


# -- item 15 -----------------------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    received: list[dict[str, str]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.received.append({k: v for k, v in self.headers.items()})
        body = json.dumps({"status": "ok", "host": self.headers["Host"]}).encode()  # as an error page may
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass


@pytest.fixture
def recording_server() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """An HTTP server on 127.0.0.1 that records the headers of every request it receives."""
    received: list[dict[str, str]] = []
    handler = type("Handler", (_Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


HTTP_PASSWORD = "Basic-Pw-3318:x@y"


def test_http_probe_sends_url_credentials_as_basic_auth_never_in_host(run_gate, recording_server):
    port, received = recording_server
    profile = """
    [environment]
    release = "1.0"
    public_variables = ["GX_HTTP_PORT"]

    [[health]]
    name = "basic"
    url = "http://ops:${GX_HTTP_PW}@127.0.0.1:${GX_HTTP_PORT}/health/"
    """
    run = run_gate({"test_ops.py": """
        import gonogo
        from gonogo.probes.http import fetch

        def test_basic(profile):
            fact = fetch(profile.health[0].url)
            gonogo.attach("response", f"HTTP-MARK {fact.evidence()}")
            assert fact.status == 204, f"HTTP-MARK {fact!r}"
    """}, "--junitxml=reports/junit.xml", profile=profile,
        environ={"GX_HTTP_PW": "Basic-Pw-3318%3Ax%40y", "GX_HTTP_PORT": str(port)})

    assert run.ids("failed") == ["ops.basic"], run.log
    (headers,) = received
    assert headers["Host"] == f"127.0.0.1:{port}"
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"ops:{HTTP_PASSWORD}".encode()).decode()
    marker = f"HTTP-MARK GET http://ops:***@127.0.0.1:{port}/health/ -> 200"
    assert_nowhere(run, ("Basic-Pw-3318%3Ax%40y",), {
        "stdout": [marker], "gate.json": [marker], "junit.xml": [marker], "allure-results": [marker],
        "allure-report": [marker],
    })


def test_http_probe_host_header_keeps_only_host_and_port(recording_server):
    port, received = recording_server
    fact = fetch(f"http://127.0.0.1:{port}/x?y=1")
    also = fetch(f"http://ops@127.0.0.1:{port}/x", headers={"Authorization": "Bearer given"})

    assert fact.status == 200 and also.status == 200, (fact, also)
    assert received[0]["Host"] == f"127.0.0.1:{port}" and "Authorization" not in received[0]
    assert received[1]["Host"] == f"127.0.0.1:{port}" and received[1]["Authorization"] == "Bearer given"


# -- item 16 -----------------------------------------------------------------------------------------


def test_short_and_numeric_values_are_masked_only_where_they_stand_alone(run_gate, env_file):
    profile = PROFILE + '\n[backups]\ndir = "/b"\npattern = "*.gz"\n' \
        'restore_into = "dbname=${GX_PIN}"\n'  # a DSN libpq reads; its database name interpolated
    run = run_gate({"test_ops.py": """
        def test_numbers(profile):
            port = profile.health[2].url.split(":")[2].split("/")[0]
            pin = profile.backups.restore_into.get_secret_value().removeprefix("dbname=")
            print(f"NUM-MARK built {port}-11-23T10:00 v1.{port}.3 id={port}7 on port {port}, pin {pin}!")
            assert False, f"NUM-MARK port {port}"
    """}, profile=profile, environ={**ENVIRON, "GX_PORT": YEAR, "GX_PIN": "abcd"})

    assert f"NUM-MARK built {YEAR}-11-23T10:00 v1.{YEAR}.3 id={YEAR}7 on port ***, pin ***!" in run.out, run.log
    assert run.gate["failed"][0]["reason"] == "AssertionError: NUM-MARK port ***"
    assert run.gate["started_at"].startswith(f"{YEAR}-")
    results = run.allure_results()
    assert results and all(isinstance(r["start"], int) for r in results)


# -- the masker alone -------------------------------------------------------------------------------


def test_masker_skips_values_without_information():
    masker = Masker()
    masker.add_all(["", "True", "false", "YES", "no", "On", "off", "None", "null", "NULL"])
    assert not masker.active


def test_masker_masks_repr_and_json_escaped_forms():
    masker = Masker()
    masker.add(WEIRD)
    for form in variants(WEIRD):
        assert masker.mask(f"<{form}>") == f"<{MASK}>", form


def test_masker_masks_the_parts_of_a_url():
    masker = Masker()
    masker.add("postgresql://app:p%40ss-word-1@db:5432/x?sslmode=require&token=tok-123456&n=12&pw=a1")
    text = "p%40ss-word-1 p@ss-word-1 tok-123456 required sslmode=require 12 a1 app"
    assert masker.mask(text) == "*** *** *** required sslmode=require 12 a1 app"


@pytest.mark.parametrize(("text", "masked"), [
    ("port 2026, then", "port ***, then"),
    ("2026.", "2026."),
    ("2026-11-23", "2026-11-23"),
    ("1.2026", "1.2026"),
    ("x2026", "x2026"),
    ("12026", "12026"),
    ("h:2026/", "h:2026/"),
    ("(2026)", "(***)"),
    ("'abcd'", "'***'"),
    ("abcde", "abcde"),
    ("xabcdx", "xabcdx"),
    ("secret-value-long inside", "*** inside"),
    ("insecret-value-longer", "in***er"),
])
def test_masker_masks_short_and_numeric_values_only_where_they_stand_alone(text, masked):
    masker = Masker()
    masker.add_all(["2026", "abcd", "xyz", "secret-value-long"])
    assert masker.mask(text) == masked
