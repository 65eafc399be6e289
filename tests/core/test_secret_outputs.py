"""Secrets, third pass (issue 21, items 1-5): JUnit XML properties, JSON escapes of other languages' writers,
a DSN libpq cannot parse, output shown with capture off or teed, bytes reprs, multi-line secrets, the repr of a
repr, and what masking costs with 20,000 secrets.

Each end-to-end test runs pytest in a subprocess, then searches every output (the terminal, gate.json, the
JUnit XML, every file under reports/ with the Allure results, and, where named, the rendered Allure report) for
the secret in each form a writer gives it (``secret_writers.forms``); each output also holds a positive control
(``MARK ***``), so that a search of an empty output cannot pass.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import pytest
from secret_writers import forms
from test_secrets import render_report

from gonogo.probes.database import open_session
from gonogo.secrets import MASK, Masker


def outputs(run, rendered: bool = False) -> list[tuple[str, str]]:
    """(name, text) of every output of a run; XML and HTML entities decoded too (``&quot;``)."""
    found = [("stdout", run.out), ("stderr", run.err)]
    found += [(str(p.relative_to(run.root)), p.read_bytes().decode("utf-8", "replace")) for p in run.report_files()]
    if rendered:
        report = run.root / "rendered-report"
        render_report(run.allure_dir, report)
        found += [(str(p.relative_to(run.root)), p.read_bytes().decode("utf-8", "replace"))
                  for p in sorted(report.rglob("*")) if p.is_file()]
    return [(name, view) for name, text in found for view in {text, html.unescape(text)}]


def assert_masked(run, secrets: tuple[str, ...], controls: dict[str, list[str]], rendered: bool = False) -> None:
    """No form of any secret in any output; each output named in ``controls`` (a name or a file name's start)
    holds its markers."""
    texts = outputs(run, rendered)
    for where, markers in controls.items():
        views = [text for name, text in texts if name == where or name.startswith(where)]
        assert views, f"no output {where}: {[n for n, _ in texts]}\n{run.log}"
        for marker in markers:
            assert any(marker in view for view in views), f"positive control {marker!r} not in {where}\n{run.log}"
    leaks = sorted({f"{form!r} in {name}" for secret in secrets for form in forms(secret)
                    for name, text in texts if form in text})
    assert not leaks, leaks[:20]


# -- item 1: JUnit XML properties -------------------------------------------------------------------

TOKEN = "Prop-Tok-8812/q=x"
PROPS_PROFILE = """
[environment]
release = "1.0"
env_file = "dev.env"
"""
PROPS_CHECKS = """
import pytest

from gonogo.plugin import ENVIRONMENT


def pytest_generate_tests(metafunc):
    env = metafunc.config.stash.get(ENVIRONMENT, None)  # None: the inventory's collection (--no-gate)
    if "token" in metafunc.fixturenames:
        metafunc.parametrize("token", [env.env_file_values["GX_TOKEN"] if env else "none"])


def test_param(token, record_property):
    record_property("prop_mark", f"PROP-MARK {token}")
    record_property("prop_data", {"DATA-MARK": [token]})
    assert token == "x", "FAIL-MARK"


def test_direct(gonogo_env, record_xml_attribute, record_testsuite_property):
    token = gonogo_env.env_file_values["GX_TOKEN"]
    record_xml_attribute("attr_mark", f"ATTR-MARK {token}")
    record_testsuite_property("suite_mark", f"SUITE-MARK {token}")
"""


@pytest.fixture
def props_env(pytester: pytest.Pytester) -> None:
    (pytester.path / "environments").mkdir(exist_ok=True)
    (pytester.path / "environments" / "dev.env").write_text(f"GX_TOKEN={TOKEN}\n", encoding="utf-8")


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_junit_properties_are_masked(run_gate, props_env, workers):
    """gonogo_check's params and a check's record_property (record_xml_attribute and record_testsuite_property
    serially: xdist's workers have no JUnit writer)."""
    run = run_gate({"test_app.py": PROPS_CHECKS}, "-rA", "--junitxml=reports/junit.xml", "-o", "junit_family=xunit1",
                   *workers, profile=PROPS_PROFILE)

    assert run.ids("failed") == ["app.param[***]"], run.log
    junit = ["PROP-MARK ***", "{'DATA-MARK': ['***']}", "'params': {'token': '***'}"]
    if not workers:
        junit += ["ATTR-MARK ***", "SUITE-MARK ***"]
    assert_masked(run, (TOKEN,), {"reports/junit.xml": junit, "stdout": ["test_param[***]"]}, rendered=not workers)


# -- item 2: JSON escapes of PHP and Go ------------------------------------------------------------

PHP_TOKEN = "Zm9vYmFy/c2VjcmV0K3g="
GO_PASSWORD = "p&ssw0rd-Go77"
HEALTH_PROFILE = """
[environment]
release = "1.0"
env_file = "dev.env"
public_variables = ["GX_PORT"]

[[health]]
name = "php"
url = "http://127.0.0.1:${GX_PORT}/php/"
json = { status = "ok" }

[[health]]
name = "go"
url = "http://127.0.0.1:${GX_PORT}/go/"
json = { status = "ok" }
"""


def test_json_escapes_of_php_and_go_backends_are_masked(run_gate, pytester, health_module, stub_server):
    """A health body as PHP writes it (``\\/``) and as Go writes it (``\\u0026``) reaches the attachments."""
    (pytester.path / "environments").mkdir(exist_ok=True)
    (pytester.path / "environments" / "dev.env").write_text(
        f"GX_PHP_TOKEN={PHP_TOKEN}\nGX_GO_PASSWORD={GO_PASSWORD}\nGX_PORT={stub_server.port}\n", encoding="utf-8")
    stub_server.routes["/php/"] = (200, '{"status":"degraded","token":"Zm9vYmFy\\/c2VjcmV0K3g=","note":"PHP-MARK"}')
    stub_server.routes["/go/"] = (200, '{"status":"degraded","password":"p\\u0026ssw0rd-Go77","note":"GO-MARK"}')
    run = run_gate(health_module, "-m", "postdeploy", "--junitxml=reports/junit.xml", profile=HEALTH_PROFILE)

    assert sorted(run.ids("failed")) == ["health.endpoint_healthy[go]", "health.endpoint_healthy[php]"], run.log
    attachments = ['"token":"***","note":"PHP-MARK"', '"password":"***","note":"GO-MARK"']
    assert_masked(run, (PHP_TOKEN, GO_PASSWORD), {"reports/allure-results": attachments,
                                                 "rendered-report": attachments}, rendered=True)


# -- item 3: a DSN libpq cannot parse --------------------------------------------------------------

HORSE = "correct horse battery staple"
DATABASE_CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_database.py"


@pytest.mark.parametrize("key", ["database", "backups"])
def test_a_dsn_libpq_cannot_parse_is_one_line_naming_the_key_and_quotes_nothing(run_gate, key):
    """libpq's parse error quotes a word of the password ('missing "=" after "horse"'): never shown."""
    dsn = 'host=127.0.0.1 port=9 dbname=shop user=app password=${GX_DB_PASSWORD}'
    profile = f'[environment]\nrelease = "1.0"\n\n[database]\ndsn = "{dsn}"\n'
    if key == "backups":
        profile = (f'[environment]\nrelease = "1.0"\n\n[database]\ndsn = "postgresql://app@127.0.0.1:9/shop"\n\n'
                   f'[backups]\ndir = "/b"\npattern = "*.gz"\nrestore_into = "{dsn}"\n')
    run = run_gate({"test_database.py": DATABASE_CHECKS.read_text()}, "--junitxml=reports/junit.xml", profile=profile,
                   environ={"GX_DB_PASSWORD": HORSE})

    line = run.error_line()
    table = "[database] dsn" if key == "database" else "[backups] restore_into"
    assert line.startswith(f"ERROR: environments/dev.toml: {table}: libpq cannot parse it"), line
    assert run.gate["verdict"] == "NO-GO" and run.gate["exit_code"] == 4
    leaks = [(word, name) for name, text in outputs(run) for word in HORSE.split() if word in text]
    assert not leaks, leaks


def test_a_session_on_a_dsn_libpq_cannot_parse_says_so_without_its_text():
    """The probe itself (a DSN that reached it some other way): psycopg's real parse error is not passed on."""
    with open_session(f"host=127.0.0.1 port=9 password={HORSE}", connect_timeout_s=2, statement_timeout_ms=100) as session:
        fact = session.connection
    assert not fact.connected
    assert "libpq cannot parse it" in (fact.error or ""), fact
    assert not any(word in repr(fact) + fact.status_text for word in HORSE.split()), fact


# -- item 4: capture off or teed, bytes reprs, multi-line secrets, the repr of a repr ---------------

SHOWN_PROFILE = """
[environment]
release = "1.0"

[smoke]
base_url = "https://shop.example.test"
user = "demo"
password = "${GX_SECRET}"
"""
PRINTING = """
import logging
import sys


def test_prints(profile):
    secret = profile.smoke.password.get_secret_value()
    print(f"PRINT-MARK {secret}")
    sys.stderr.write(f"STDERR-MARK {secret}\\n")
    print(f"LINES-MARK {secret}", file=sys.stdout, flush=True)
    sys.stdout.writelines([f"WRITELINES-MARK {secret}\\n"])
    logging.getLogger("ops").warning("LOG-MARK %s", secret)
    assert False, "FAIL-MARK"
"""
SHOWN_SECRET = "Shown-Pw-7713-secret"


@pytest.mark.parametrize("capture", ["-s", "--capture=tee-sys", "-p no:capture"])
def test_what_a_check_prints_is_masked_with_capture_off_or_teed(run_gate, capture):
    """-s and -p no:capture print straight to the terminal, tee-sys copies there: masked all the same."""
    run = run_gate(PRINTING, *capture.split(), "-o", "log_cli=true", profile=SHOWN_PROFILE,
                   environ={"GX_SECRET": SHOWN_SECRET})

    assert run.ids("failed") == ["app.prints"], run.log
    assert_masked(run, (SHOWN_SECRET,), {"stdout": ["PRINT-MARK ***", "LINES-MARK ***", "WRITELINES-MARK ***",
                                                    "LOG-MARK ***"], "stderr": ["STDERR-MARK ***"]})


FD_WRITING = """
import os
import subprocess


def test_writes_to_the_file_descriptor(profile):
    secret = profile.smoke.password.get_secret_value()
    os.write(1, f"FD-MARK {secret}\\n".encode())
    subprocess.run(["echo", f"CHILD-MARK {secret}"], check=True)
"""


@pytest.mark.parametrize("capture", ["-s", "--capture=tee-sys"])
def test_what_reaches_file_descriptor_1_directly_is_not_masked_with_capture_off_or_teed(run_gate, capture):
    """The limit, shown: bytes written to the terminal's file descriptor by os.write or a child process never
    pass through Python with -s or tee-sys (which copies sys.stdout only), so gonogo cannot mask them."""
    run = run_gate(FD_WRITING, capture, profile=SHOWN_PROFILE, environ={"GX_SECRET": SHOWN_SECRET})

    assert run.ret == 0, run.log
    assert f"FD-MARK {SHOWN_SECRET}" in run.out and f"CHILD-MARK {SHOWN_SECRET}" in run.out, run.log
    default = run_gate(None, "-rA", profile=None, environ={"GX_SECRET": SHOWN_SECRET})  # fd capture: masked
    assert "FD-MARK ***" in default.out and "CHILD-MARK ***" in default.out, default.log
    assert SHOWN_SECRET not in default.out + default.err, default.log


BYTES_SECRET = "pässwörd-Zx81-ß"
MULTI_SECRET = "line-one-Zx81\nline-two-Qv77\nline-three-Wq55"
BACKSLASH_SECRET = "Bk\\slash-Zx81'q\"t"
SHAPES = """
import logging

import pytest

log = logging.getLogger("ops")


def _secret(profile):
    return profile.smoke.password.get_secret_value()


def test_bytes(profile):
    secret = _secret(profile)
    print("BYTES-MARK", secret.encode())
    log.warning("BYTES-MARK %r", secret.encode())
    assert secret.encode() == b"x"


def test_lines(profile):
    secret = _secret(profile)
    print("LINES-MARK", secret)
    pytest.fail(f"LINES-MARK {secret}")


def test_repr_of_repr(profile):
    secret = _secret(profile)
    print("REPR-MARK", repr(repr(secret)))
    log.warning("REPR-MARK %r", repr(secret))
    assert repr(secret) == "x"
"""


@pytest.mark.parametrize("secret", [BYTES_SECRET, MULTI_SECRET, BACKSLASH_SECRET], ids=["bytes", "lines", "repr"])
def test_bytes_reprs_each_line_of_a_secret_and_the_repr_of_a_repr_are_masked(run_gate, secret):
    """A non-ASCII secret in a bytes repr (b'p\\xc3\\xa4...'), each line of a multi-line secret where pytest shows
    it line by line ('E   line-two-...'), and a repr of a repr ('Bk\\\\\\\\slash...')."""
    run = run_gate(SHAPES, "-rA", "--junitxml=reports/junit.xml", profile=SHOWN_PROFILE,
                   environ={"GX_SECRET": secret})

    assert sorted(run.ids("failed")) == ["app.bytes", "app.lines", "app.repr_of_repr"], run.log
    lines = tuple(secret.splitlines()) if "\n" in secret else ()
    assert_masked(run, (secret, *lines), {"stdout": ["BYTES-MARK b'***'", "LINES-MARK ***", "REPR-MARK"],
                                          "reports/junit.xml": ["LINES-MARK ***"]})


# -- item 5: what masking costs ---------------------------------------------------------------------


def test_masking_costs_the_same_with_20000_secrets():
    """One automaton over every form of every secret: 1 MB masked in well under a second (one regex
    alternation of these 20,000 secrets took 15 s)."""
    many, few = Masker(), Masker()
    values = [f"tok-{i:05d}-{i * 7919 % 100003:06d}-secret" for i in range(20_000)]
    values += [f"p&ss/{i}'\"é-{i * 31:07d}" for i in range(200)]  # with characters writers escape
    many.add_all(values)
    few.add_all(values[-10:])
    text = ("a line of a log that holds nothing secret, 2026-12-07T10:00:00 status=ok\n" * 13_500) + values[123]
    many.mask("warm up")  # builds the automaton

    start = time.perf_counter()
    masked = many.mask(text)
    elapsed = time.perf_counter() - start
    assert masked.endswith(MASK) and masked.count(MASK) == 1
    assert elapsed < 0.5, f"{elapsed:.2f} s to mask {len(text)} characters with {len(values)} secrets"
    assert few.mask(values[-1]) == MASK


# -- found on the way: a check whose node id holds a secret ------------------------------------------

RENAMED_CHECKS = """
from gonogo.plugin import ENVIRONMENT


def pytest_generate_tests(metafunc):
    env = metafunc.config.stash.get(ENVIRONMENT, None)
    values = env.env_file_values if env else {"GX_TOKEN": "a", "GX_OTHER": "b"}
    if "token" in metafunc.fixturenames:
        metafunc.parametrize("token", [values["GX_TOKEN"], values["GX_OTHER"]])


def test_param(token):
    assert token
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_checks_whose_node_id_holds_a_secret_are_judged_under_their_masked_id(run_gate, pytester, workers):
    """Renamed test_param[***] and test_param[***-2] at collection: counted once each, never as left out."""
    (pytester.path / "environments").mkdir(exist_ok=True)
    (pytester.path / "environments" / "dev.env").write_text(f"GX_TOKEN={TOKEN}\nGX_OTHER=Other-Tok-5521\n")
    run = run_gate({"test_app.py": RENAMED_CHECKS}, *workers, profile=PROPS_PROFILE)

    assert run.gate["verdict"] == "GO", run.log
    assert sorted(run.gate["passed"]) == ["app.param[***-2]", "app.param[***]"], run.log
    assert run.gate["counts"]["collected"] == 2 and run.gate["left_out"] == {"checks": [], "uncollected": []}


# -- issue 22, item 11: several env files, every value of every file masked -----------------------------

LATE_TOKEN = "Late-File-Tok-4471/x"
EARLY_TOKEN = "Early-Overridden-Tok-9032"
SEVERAL_PROFILE = """
[environment]
release = "1.0"
env_file = ["dev.env", "late.env"]
"""
SEVERAL_CHECKS = """
def test_reads_each_file(gonogo_env, record_property):
    late = gonogo_env.env_file_values["GX_TOKEN"]
    first = gonogo_env.env_files[0].read_text().strip()
    print(f"PRINT-MARK {late} {first}")
    record_property("prop_mark", f"PROP-MARK {late} {first}")
    assert late == "x", f"FAIL-MARK {late} {first}"
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_secret_of_a_second_env_file_and_a_value_it_overrides_reach_no_output(run_gate, pytester, workers):
    """[environment] env_file = ["dev.env", "late.env"]: the token only in the second file (the one read) and the
    first file's value it overrides (which a check reading each file sees) are masked in every output."""
    (pytester.path / "environments").mkdir(exist_ok=True)
    (pytester.path / "environments" / "dev.env").write_text(f"GX_TOKEN={EARLY_TOKEN}\n")
    (pytester.path / "environments" / "late.env").write_text(f"GX_TOKEN={LATE_TOKEN}\n")
    run = run_gate({"test_app.py": SEVERAL_CHECKS}, "-rA", "--junitxml=reports/junit.xml", *workers,
                   profile=SEVERAL_PROFILE)

    assert run.ids("failed") == ["app.reads_each_file"], run.log
    assert_masked(run, (LATE_TOKEN, EARLY_TOKEN),
                  {"stdout": ["PRINT-MARK *** GX_TOKEN=***", "FAIL-MARK *** GX_TOKEN=***"],
                   "reports/junit.xml": ["FAIL-MARK *** GX_TOKEN=***"]})
