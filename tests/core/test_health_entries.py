"""``[[health]]`` entries judged by the real checks/test_health.py against real loopback HTTP servers (issue 22).

Item 5: a body judged by a regular expression (``body``) or by a whole JSON value of any type (``json_value``),
beside the keys of an object (``json``); keys that contradict each other are a profile error of one line.
Item 7: the latency check weighs what the entry's ``max_ms_severity`` says, and a wrong status is the status
check's failure only (the latency check is skipped as dependent on it), unless the status check saw the right
one: a flapping endpoint is the latency check's failure, since nothing else reports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def health(name: str, url: str, **keys: str) -> str:
    """One ``[[health]]`` entry; ``keys`` are TOML values as written."""
    return "\n".join([f'[[health]]\nname = "{name}"\nurl = "{url}"', *(f"{k} = {v}" for k, v in keys.items())]) + "\n"


def profile(*entries: str) -> str:
    return '[environment]\nrelease = "1.4.2"\n\n' + "\n".join(entries)


# -- item 5: the body by a regular expression or a whole JSON value ---------------------------------

BODIES = {
    "/true": "true", "/false": "false", "/one": "1", "/list": '["db", "cache"]', "/text": "OK: all 3 components up",
    "/html": "<html><body>Down for maintenance</body></html>", "/object": '{"status": "ok", "workers": 1}',
}


def test_a_body_is_judged_by_a_regex_or_a_json_value_of_any_type(run_gate, stub_server, health_module):
    for path, body in BODIES.items():
        stub_server.routes[path] = (200, body)
    url = stub_server.url
    run = run_gate(health_module, profile=profile(
        health("true", url("/true"), json_value="true"),
        health("false", url("/false"), json_value="true"),
        health("one", url("/one"), json_value="true"),              # 1 is not true
        health("list", url("/list"), json_value='["db", "cache"]'),
        health("text", url("/text"), body=r"'^OK: all \d+ components up$'"),
        health("html", url("/html"), body="'^OK'"),
        health("not-json", url("/html"), json_value="true"),
        health("object", url("/object"), json='{ status = "ok" }', body="'\"workers\": [1-9]'"),
        health("object-bool", url("/object"), json="{ workers = true }"),  # 1 is not true inside an object either
    ))

    assert run.gate["verdict"] == "NO-GO", run.log
    passed = {e.removeprefix("health.endpoint_healthy[").rstrip("]") for e in run.gate["passed"]}
    assert passed == {"true", "list", "text", "object"}, run.log
    failed = {e["id"].removeprefix("health.endpoint_healthy[").rstrip("]"): e["reason"] for e in run.gate["failed"]}
    but = "body: expected a body that says healthy, got status 200 but "
    assert failed == {
        "false": f"false {but}the body is false (expected true)",
        "one": f"one {but}the body is 1 (expected true)",
        "html": f"html {but}the body does not match '^OK': '<html><body>Down for maintenance</body></html>'",
        "not-json": f"not-json {but}the body is not JSON (expected true): '<html><body>Down for maintenance</body></html>'",
        "object-bool": f"object-bool {but}workers: 1 (expected True)",
    }, run.log


@pytest.mark.parametrize(("keys", "line"), [
    pytest.param({"json": '{ status = "ok" }', "json_value": "true"},
                 "[[health]] api: json_value compares the whole body, json the keys of an object: give one of them",
                 id="json-and-json_value"),
    pytest.param({"components_key": '"components"', "json_value": '{ status = "ok" }'},
                 "[[health]] api: json_value compares the whole body, components_key reads an object: give one of them",
                 id="components_key-and-json_value"),
    pytest.param({"method": '"HEAD"', "body": "'ok'"},
                 '[[health]] api: method = "HEAD" gets no body, so body can never hold: use GET, or drop them',
                 id="head-and-body"),
    pytest.param({"body": "'(ok'"},
                 " body: '(ok' is not a regular expression: missing ), unterminated subpattern at position 0",
                 id="body-not-a-regex"),
    pytest.param({"max_ms": "500", "max_ms_severity": '"fatal"'},
                 " max_ms_severity: input should be 'blocker', 'critical' or 'warning' (got 'fatal')",
                 id="max_ms_severity-unknown"),
])
def test_health_keys_that_contradict_each_other_are_one_line(run_gate, health_module, keys, line):
    run = run_gate(health_module, profile=profile(health("api", "http://127.0.0.1:9/health", **keys)))

    said = run.error_line()
    assert said.startswith("ERROR: environments/dev.toml: [") and said.endswith(line), run.log  # the file and the key


# -- item 7: the latency budget's severity, and the latency after the status -------------------------


def serve(statuses: list[int], delay_s: float = 0.0) -> Iterator[str]:
    """A real loopback server answering ``{"status": "ok"}`` after ``delay_s``, with the next of ``statuses`` (the
    last one again and again)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            time.sleep(delay_s)
            self.send_response(statuses.pop(0) if len(statuses) > 1 else statuses[0])
            self.send_header("Content-Length", "16")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


