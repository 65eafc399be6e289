"""The containers and logs probes against a real Docker Engine (a private dockerd, tests/probes/dockerd.py):
containers healthy, unhealthy, exited with a code, crashing in a loop, busy, missing; log windows; and the
engine gone, refusing and hanging (each a fact, in bounded time). The checks of both subjects end to end:
an unreachable engine fails every one of them saying so, never errored or skipped."""

from __future__ import annotations

import socket
import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockerd import Engine, accepting_silently, compose_container, throwaway_dockerd
from gonogo.probes.containers import ContainerState, ContainersProbe
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.logs import LogsProbe
from gonogo.secrets import masker
from gonogo.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
FAST_HEALTH = {"interval": 300_000_000, "timeout": 1_000_000_000, "retries": 1}  # 0.3 s, in nanoseconds


@pytest.fixture
def project(dockerd: Engine, request: pytest.FixtureRequest) -> Iterator[str]:
    """A Compose project name of this test; its containers are removed after it."""
    name = "p" + str(abs(hash(request.node.nodeid)))[:10]
    yield name
    client = dockerd.client()
    for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={name}"}):
        container.remove(force=True)
    client.close()


@pytest.fixture
def client(dockerd: Engine) -> Iterator[docker.DockerClient]:
    c = dockerd.client()
    yield c
    c.close()


def probe(host: str, project: str = "shop", **keys: object) -> DockerProbe:
    return DockerProbe(DockerSection(host=host, compose_project=project, **keys))  # type: ignore[arg-type]


def settle(containers: ContainersProbe, service: str, accept, timeout_s: float = 20):  # noqa: ANN001, ANN201
    """Wait for the engine to report what the test set up (a healthcheck's verdict, a restart)."""
    result = wait_until(lambda: containers.service(service), accept, timeout_s=timeout_s, interval_s=0.2)
    assert result.converged, result.log()
    return result.value


# ---------------------------------------------------------------------------------------- containers

