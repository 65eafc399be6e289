"""A target that did not answer is asked once per run (gonogo.probes.silence), against real listeners.

A blackholed port (accepting, never answering), a real HTTP server with one slow path, psycopg's real
connect to a listener that never answers, a Docker socket that never answers, and a gate run with two
xdist workers that share the record.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gonogo.probes import silence
from gonogo.probes.database import open_session
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.http import fetch

sys.path.insert(0, str(Path(__file__).parent))
from dockerd import accepting_silently  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP port that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    with accepting_silently(server):
        yield server.getsockname()[1]


@pytest.fixture
def app() -> Iterator[int]:
    """A real HTTP server: ``/slow`` answers after 3 s, every other path at once."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(3)
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_tls_handshake_that_never_completes_silences_the_target_at_once(blackhole: int) -> None:
    first = fetch(f"https://shop.localhost:{blackhole}/health/live/", timeout_s=1, resolve={"shop.localhost": "127.0.0.1"})
    started = time.monotonic()
    second = fetch(f"https://shop.localhost:{blackhole}/health/ready/", timeout_s=1, resolve={"shop.localhost": "127.0.0.1"})
    took = time.monotonic() - started

    assert first.status is None and first.elapsed_ms >= 1000, first
    assert second.status is None and took < 0.5, (second, took)
    assert second.error == (f"not asked: 127.0.0.1:{blackhole} did not answer GET https://shop.localhost:{blackhole}"
                            f"/health/live/: {first.error}"), second.error


def test_plain_http_is_silent_after_two_different_requests_time_out(blackhole: int) -> None:
    url = f"http://127.0.0.1:{blackhole}"
    first = fetch(f"{url}/a", timeout_s=0.5)
    again = fetch(f"{url}/a", timeout_s=0.5)  # the same request again: still asked (it may be that one path)
    other = fetch(f"{url}/b", timeout_s=0.5)
    third = fetch(f"{url}/c", timeout_s=0.5)

    assert [f.elapsed_ms >= 500 for f in (first, again, other)] == [True, True, True]
    assert third.error is not None and third.error.startswith(f"not asked: 127.0.0.1:{blackhole} did not answer GET")
    assert third.elapsed_ms == 0.0


def test_one_slow_path_does_not_silence_its_server(app: int) -> None:
    slow = [fetch(f"http://127.0.0.1:{app}/slow", timeout_s=0.5) for _ in range(3)]
    fast = fetch(f"http://127.0.0.1:{app}/health/", timeout_s=0.5)

    assert all("ReadTimeoutError" in (f.error or "") for f in slow), slow
    assert fast.status == 200, fast
    assert silence.silent(f"127.0.0.1:{app}") is None


def test_a_refused_port_is_not_recorded() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
    for path in ("/a", "/b", "/c"):
        assert "not asked" not in (fetch(f"http://127.0.0.1:{port}{path}", timeout_s=1).error or "")
    assert silence.silent(f"127.0.0.1:{port}") is None


def test_a_database_that_never_starts_a_session_is_asked_once(blackhole: int) -> None:
    dsn = f"postgresql://reader:secret-pw-77@127.0.0.1:{blackhole}/shop"
    with open_session(dsn, connect_timeout_s=2, statement_timeout_ms=1000) as first:
        pass
    started = time.monotonic()
    with open_session(dsn, connect_timeout_s=2, statement_timeout_ms=1000) as second:
        pass
    took = time.monotonic() - started

    assert not first.connected and "timeout" in (first.connection.error or "").lower(), first.connection
    assert not second.connected and took < 0.5, took
    error = second.connection.error or ""
    assert error.startswith(f"SilentTarget: not asked: 127.0.0.1:{blackhole} did not answer a session: "), error
    assert "secret-pw-77" not in error


def test_a_docker_engine_that_never_answers_is_asked_once(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    with accepting_silently(server):
        engine = DockerProbe(DockerSection(host=f"unix://{path}", timeout_s=1, compose_project="shop"))
        first = engine.engine()
        started = time.monotonic()
        again = DockerProbe(DockerSection(host=f"unix://{path}", timeout_s=1, compose_project="shop")).engine()  # another check's probe
        took = time.monotonic() - started

    assert not first.answered and first.elapsed_ms >= 1000, first
    assert not again.answered and took < 0.5, took
    assert again.error is not None and again.error.startswith(f"SilentTarget: not asked: unix://{path} did not answer "
                                                              "its version: "), again.error


def test_the_record_is_shared_through_the_runs_directory(tmp_path: Path) -> None:
    """What one xdist worker recorded, another one reads (two processes, one directory)."""
    code = ("import sys; from pathlib import Path; from gonogo.probes import silence; "
            "silence.use_directory(Path(sys.argv[1])); "
            "silence.record('127.0.0.1:9', 'GET https://x/', 'ReadTimeoutError: handshake', at_once=True)")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=REPO, timeout=60)
    silence.use_directory(tmp_path)

    assert silence.silent("127.0.0.1:9") == "127.0.0.1:9 did not answer GET https://x/: ReadTimeoutError: handshake"
    silence.forget()  # the watch window's next round asks afresh
    assert silence.silent("127.0.0.1:9") is None


HEALTH = """
[environment]
name = "dev"
release = "1.0"
resolve = {{ "shop.localhost" = "127.0.0.1" }}
{endpoints}
"""


def test_a_blackholed_stack_costs_one_timeout_per_worker_not_one_per_check(run_gate: Any, blackhole: int) -> None:
    endpoints = "".join(f'\n[[health]]\nname = "e{i}"\nurl = "https://shop.localhost:{blackhole}/e{i}/"\ntimeout_s = 2\n'
                        for i in range(12))
    run = run_gate({"test_health.py": (REPO / "checks" / "test_health.py").read_text()}, "-m", "postdeploy", "-n", "2",
                   profile=HEALTH.format(endpoints=endpoints))

    gate = run.gate
    assert gate["verdict"] == "NO-GO", run.log
    reasons = {e["id"]: e["reason"] for e in gate["failed"] if e["id"].startswith("health.endpoint_healthy")}
    assert len(reasons) == 12, run.log
    waited = [check for check, reason in reasons.items() if "not asked" not in reason]
    assert 1 <= len(waited) <= 2, reasons  # each worker may have paid one timeout before the record was shared
    for check, reason in reasons.items():
        assert "127.0.0.1:" in reason and "did not answer" in reason or check in waited, (check, reason)
    assert json.loads(json.dumps(gate))["counts"]["errored"] == 0