@pytest.fixture
def slow_server() -> Iterator[str]:
    """Answers 200 after 300 ms."""
    yield from serve([200], delay_s=0.3)


@pytest.fixture
def flapping_server() -> Iterator[str]:
    """Answers 200 once (the status check's request), then 502."""
    yield from serve([200, 502])


def test_the_latency_budget_weighs_what_the_entry_says(run_gate, slow_server, health_module):
    run = run_gate(health_module, profile=profile(
        health("default", slow_server, max_ms="100"),
        health("blocker", slow_server, max_ms="100", max_ms_severity='"blocker"'),
    ))

    assert run.gate["verdict"] == "NO-GO", run.log
    failed = {e["id"]: (e["severity"], e["reason"]) for e in run.gate["failed"]}
    assert set(failed) == {"health.endpoint_fast[default]", "health.endpoint_fast[blocker]"}, run.log
    assert failed["health.endpoint_fast[default]"][0] == "warning"
    severity, reason = failed["health.endpoint_fast[blocker]"]
    assert severity == "blocker" and reason.startswith("blocker latency: expected status 200 within 100 ms, got 200 in ")
    assert "blocker check failed: health.endpoint_fast[blocker]" in run.gate["reasons"], run.gate["reasons"]
    assert sorted(run.gate["passed"]) == ["health.endpoint_healthy[blocker]", "health.endpoint_healthy[default]"]


def test_a_wrong_status_is_the_status_checks_failure_alone(run_gate, stub_server, health_module):
    """A 404 or a 502 fails endpoint_healthy; endpoint_fast is skipped as dependent on it, not failed again."""
    stub_server.routes["/bad-gateway"] = (502, "Bad Gateway")
    run = run_gate(health_module, profile=profile(
        health("missing", stub_server.url("/missing"), max_ms="2000", severity='"warning"'),
        health("gateway", stub_server.url("/bad-gateway"), max_ms="2000"),
    ))

    assert run.gate["verdict"] == "NO-GO", run.log
    assert sorted(run.ids("failed")) == ["health.endpoint_healthy[gateway]", "health.endpoint_healthy[missing]"]
    skipped = {e["id"]: (e["status"], e["reason"]) for e in run.gate["skipped"]}
    assert skipped["health.endpoint_fast[missing]"] == ("dependent", (
        "dependent on health.endpoint_healthy[missing]: missing: expected status 200, got 404; "
        "no latency to judge")), skipped
    assert skipped["health.endpoint_fast[gateway]"][0] == "dependent", skipped
    assert run.gate["not_run"] == [], run.gate["not_run"]


def test_a_status_only_the_latency_check_sees_wrong_is_its_failure(run_gate, flapping_server, health_module):
    """endpoint_healthy saw 200, endpoint_fast a 502: the endpoint flaps, and nothing else reports it."""
    run = run_gate(health_module, profile=profile(health("api", flapping_server, max_ms="2000")))

    assert run.gate["passed"] == ["health.endpoint_healthy[api]"], run.log
    [failed] = run.gate["failed"]
    assert failed["id"] == "health.endpoint_fast[api]" and failed["severity"] == "warning"
    assert failed["reason"].startswith("api latency: expected status 200 within 2000 ms, got 502 in "), failed
    assert failed["reason"].endswith(" (endpoint_healthy got 200: the endpoint flaps)"), failed
