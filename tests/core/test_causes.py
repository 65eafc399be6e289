"""One line per cause (issue 22, item 8): the terminal summary and the report's first page.

A failure and the checks skipped as dependent on it are one line ("and N checks that depend on it");
failures that share a cause (the same refusing target, here a real closed loopback port under the real
checks/test_workers.py) are grouped under it; notes with the same reason are one line with their count.
``-v`` lists each in full, as before; gate.json keeps every entry and every reason.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gonogo.causes import cause

WORKERS_CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_workers.py"


def block(out: str) -> list[str]:
    """The lines of the gonogo summary (between its header and the verdict), stripped."""
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if "gonogo release gate" in line)
    end = next(i for i in range(start, len(lines)) if "VERDICT:" in lines[i])
    return [line.strip() for line in lines[start + 1:end]]


def starting(lines: list[str], *words: str) -> list[str]:
    return [line for line in lines if line.startswith(words)]


def properties(run) -> dict[str, str]:
    text = (run.allure_dir / "environment.properties").read_text(encoding="utf-8")
    return dict(line.split("=", 1) for line in text.splitlines())


# -- a failure and the checks that depend on it ---------------------------------------------------

CHAIN = """
import pytest
from gonogo import dependent, judge

pytestmark = [pytest.mark.postdeploy, pytest.mark.severity("blocker")]

def test_status():
    judge("status", False, expected=200, actual=503, where="https://shop.example.test/health")

def test_body():
    dependent("api.status", "no body to judge without the right status")

def test_headers():
    dependent("api.status", "no headers to judge without the right status")

def test_latency():
    dependent("api.status", "no latency to judge without the right status")
"""

REQUIRED = """
[environment]
release = "1.4.2"
[gate]
required = ["api"]
"""


def test_a_failure_is_one_line_with_the_checks_that_depend_on_it(run_gate):
    run = run_gate({"test_api.py": CHAIN}, profile=REQUIRED)

    assert run.gate["verdict"] == "NO-GO", run.log
    lines = block(run.out)
    assert starting(lines, "FAILED") == [
        "FAILED   blocker  api.status: status: expected 200, got 503, and 3 checks that depend on it"], run.log
    assert starting(lines, "MISSING") == [], run.log  # not said again as "required api: ... dependent"
    assert starting(lines, "because:") == [
        "because: blocker check failed: api.status, and 3 checks that depend on it "
        "(required, not judged: api.body, api.headers, api.latency)"], run.log
    # the verdict file keeps every entry and every reason
    assert [m["id"] for m in run.gate["missing"]] == ["api.body", "api.headers", "api.latency"]
    assert len(run.gate["reasons"]) == 4
    assert properties(run)["decided.by.blocking.checks"] == "api.status and 3 checks that depend on it"
    assert "decided.by.missing.required" not in properties(run)

    verbose = run_gate(None, "-v", profile=None)
    lines = block(verbose.out)
    assert len(starting(lines, "FAILED")) == 1 and "depend" not in starting(lines, "FAILED")[0], verbose.log
    assert [line.split(": ", 1)[1].split(" ")[0] for line in starting(lines, "MISSING")] == [
        "api.body", "api.headers", "api.latency"], verbose.log
    assert starting(lines, "because:") == [f"because: {r}" for r in verbose.gate["reasons"]], verbose.log
    assert "because: required api: api.latency dependent (dependent on api.status: no latency to judge without " \
           "the right status)" in lines, verbose.log


def test_a_dependent_skip_the_gate_refuses_stays_its_own_line(run_gate):
    """A blocker skipped as dependent on a failed warning did not run: never folded into the warning's line."""
    checks = """
        import pytest
        from gonogo import dependent, judge

        pytestmark = pytest.mark.postdeploy

        @pytest.mark.severity("warning")
        def test_status():
            judge("status", False, expected=200, actual=503)

        @pytest.mark.severity("blocker")
        def test_body():
            dependent("api.status", "no body")
    """
    run = run_gate({"test_api.py": checks})

    lines = block(run.out)
    assert starting(lines, "FAILED") == ["FAILED   warning  api.status: status: expected 200, got 503"], run.log
    assert len(starting(lines, "NOT RUN")) == 1 and "api.body" in starting(lines, "NOT RUN")[0], run.log
    assert starting(lines, "because:") == [f"because: {r}" for r in run.gate["reasons"]], run.log


# -- failures that share a cause: the same refused port -------------------------------------------

@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound and never listened on: every connection to it is refused, and no one takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_failures_on_the_same_refused_port_are_one_cause(run_gate, closed_port):
    profile = f"""
        [environment]
        release = "1.4.2"
        [workers]
        redis_url = "redis://127.0.0.1:{closed_port}/0"
        timeout_s = 2
    """
    run = run_gate({"test_workers.py": WORKERS_CHECKS.read_text(encoding="utf-8")}, profile=profile)

    assert run.gate["verdict"] == "NO-GO", run.log
    ids = ["workers.redis_answers", "workers.workers_answer_ping", "workers.queues_consumed"]
    assert run.ids("failed") == ids, run.log
    assert all(f"127.0.0.1:{closed_port}. Connection refused" in e["reason"] for e in run.gate["failed"]), run.log
    lines = block(run.out)
    cause_words = f"127.0.0.1:{closed_port} refused the connection"
    assert starting(lines, "FAILED") == [
        f"FAILED   blocker  {cause_words}: 3 checks (workers.redis_answers [SMK-8], "
        "workers.workers_answer_ping [SMK-7], workers.queues_consumed [SMK-7])"], run.log
    assert starting(lines, "because:") == [
        f"because: {cause_words}: blocker checks failed: workers.redis_answers, workers.workers_answer_ping; "
        "critical check failed: workers.queues_consumed"], run.log
    assert properties(run)["decided.by.blocking.checks"] == f"{cause_words}: {', '.join(ids)}"
    # each check's Allure result keeps its own reason
    messages = [r["statusDetails"]["message"] for r in run.allure_results() if r["status"] == "failed"]
    assert len(messages) == 3 and all("Connection refused" in m for m in messages)

    verbose = run_gate(None, "-v", profile=None)
    lines = block(verbose.out)
    full = starting(lines, "FAILED")
    assert [line.split()[2] for line in full] == ids, verbose.log
    assert all("Connection refused" in line for line in full), verbose.log
    assert starting(lines, "because:") == [f"because: {r}" for r in verbose.gate["reasons"]], verbose.log


