"""The workers probe against real components: a throwaway redis-server (answering, with a password,
stopped), a listener that accepts and never answers, one that answers something that is not Redis;
a real Celery worker process consuming two queues through that Redis (answering, then frozen with
SIGSTOP as a hung worker); the beat's status command as a real process on this host (printing its
state, failing, printing something else). Every fact comes back in bounded time. The sandbox's beat
container and the checks themselves run in the fault matrix (tests/sandbox/test_fault_matrix.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dockerd import accepting_silently
from pydantic import ValidationError

from gonogo.probes.commands import CommandProbe
from gonogo.probes.workers import WorkersProbe
from gonogo.sections.workers import BeatSection, WorkersSection

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
TIMEOUT_S = 1.0
SLACK_S = 1.5  # what a bounded call may take beyond its timeout (connection setup, scheduling)
PASSWORD = "s3cret-broker-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(url: str, **section: object) -> WorkersProbe:
    return WorkersProbe(WorkersSection(redis_url=url, timeout_s=TIMEOUT_S, **section), CommandProbe(Path("/"), None))


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _start_redis(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path), *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not _redis_answers(port):
        assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
        time.sleep(0.05)
    return process, port


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """A real redis-server on a free loopback port, no persistence."""
    process, port = _start_redis(tmp_path)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listener that accepts connections and never says a word (a hung broker)."""
    with accepting_silently(socket.create_server(("127.0.0.1", 0), backlog=16)) as server:
        yield server.getsockname()[1]


# ---------------------------------------------------------------------------------------- Redis


def test_redis_answers_with_its_state(redis_port: int) -> None:
    fact = probe(f"redis://127.0.0.1:{redis_port}/0").redis()
    assert fact.answered and fact.pong, fact
    assert fact.info["role"] == "master" and int(fact.info["connected_clients"]) >= 1, fact.info
    assert fact.info["rdb_last_bgsave_status"] == "ok" and fact.info["aof_enabled"] == 0
    assert "used_memory_human" in fact.info
    assert repr(fact).startswith(f"<redis redis://127.0.0.1:{redis_port}/0: PONG (role master")
    assert "connected_clients:" in fact.evidence()


def test_redis_stopped_is_refused_at_once(tmp_path: Path) -> None:
    process, port = _start_redis(tmp_path)
    process.terminate()
    process.wait(timeout=10)
    fact = probe(f"redis://127.0.0.1:{port}/0").redis()
    assert not fact.answered and "Connection refused" in (fact.error or ""), fact
    assert fact.elapsed_ms < 1000, fact
    assert "no answer after" in fact.status_text


def test_redis_that_hangs_is_bounded(silent_port: int) -> None:
    start = time.monotonic()
    fact = probe(f"redis://127.0.0.1:{silent_port}/0").redis()
    assert not fact.answered and "Timeout" in (fact.error or ""), fact
    assert time.monotonic() - start < TIMEOUT_S + SLACK_S


def test_not_redis_is_a_fact() -> None:
    """A listener that answers something else (an HTTP server's error line) and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def answer() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    fact = probe(f"redis://127.0.0.1:{server.getsockname()[1]}/0").redis()
    server.close()
    assert not fact.answered and fact.error, fact


def test_wrong_password_is_a_fact_and_stays_secret(tmp_path: Path) -> None:
    process, port = _start_redis(tmp_path, "--requirepass", PASSWORD)
    try:
        fact = probe(f"redis://:wrong-{PASSWORD}@127.0.0.1:{port}/0").redis()
        good = probe(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
        assert good.redis().pong
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert not fact.answered and ("AuthenticationError" in (fact.error or "") or "WRONGPASS" in (fact.error or "")), fact
    shown = repr(fact) + fact.evidence() + fact.evidence_name + repr(good) + good.url
    assert PASSWORD not in shown and good.url == f"redis://127.0.0.1:{port}/0", shown


def test_the_profile_table_refuses_what_is_not_a_redis_url() -> None:
    with pytest.raises(ValidationError, match="redis_url: a redis://"):
        WorkersSection(redis_url="amqp://guest@127.0.0.1//")
    section = WorkersSection(redis_url=f"redis://:{PASSWORD}@127.0.0.1:6379/0")
    assert PASSWORD not in repr(section) and section.queues == ["celery"] and section.min_workers == 1


# ---------------------------------------------------------------------------------------- workers

CELERY_APP = """
import os
from celery import Celery