def test_a_healthy_service(dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    compose_container(client, project, "web", ["sleep", "300"], healthcheck={"test": ["CMD-SHELL", "exit 0"], **FAST_HEALTH})
    containers = ContainersProbe(probe(dockerd.host, project))

    fact = settle(containers, "web", lambda f: f.healthy)

    assert fact.answered and len(fact.containers) == 1
    web = fact.containers[0]
    assert (web.name, web.status, web.health, web.tag, web.restart_count) == (f"{project}-web-1", "running", "healthy", "1.0", 0)
    assert repr(fact) == f"<service web: {project}-web-1 running (healthy), image gonogo-probe/tiny:1.0, 0 restarts>"
    assert "started 20" in fact.evidence() and fact.evidence_name == f"containers of service web (project {project})"


def test_an_unhealthy_service_keeps_its_healthcheck_output(dockerd: Engine, client: docker.DockerClient,
                                                           project: str) -> None:
    check = {"test": ["CMD-SHELL", "echo port 8001 refused; exit 1"], **FAST_HEALTH}
    compose_container(client, project, "web", ["sleep", "300"], healthcheck=check)
    containers = ContainersProbe(probe(dockerd.host, project))

    fact = settle(containers, "web", lambda f: f.containers and f.containers[0].health == "unhealthy")

    assert not fact.healthy and fact.containers[0].status == "running"
    assert "running (unhealthy)" in fact.text
    assert "last healthcheck output: port 8001 refused" in fact.evidence()


def test_a_one_shot_that_exited_with_a_code(dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    compose_container(client, project, "migrations", ["sh", "-c", "exit 3"])
    containers = ContainersProbe(probe(dockerd.host, project))

    fact = settle(containers, "migrations", lambda f: f.containers and f.containers[0].status == "exited")

    assert fact.containers[0].exit_code == 3 and not fact.healthy
    assert "exited, exit code 3" in fact.text


def test_a_service_in_a_restart_loop_climbs(dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    compose_container(client, project, "worker", ["sh", "-c", "echo boom; exit 1"], restart_policy={"Name": "always"})
    containers = ContainersProbe(probe(dockerd.host, project))
    first = containers.service("worker")

    later = settle(containers, "worker", lambda f: f.restarts > first.restarts)

    assert later.restarts > first.restarts and f"{later.restarts} restart" in later.text


@pytest.mark.parametrize("image, tag", [("boutique/web:fa742ca", "fa742ca"), ("registry:5000/web", None),
                                        ("registry:5000/web:1.2@sha256:ab12", "1.2"), ("web@sha256:ab12", None)])
def test_the_tag_of_an_image_reference(image: str, tag: str | None) -> None:
    assert ContainerState("web-1", image, "running", None, 0, 0, "").tag == tag


def test_a_service_without_a_container(dockerd: Engine, project: str) -> None:
    fact = ContainersProbe(probe(dockerd.host, project)).service("beat")

    assert fact.answered and fact.containers == () and not fact.healthy
    assert fact.text == (f"no container of service beat in Compose project {project} (labels "
                         f"com.docker.compose.project={project}, com.docker.compose.service=beat)")
    scan = LogsProbe(probe(dockerd.host, project)).scan("beat", ["ERROR"])
    assert scan.error is None and scan.containers == () and scan.text == fact.text


def test_one_off_and_other_projects_containers_are_not_the_service(dockerd: Engine, client: docker.DockerClient,
                                                                    project: str) -> None:
    compose_container(client, project, "web", ["sleep", "300"])
    one_off = compose_container(client, project, "web", ["sleep", "300"], number=2)
    one_off.remove(force=True)
    client.containers.run("gonogo-probe/tiny:1.0", ["sleep", "300"], name=f"{project}-run-1", network_mode="host",
                          detach=True, labels={"com.docker.compose.project": project,
                                               "com.docker.compose.service": "web", "com.docker.compose.oneoff": "True"})
    fact = ContainersProbe(probe(dockerd.host, project)).service("web")

    assert [c.name for c in fact.containers] == [f"{project}-web-1"]


def test_usage_of_a_busy_and_an_idle_container(dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    compose_container(client, project, "web", ["sh", "-c", "while :; do :; done"])
    compose_container(client, project, "worker", ["sleep", "300"])
    containers = ContainersProbe(probe(dockerd.host, project))

    busy, idle = containers.usage("web"), containers.usage("worker")

    assert busy.error is None and idle.error is None
    # a spinning shell gets what the shared machine leaves it (10% of a core under a load of 18, measured)
    assert busy.usages[0].cpu_percent > max(1.0, 5 * idle.usages[0].cpu_percent), (busy, idle)
    assert 0 < idle.usages[0].memory_bytes < idle.usages[0].memory_limit_bytes
    assert f"{project}-web-1: CPU " in busy.text and "MiB" in busy.evidence()


# ---------------------------------------------------------------------------------------- logs

def test_logs_find_errors_and_leave_allowed_lines(dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    script = "echo 'INFO started'; echo 'ERROR payment failed token=s3cr3t'; echo 'ERROR expected noise'; sleep 300"
    compose_container(client, project, "web", ["sh", "-c", script])
    logs = LogsProbe(probe(dockerd.host, project, log_allow=["expected noise"]))

    scan = settle_logs(logs, "web", 3)

    assert scan.count == 1 and scan.matches[0].line == "ERROR payment failed token=s3cr3t"
    assert scan.matches[0].container == f"{project}-web-1" and scan.matches[0].pattern == "ERROR"
    assert f"{project}-web-1 [ERROR] ERROR payment failed" in scan.evidence()


def settle_logs(logs: LogsProbe, service: str, lines: int):  # noqa: ANN201
    result = wait_until(lambda: logs.scan(service, ["ERROR", "Traceback"]), lambda s: s.lines_read >= lines,
                        timeout_s=10, interval_s=0.1)
    assert result.converged, result.log()
    return result.value


def test_the_window_starts_when_the_container_last_started(dockerd: Engine, client: docker.DockerClient,
                                                           project: str) -> None:
    # the first run logs an error and crashes 2 s later; Docker restarts it, and the second run is clean
    script = ("if [ -e /tmp/ran ]; then echo 'INFO second start'; sleep 300; fi; "
              ": > /tmp/ran; echo 'ERROR first start'; sleep 2; exit 1")
    container = compose_container(client, project, "worker", ["sh", "-c", script],
                                  restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    logs = LogsProbe(probe(dockerd.host, project))
    settle(ContainersProbe(probe(dockerd.host, project)), "worker",
           lambda f: f.restarts == 1 and f.containers[0].status == "running")

    scan = settle_logs(logs, "worker", 1)

    assert b"ERROR first start" in container.logs()  # still in docker logs, before the window
    assert scan.count == 0 and scan.lines_read == 1, scan.evidence()


def test_the_window_keeps_the_last_lines_and_seconds(dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    script = "echo 'ERROR old'; sleep 2; echo 'INFO one'; echo 'INFO two'; echo 'ERROR last'; sleep 300"
    compose_container(client, project, "web", ["sh", "-c", script])
    tail = LogsProbe(probe(dockerd.host, project, log_tail=2))
    recent = LogsProbe(probe(dockerd.host, project, log_since_s=1.5))
    settle_logs(recent, "web", 3)

    by_tail, by_time = tail.scan("web", ["ERROR"]), recent.scan("web", ["ERROR"])

    assert (by_tail.lines_read, by_tail.count) == (2, 1)
    assert (by_time.lines_read, by_time.count) == (3, 1) and by_time.matches[0].line == "ERROR last"
    assert by_time.window == "the last 100 lines since the container started, within the last 1.5 s"


@pytest.fixture
def secret() -> Iterator[str]:
    value = "s3cr3t-token-value"
    masker.add(value)
    yield value
    masker.clear()


def test_log_lines_are_masked_wherever_they_are_shown(dockerd: Engine, client: docker.DockerClient, project: str,
                                                      secret: str) -> None:
    compose_container(client, project, "web", ["sh", "-c", "echo 'ERROR login with s3cr3t-token-value'; sleep 300"])
    scan = settle_logs(LogsProbe(probe(dockerd.host, project)), "web", 1)

    for shown in (scan.evidence(), repr(scan), scan.text):
        assert "s3cr3t-token-value" not in shown and "***" in shown


# ---------------------------------------------------------------------------------------- the engine gone

def test_a_real_engine_stopped(tmp_path: Path) -> None:
    with throwaway_dockerd() as engine:
        host = engine.host
    started = time.perf_counter()
    fact = ContainersProbe(probe(host, timeout_s=2)).service("web")
    scan = LogsProbe(probe(host, timeout_s=2)).scan("web", ["ERROR"])

    assert time.perf_counter() - started < 2
    for error in (fact.error, scan.error):
        assert error is not None and error.startswith(f"the Docker engine at {host} is unreachable: "), error
        assert "No such file or directory" in error


def test_an_engine_socket_nobody_listens_on(tmp_path: Path) -> None:
    path = tmp_path / "refusing.sock"
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(str(path))  # bound, never listening: connections are refused
    try:
        fact = ContainersProbe(probe(f"unix://{path}", timeout_s=2)).usage("web")
    finally:
        bound.close()

    assert fact.error is not None and "is unreachable" in fact.error and "Connection refused" in fact.error, fact.error
    assert fact.elapsed_ms < 1000


@pytest.fixture
def silent_engine(tmp_path: Path) -> Iterator[str]:
    """A unix socket that accepts connections and never answers."""
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    with accepting_silently(server):
        yield f"unix://{path}"


def test_an_engine_that_accepts_and_never_answers(silent_engine: str) -> None:
    fact = ContainersProbe(probe(silent_engine, timeout_s=1)).service("web")

    assert fact.error is not None and "is unreachable" in fact.error and "timed out" in fact.error.lower(), fact.error
    assert 1000 <= fact.elapsed_ms < 3000, fact.elapsed_ms


# ---------------------------------------------------------------------------------------- the checks, end to end

PROFILE = """
[environment]
name = "dev"
release = "1.0"

[docker]
host = "{host}"
timeout_s = 1
compose_project = "shop"
services = ["web", "worker"]
same_release_tag = ["web", "worker", "migrations"]
one_shot = {{ migrations = 0 }}
healthy_within_s = 30
restart_watch_s = 2
max_cpu_percent = 80
max_memory_percent = 80
"""

CHECKS = {f"test_{name}.py": (REPO / "checks" / f"test_{name}.py").read_text() for name in ("containers", "logs")}


@pytest.mark.parametrize("engine", ["gone", "silent"])
def test_every_check_says_the_engine_is_unreachable(run_gate, tmp_path: Path, silent_engine: str, engine: str) -> None:
    host = silent_engine if engine == "silent" else f"unix://{tmp_path}/no-docker.sock"
    started = time.monotonic()
    run = run_gate(CHECKS, "-m", "predeploy or postdeploy or rollback", profile=PROFILE.format(host=host))
    elapsed = time.monotonic() - started

    gate = run.gate
    assert gate["verdict"] == "NO-GO", run.log
    assert gate["errored"] == [] and gate["not_run"] == [] and gate["counts"]["skipped"] == 0, run.log
    failed = {e["id"]: e["reason"] for e in gate["failed"]}
    assert len(failed) == gate["counts"]["selected"] == 12, sorted(failed)
    for check, reason in failed.items():
        assert f"the Docker engine at {host} is unreachable: " in reason, (check, reason)
    assert elapsed < 60, elapsed  # 12 checks, each Docker call bounded by timeout_s = 1 (the healthy wait does not retry)
    if engine == "silent":  # asked once (three at most: the first checks ask for three services side by side)
        waited = [check for check, reason in failed.items() if "SilentTarget: not asked" not in reason]
        assert 1 <= len(waited) <= 3, failed


# ------------------------------------------------------------------------------ restarts: judged from StartedAt

RESTARTS = """
[environment]
name = "dev"
release = "1.0"

[docker]
host = "{host}"
timeout_s = 5
compose_project = "{project}"
services = ["{service}"]
restart_watch_s = {watch}
"""


def _not_restarting(run_gate, host: str, project: str, service: str, watch: float):  # noqa: ANN001, ANN202
    run = run_gate({"test_containers.py": CHECKS["test_containers.py"]}, "-m", "postdeploy", "-k", "not_restarting",
                   "--partial", profile=RESTARTS.format(host=host, project=project, service=service, watch=watch))
    results = [json.loads(p.read_text()) for p in run.allure_dir.glob("*-result.json")]
    took = [(r["stop"] - r["start"]) / 1000 for r in results if "not_restarting" in r.get("fullName", "")]
    assert len(took) == 1, (took, run.log)
    return run, took[0]


def test_a_container_younger_than_the_watch_is_watched_until_it_is_that_old(run_gate, dockerd: Engine,
                                                                            client: docker.DockerClient,
                                                                            project: str) -> None:
    compose_container(client, project, "web", ["sleep", "300"])

    # a watch of 8 s: the gate's own start (a Python, pytest, the Docker client) takes 1 to 3 s on a loaded 2-core
    # machine, so the container is at most about 3 s old when the check asks (a 4 s watch failed under load)
    young, young_s = _not_restarting(run_gate, dockerd.host, project, "web", 8)
    time.sleep(0.5)  # the young run ended once the container was up 8 s: it is older than the watch now
    old, old_s = _not_restarting(run_gate, dockerd.host, project, "web", 8)

    assert young.gate["verdict"] == old.gate["verdict"] == "GO", (young.log, old.log)
    assert young_s >= 2, young_s  # watched until up 8 s (it had been up a few seconds when asked)
    assert old_s < 2, old_s  # up longer than the watch: judged from StartedAt at once


def test_a_crash_loop_is_no_go_without_waiting_out_the_watch(run_gate, dockerd: Engine, client: docker.DockerClient,
                                                             project: str) -> None:
    compose_container(client, project, "worker", ["sh", "-c", "sleep 1; exit 1"], restart_policy={"Name": "always"})
    settle(ContainersProbe(probe(dockerd.host, project)), "worker", lambda f: f.restarts >= 2)

    run, took = _not_restarting(run_gate, dockerd.host, project, "worker", 60)

    assert run.gate["verdict"] == "NO-GO", run.log
    reason = {e["id"]: e["reason"] for e in run.gate["failed"]}["containers.not_restarting[worker]"]
    assert "expected every container up 60 s without a restart" in reason, reason
    assert f"{project}-worker-1 restarted " in reason or "restarting" in reason, reason
    assert took < 30, took  # the next restart (or the restarting state) ends the watch: not a 60 s wait


def test_a_container_restarted_once_and_stable_since_is_go(run_gate, dockerd: Engine, client: docker.DockerClient,
                                                             project: str) -> None:
    """A worker that crashed once (its broker was not up yet, say) and runs since: watched until up 3 s, then GO."""
    script = "if [ -e /tmp/ran ]; then sleep 300; fi; : > /tmp/ran; exit 1"
    compose_container(client, project, "worker", ["sh", "-c", script],
                      restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    settle(ContainersProbe(probe(dockerd.host, project)), "worker",
           lambda f: f.restarts == 1 and f.containers[0].status == "running")

    run, _ = _not_restarting(run_gate, dockerd.host, project, "worker", 3)

    assert run.gate["verdict"] == "GO", run.log  # one restart before the watch is no crash loop


# ------------------------------------------------------- a stopped service: failed at once, not after healthy_within_s

STOPPED = """
[environment]
name = "dev"
release = "1.0"

[docker]
host = "{host}"
timeout_s = 5
compose_project = "{project}"
services = ["web", "worker"]
healthy_within_s = 30
restart_watch_s = 0
"""


def test_a_stopped_container_is_not_waited_for_a_starting_one_is(run_gate, dockerd: Engine,
                                                                  client: docker.DockerClient, project: str) -> None:
    """web was stopped (exited 0, no restart policy: nothing will start it again): service_healthy fails at once,
    its wait saying why it stopped waiting; worker is still starting (its healthcheck passes after 3 s): waited
    for, and healthy."""
    web = compose_container(client, project, "web", ["sleep", "300"])
    web.stop(timeout=1)
    compose_container(client, project, "worker", ["sh", "-c", "sleep 3; : > /tmp/ready; sleep 300"],
                      healthcheck={"test": ["CMD", "cat", "/tmp/ready"], "interval": 500_000_000, "retries": 60})
    settle(ContainersProbe(probe(dockerd.host, project)), "web", lambda f: f.containers[0].status == "exited")

    run = run_gate({"test_containers.py": CHECKS["test_containers.py"]}, "-m", "postdeploy", "-k", "service_healthy",
                   "--partial", profile=STOPPED.format(host=dockerd.host, project=project))

    assert run.gate["passed"] == ["containers.service_healthy[worker]"], run.log
    reason = {e["id"]: e["reason"] for e in run.gate["failed"]}["containers.service_healthy[web]"]
    assert f"{project}-web-1 exited, exit code" in reason, reason
    results = [json.loads(p.read_text()) for p in run.allure_dir.glob("*-result.json")]
    took = {r["name"]: (r["stop"] - r["start"]) / 1000 for r in results if "service_healthy" in r.get("fullName", "")}
    web = [seconds for name, seconds in took.items() if "web" in name]
    assert len(web) == 1 and web[0] < 15, took  # at once: its first reading ends its wait
    evidence = " ".join(p.read_text(errors="replace") for p in run.allure_dir.glob("*-attachment*"))
    assert "service web running and healthy: did not converge after 1 attempt(s)" in evidence, evidence[:2000]
    assert "stopped waiting: stopped, nothing will start it again: " in evidence, evidence[:2000]


# ------------------------------------------------------------------ a service with no container: no evidence, no pass

GHOST = """
[environment]
name = "dev"
release = "1.0"

[docker]
host = "{host}"
timeout_s = 5
compose_project = "{project}"
services = {services}
healthy_within_s = 2
restart_watch_s = 0
max_cpu_percent = 1000
"""


def _looked_for(project: str, service: str) -> str:
    return (f"container of service {service} in Compose project {project} (labels "
            f"com.docker.compose.project={project}, com.docker.compose.service={service})")


def test_a_service_without_a_container_fails_every_check_naming_what_was_looked_for(
        run_gate, dockerd: Engine, client: docker.DockerClient, project: str) -> None:
    """ghost has no container: its restart, usage and log checks fail (no container read is no evidence); web passes."""
    compose_container(client, project, "web", ["sh", "-c", "echo 'INFO up'; sleep 300"])
    profile = GHOST.format(host=dockerd.host, project=project, services='["web", "ghost"]')

    run = run_gate(CHECKS, "-m", "postdeploy", "-k", "not_restarting or resources or logs", "--partial", profile=profile)

    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    ghost = {"containers.not_restarting[ghost]", "containers.resources_under_limits[ghost]",
             "logs.free_of_errors[ghost]", "logs.no_rollback_trigger[ghost]"}
    assert set(failed) == ghost, run.log
    for check, reason in failed.items():
        assert _looked_for(project, "ghost") in reason, (check, reason)
    assert {"containers.not_restarting[web]", "logs.free_of_errors[web]", "logs.no_rollback_trigger[web]",
            "containers.resources_under_limits[web]"} <= set(run.gate["passed"]), run.gate


WATCH = {"test_watch.py": (REPO / "checks" / "test_watch.py").read_text()}


def test_a_watched_service_without_a_container_fails_the_window(run_gate, dockerd: Engine, client: docker.DockerClient,
                                                                project: str) -> None:
    """The window's rounds read web's log and found no container of ghost: no_critical_log fails naming ghost;
    without ghost the same window passes, each service's lines read in the evidence."""
    compose_container(client, project, "web", ["sh", "-c", "echo 'INFO up'; sleep 300"])
    window = ("-m", "postdeploy", "-k", "no_critical_log", "--partial", "--watch", "1s", "--every", "0.5s")

    both = run_gate(WATCH, *window, profile=GHOST.format(host=dockerd.host, project=project, services='["web", "ghost"]'))
    web = run_gate(WATCH, *window, profile=GHOST.format(host=dockerd.host, project=project, services='["web"]'))

    failed = {e["id"]: e["reason"] for e in both.gate["failed"]}
    assert both.gate["verdict"] == "NO-GO", both.log
    assert _looked_for(project, "ghost") in failed["watch.no_critical_log"], failed
    assert web.gate["passed"] == ["watch.no_critical_log"], web.log
    shown = " ".join(p.read_text(errors="replace") for p in (web.root / "reports" / "allure-results").glob("*-attachment*"))
    assert "logs read: web: " in shown and f"from {project}-web-1" in shown, shown[:2000]


ISOLATION = {"test_isolation.py": (REPO / "checks" / "test_isolation.py").read_text()}


def test_isolation_of_a_project_with_no_container_is_no_pass(run_gate, dockerd: Engine, client: docker.DockerClient,
                                                              project: str) -> None:
    """Our project has no container (a wrong compose_project): nothing of ours was read, so nothing was shown to
    be unshared with staging. Once ours runs, the same checks pass."""
    other = f"{project}-staging"
    try:
        compose_container(client, other, "web", ["sleep", "300"])
        profile = GHOST.format(host=dockerd.host, project=project, services='["web"]') + (
            f'\n[isolation]\nother_projects = ["{other}"]\nshared_networks_allowed = ["host"]  # the test containers\' host networking\n')

        empty = run_gate(ISOLATION, "-m", "predeploy", profile=profile)
        compose_container(client, project, "web", ["sleep", "300"])
        running = run_gate(None, "-m", "predeploy", profile=None)
    finally:
        for container in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={other}"}):
            container.remove(force=True)

    failed = {e["id"]: e["reason"] for e in empty.gate["failed"]}
    assert set(failed) == {"isolation.no_shared_volume", "isolation.no_shared_network"}, empty.log
    for reason in failed.values():
        assert reason.startswith(f"containers of {project}: expected at least one container of Compose project "
                                 f"{project} to compare with {other}, got none"), reason
    assert running.gate["verdict"] == "GO", running.log