# -- notes: by reason, with their count -----------------------------------------------------------

NOTES = """
import pytest
from gonogo.skips import not_applicable

pytestmark = [pytest.mark.postdeploy, pytest.mark.severity("warning")]

@pytest.mark.parametrize("n", range(12))
def test_media(n):
    not_applicable("not applicable: [backups] media_pattern is not set")

def test_schedule():
    not_applicable("not applicable: [backups] schedule is not set")

def test_dump():
    pass
"""


def test_notes_with_the_same_reason_are_one_line_with_their_count(run_gate):
    run = run_gate({"test_backups.py": NOTES})

    assert run.gate["verdict"] == "GO", run.log
    notes = starting(block(run.out), "note:")
    assert notes == [
        "note: 12 checks not applicable: [backups] media_pattern is not set (backups.media[0], backups.media[1], "
        "backups.media[2], backups.media[3], backups.media[4] and 7 more)",
        "note: backups.schedule not applicable: [backups] schedule is not set"], run.log
    assert len([e for e in run.gate["skipped"] if e["status"] == "not-applicable"]) == 13

    verbose = run_gate(None, "-v", profile=None)
    notes = starting(block(verbose.out), "note:")
    assert len(notes) == 13, verbose.log
    assert "note: backups.media[11] not applicable: [backups] media_pattern is not set" in notes, verbose.log


# -- the cause a reason names ---------------------------------------------------------------------

@pytest.mark.parametrize(("reason", "expected"), [
    ("redis ping: expected PONG, got no answer after 2 ms: ConnectionError: Error 111 connecting to 127.0.0.1:6379. "
     "Connection refused.", "127.0.0.1:6379 refused the connection"),
    ('migrations read: expected ..., got OperationalError: connection failed: connection to server at "10.0.0.5", '
     "port 5432 failed: Connection refused", "10.0.0.5:5432 refused the connection"),
    ("ready status: expected 200, got no answer: not asked: 127.0.0.1:8443 did not answer GET https://shop.example.org/"
     "health: ReadTimeoutError", "127.0.0.1:8443 did not answer"),
    ("page: expected 200, got no answer after 5001 ms: ConnectTimeoutError: connect to https://shop.example.org/ timed "
     "out", "shop.example.org:443 did not answer"),
    ("engine: the Docker engine at unix:///var/run/docker.sock is unreachable: FileNotFoundError: No such file or "
     "directory; Connection refused", "unix:///var/run/docker.sock refused the connection"),
    ('restore: expected the table, got UndefinedTable: relation "orders" does not exist', "no table orders"),
    ("migrations table: expected the table django_migrations in database shop, got no table django_migrations in "
     "shop (search_path public)", "no table django_migrations"),
    # two targets: which one refused is not said, so it is no shared cause
    ("sync: http://10.0.0.1:80/a then http://10.0.0.2:80/b: Connection refused", None),
    # no target at all, or no failure to connect: the reason is its own cause
    ("ready status: expected 200, got no answer after 1 ms: NewConnectionError: [Errno 111] Connection refused", None),
    ("ready status: expected 200, got 503 from https://shop.example.org/health", None),
    ("beat tick: expected a tick within 300 s, got 12:30:01 (timeout_s 5)", None),
])
def test_the_cause_a_reason_names(reason, expected):
    named = cause(reason)
    assert (named[1] if named else None) == expected


def test_health_endpoints_on_the_same_refused_port_are_one_cause(run_gate, closed_port, health_module):
    """The real checks/test_health.py: an HTTP failure's reason names the address it asked, so endpoints behind
    one refusing port are one line (their latency checks skipped as dependent on them, said on it)."""
    entries = "".join(f'[[health]]\nname = "e{i}"\nurl = "http://127.0.0.1:{closed_port}/health/{i}"\nmax_ms = 500\n'
                      for i in range(3))
    run = run_gate(health_module, profile=f'[environment]\nrelease = "1.4.2"\n\n{entries}')

    assert run.gate["verdict"] == "NO-GO", run.log
    assert all(e["reason"].endswith(f"Connection refused (connecting to 127.0.0.1:{closed_port})")
               for e in run.gate["failed"]), run.log
    assert starting(block(run.out), "FAILED") == [
        (f"FAILED   blocker  127.0.0.1:{closed_port} refused the connection: 3 checks (health.endpoint_healthy[e0], "
         "health.endpoint_healthy[e1], health.endpoint_healthy[e2]), and 3 checks that depend on them")], run.log