app = Celery("probe", broker=os.environ["PROBE_BROKER"])
app.conf.worker_hijack_root_logger = False
"""


@pytest.fixture
def celery_worker(tmp_path: Path, redis_port: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real Celery worker (this venv's celery) named probe@gonogo, consuming queues celery and reports."""
    (tmp_path / "probe_app.py").write_text(textwrap.dedent(CELERY_APP))
    url = f"redis://127.0.0.1:{redis_port}/0"
    env = {**os.environ, "PROBE_BROKER": url, "PYTHONPATH": str(tmp_path)}
    log = open(tmp_path / "worker.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "probe_app", "worker", "-n", "probe@gonogo",
                                "-Q", "celery,reports", "--pool", "solo", "--without-mingle", "--without-gossip",
                                "--loglevel", "INFO"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b" ready." not in (tmp_path / "worker.log").read_bytes():
        assert time.monotonic() < deadline and process.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.1)
    yield process, url
    os.kill(process.pid, signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    log.close()


def test_a_running_worker_answers_with_its_queues(celery_worker: tuple[subprocess.Popen[bytes], str]) -> None:
    _, url = celery_worker
    fact = probe(url).workers()
    assert fact.answered and fact.nodes == ["probe@gonogo"], fact
    assert fact.replies["probe@gonogo"] == {"ok": "pong"}
    assert fact.queues == {"probe@gonogo": ["celery", "reports"]} and fact.consumed == {"celery", "reports"}
    assert "probe@gonogo (celery, reports)" in repr(fact) and "ping probe@gonogo" in fact.evidence()


def test_a_frozen_worker_answers_nothing_in_bounded_time(celery_worker: tuple[subprocess.Popen[bytes], str]) -> None:
    process, url = celery_worker
    os.kill(process.pid, signal.SIGSTOP)
    start = time.monotonic()
    fact = probe(url).workers()
    assert time.monotonic() - start < TIMEOUT_S + SLACK_S
    assert fact.answered and fact.replies == {} and fact.queues == {}, fact
    assert fact.status_text.startswith("no worker answered a ping within"), fact.status_text


def test_no_worker_at_all(redis_port: int) -> None:
    fact = probe(f"redis://127.0.0.1:{redis_port}/0").workers()
    assert fact.answered and not fact.replies, fact


def test_broker_down_is_refused_at_once() -> None:
    fact = probe(f"redis://127.0.0.1:{free_port()}/0").workers()
    assert not fact.answered and "refused" in (fact.error or ""), fact
    assert fact.elapsed_ms < 1000 and fact.status_text.startswith("the broker did not answer")


def test_broker_that_hangs_is_bounded(silent_port: int) -> None:
    start = time.monotonic()
    fact = probe(f"redis://127.0.0.1:{silent_port}/0").workers()
    elapsed = time.monotonic() - start
    assert not fact.answered and fact.error, fact
    assert elapsed < TIMEOUT_S * 3 + 5 + SLACK_S, elapsed


# ---------------------------------------------------------------------------------------- beat


def beat_probe(run: list[str]) -> WorkersProbe:
    beat = BeatSection(host=True, run=run, tasks=["shop.tasks.scheduled_backup"], timeout_s=5)
    return probe("redis://127.0.0.1:1/0", beat=beat)


def _printing(text: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; sys.stdout.write({text!r})"]


def test_beat_state_read_from_its_command() -> None:
    state = {"tick_age_s": 2.5, "tasks": ["shop.tasks.scheduled_backup", "shop.tasks.daily_report"], "pid": 7}
    fact = beat_probe(_printing(json.dumps(state))).beat()
    assert fact.error is None and fact.tick_age_s == 2.5, fact
    assert fact.tasks == ("shop.tasks.daily_report", "shop.tasks.scheduled_backup")
    assert "last tick 2.5 s ago" in repr(fact) and "tick_age_s" in fact.evidence()


def test_beat_command_that_fails_is_a_fact() -> None:
    fact = beat_probe([sys.executable, "-c", "import sys; print('no beat heartbeat'); sys.exit(1)"]).beat()
    assert fact.error and "exit code 1" in fact.error and "no beat heartbeat" in fact.error, fact


def test_beat_command_missing_is_a_fact() -> None:
    fact = beat_probe(["/nonexistent/beat-status"]).beat()
    assert fact.error and fact.command.exit_code is None, fact


def test_beat_output_that_is_not_its_state() -> None:
    fact = beat_probe(_printing("beat is fine, trust me")).beat()
    assert fact.error and "printed no beat state" in fact.error, fact
    fact = beat_probe(_printing(json.dumps({"tasks": []}))).beat()
    assert fact.error and "KeyError" in fact.error, fact


def test_beat_command_that_hangs_is_bounded() -> None:
    beat = BeatSection(host=True, run=[sys.executable, "-c", "import time; time.sleep(60)"], tasks=["t"], timeout_s=1)
    start = time.monotonic()
    fact = probe("redis://127.0.0.1:1/0", beat=beat).beat()
    assert fact.error and not fact.command.finished, fact
    assert time.monotonic() - start < 1 + SLACK_S
