"""The rollback probe without a sandbox: the engine absent, refusing or hanging (a real unix socket in each
state), real metrics files in each shape a rollback script writes (and broken ones), and how the moment is
told from the running release. The probe against the sandbox's real engine (its services, the target's
images, one of them missing): tests/sandbox/test_probe_rollback.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from pathlib import Path

import pytest

from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.host import bounded
from gonogo.probes.rollback import (METRICS_READ_BYTES, RollbackProbe, RunningRelease, ServiceRelease, infer_moment,
                                    repository_of, tag_of)
from gonogo.sections.rollback import AFTER, BEFORE

SERVICES = ["web", "worker"]


def probe(host: str, metrics: Path | None = None, timeout_s: float = 1) -> RollbackProbe:
    return RollbackProbe(DockerProbe(DockerSection(host=host, compose_project="shop", timeout_s=timeout_s)),
                         SERVICES, metrics)


@pytest.mark.parametrize("image, tag, repository", [
    ("boutique/web:abc1234", "abc1234", "boutique/web"),
    ("registry.example.org:5000/shop/web:1.2.0", "1.2.0", "registry.example.org:5000/shop/web"),
    ("registry.example.org:5000/shop/web", None, "registry.example.org:5000/shop/web"),
    ("boutique/web@sha256:" + "a" * 64, None, "boutique/web@sha256:" + "a" * 64),
    ("sha256:" + "b" * 64, None, "sha256:" + "b" * 64),
])
def test_tags_and_repositories_of_image_references(image: str, tag: str | None, repository: str) -> None:
    assert tag_of(image) == tag and repository_of(image) == repository


# -- the Docker engine not there, refusing, hanging ----------------------------------------------------

def test_an_engine_socket_that_does_not_exist(tmp_path: Path) -> None:
    rollback = probe(f"unix://{tmp_path}/no-docker.sock")
    running = rollback.running()
    target = rollback.target("abc1234", running)

    assert running.error is not None and "No such file or directory" in running.error, running.error
    assert running.elapsed_ms < 1000 and running.version is None
    assert running.problems() == [f"the docker engine at unix://{tmp_path}/no-docker.sock did not answer: {running.error}"]
    assert [i.service for i in target.incomplete] == SERVICES
    assert all(i.error and "did not answer" in i.error for i in target.images), target.evidence()
    moment = infer_moment(running, "abc1234")
    assert moment.name is None and "did not answer" in moment.why, moment


def test_an_engine_socket_nobody_listens_on(tmp_path: Path) -> None:
    path = tmp_path / "refusing.sock"
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(str(path))  # bound, never listening: connections are refused
    try:
        running = probe(f"unix://{path}").running()
    finally:
        bound.close()

    assert running.error is not None and "Connection refused" in running.error, running.error
    assert running.elapsed_ms < 1000
    assert "no answer" in running.evidence() and "Connection refused" in repr(running)


def test_an_engine_that_accepts_and_never_answers(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True)
    accepting.start()
    try:
        running = probe(f"unix://{path}", timeout_s=1).running()
    finally:
        for connection in held:
            connection.close()
        server.close()

    assert held, "the probe never connected"
    assert running.error is not None and "timed out" in running.error.lower(), running.error
    assert 1000 <= running.elapsed_ms < 3000, running.elapsed_ms


# -- the moment ---------------------------------------------------------------------------------------

def running(**tags: str | None) -> RunningRelease:
    return RunningRelease("unix:///x.sock", "shop", tuple(
        ServiceRelease(s, ((f"shop-{s}-1", f"shop/{s}:{t}"),) if t else ()) for s, t in tags.items()))


def test_the_moment_from_the_running_release() -> None:
    before = infer_moment(running(web="new", worker="new"), "old")
    after = infer_moment(running(web="old", worker="old"), "old")
    partial = infer_moment(running(web="old", worker="new"), "old")
    mixed = infer_moment(running(web="new", worker="newer"), "old")
    gone = infer_moment(running(web="new", worker=None), "old")

    assert (before.name, after.name, partial.name, mixed.name, gone.name) == (BEFORE, AFTER, AFTER, None, None)
    assert before.describe() == "before the rollback (inferred: every service runs new, not the target old)"
    assert "partial rollback" in partial.why and "web run(s) the target old" in partial.why
    assert mixed.why == "mixed versions: web new, worker newer"
    assert gone.why == "worker has no container in project shop"
    assert infer_moment(running(web="new"), None).name is None


def test_a_chosen_moment_is_kept_and_said() -> None:
    chosen = infer_moment(running(web="new", worker="new"), "old", AFTER)

    assert chosen.name == AFTER and chosen.chosen
    assert chosen.describe() == "after the rollback (--rollback-moment: --rollback-moment=after)"


# -- the metrics file ---------------------------------------------------------------------------------

NOW = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
RECYCLIC = {"timestamp": NOW, "event": "rollback_success", "version": "abc1234", "duration_seconds": "45",
            "status": "success", "hostname": "production-server"}


def test_recyclic_s_single_json_object(tmp_path: Path) -> None:
    path = tmp_path / "rollback-metrics.json"
    path.write_text(json.dumps(RECYCLIC, indent=2))
    metrics = probe("unix:///unused", path).metrics()

    assert metrics.error is None and len(metrics.records) == 1
    newest = metrics.newest
    assert newest is not None and newest.version == "abc1234" and newest.duration_s == 45.0
    assert newest.status == "success" and newest.timestamp is not None and newest.from_version is None
    assert "abc1234" in metrics.evidence()


def test_json_lines_newest_last_with_a_garbled_line(tmp_path: Path) -> None:
    path = tmp_path / "rollbacks.jsonl"
    older = {**RECYCLIC, "version": "old0001", "from": "new0002", "timestamp": "2026-01-02T03:04:05Z"}
    path.write_text(json.dumps(older) + "\nnot json at all\n\n" + json.dumps({**RECYCLIC, "from": "new0002"}) + "\n")
    metrics = probe("unix:///unused", path).metrics()

    assert [r.version for r in metrics.records] == ["old0001", "abc1234"]
    assert metrics.newest is not None and metrics.newest.from_version == "new0002" and metrics.newest.line == 4
    assert metrics.unreadable == ("line 2: not json at all",)


def test_a_json_array(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps([{**RECYCLIC, "version": "a"}, {**RECYCLIC, "version": "b", "duration_seconds": "x"}]))
    metrics = probe("unix:///unused", path).metrics()

    assert [r.version for r in metrics.records] == ["a", "b"] and metrics.records[1].duration_s is None


@pytest.mark.parametrize("make, error", [
    pytest.param(lambda p: None, "the file does not exist", id="missing"),
    pytest.param(lambda p: p.mkdir(), "the file is a directory, not a regular file", id="a-directory"),
    pytest.param(os.mkfifo, "the file is a FIFO, not a regular file", id="a-fifo-never-waited-on"),
    pytest.param(lambda p: p.symlink_to("/dev/zero"), "the file is a character device, not a regular file",
                 id="dev-zero-never-read-forever"),
    pytest.param(lambda p: p.write_text(""), "the file holds no record", id="empty"),
    pytest.param(lambda p: p.write_text("\n\n"), "the file holds no record", id="blank-lines"),
])
def test_a_metrics_file_missing_unreadable_or_empty(tmp_path: Path, make, error: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rollbacks.jsonl"
    make(path)
    metrics = bounded(probe("unix:///unused", path).metrics, 5)  # a FIFO would block the read: TimeoutError

    assert metrics.error == error and metrics.newest is None
    assert error in metrics.evidence() and str(path) in metrics.evidence()


def test_a_long_metrics_file_is_read_from_its_end(tmp_path: Path) -> None:
    """Only its last METRICS_READ_BYTES are read; a character cut there does not make it unreadable."""
    path = tmp_path / "rollbacks.jsonl"
    old = json.dumps({**RECYCLIC, "version": "old", "hostname": "é" * 200}) + "\n"
    path.write_text(old * (METRICS_READ_BYTES // len(old.encode()) + 50) + json.dumps({**RECYCLIC, "version": "new"}) + "\n")

    metrics = probe("unix:///unused", path).metrics()

    assert metrics.error is None and metrics.newest is not None and metrics.newest.version == "new"
    assert all(line.startswith("line 1: ") for line in metrics.unreadable)  # at most the line cut at the start


def test_no_metrics_file_configured() -> None:
    metrics = probe("unix:///unused").metrics()

    assert metrics.error == "no metrics file is configured ([rollback] metrics_file)"
