"""Containers probe: each Compose service's containers as the engine inspects them, and their usage.

``stack.containers`` is a :class:`ContainersProbe` over ``stack.docker`` (the ``[docker]`` table,
beside the engine probe in :mod:`gonogo.probes.docker`): state, health, exit code, restart count and
image of every container of a service (``docker compose ps`` and ``docker inspect``), and its CPU
and memory (``docker stats --no-stream``). Every API call is bounded by ``[docker] timeout_s``; an
engine that does not answer is a fact whose ``error`` says the engine is unreachable at its host.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gonogo import lazy
from gonogo.fact import Observed, Stopwatch
from gonogo.probes.docker import DockerProbe, error_text, no_container
from gonogo.secrets import masker

if TYPE_CHECKING:
    from docker import errors as docker_errors

    from gonogo.stack import Stack
else:  # docker-py is imported when a probe first talks to an engine
    docker_errors = lazy.module("docker.errors")


def engine_error(docker_probe: DockerProbe, exc: BaseException) -> str:
    """What a failed Docker call says: the engine unreachable at its host, or the error it answered."""
    host = docker_probe.section.host
    if isinstance(exc, docker_errors.APIError):
        return f"the Docker engine at {host} answered an error: {error_text(exc)}"
    return f"the Docker engine at {host} is unreachable: {error_text(exc)}"


class ContainerState(Observed):
    """One container of a service, as ``docker inspect`` shows it."""

    name: str
    #: the image reference it was started from (``Config.Image``), e.g. ``boutique/web:fa742ca``
    image: str
    #: created, running, paused, restarting, removing, exited, dead
    status: str
    #: healthy, unhealthy, starting; None when the image has no healthcheck
    health: str | None
    exit_code: int
    restart_count: int
    started_at: str
    oom_killed: bool = False
    #: the engine's error for the container (State.Error), and the last healthcheck output
    error: str = ""
    health_output: str = ""

    @property
    def tag(self) -> str | None:
        """The image's tag (``fa742ca`` of ``boutique/web:fa742ca``), None without one (a digest is no tag)."""
        last = self.image.rsplit("/", 1)[-1].split("@", 1)[0]
        return last.rsplit(":", 1)[1] if ":" in last else None

    @property
    def healthy(self) -> bool:
        """Running, and healthy when it has a healthcheck."""
        return self.status == "running" and self.health in (None, "healthy")

    def up_s(self, now: dt.datetime | None = None) -> float | None:
        """Seconds since the container (last) started (``State.StartedAt``, by this machine's clock), None
        when it is not running or never started."""
        started = started_time(self.started_at)
        if self.status != "running" or started is None:
            return None
        return max(0.0, ((now or dt.datetime.now(dt.timezone.utc)) - started).total_seconds())

    @property
    def text(self) -> str:
        state = self.status + (f" ({self.health})" if self.health else "")
        if self.status in ("exited", "dead", "restarting"):
            state += f", exit code {self.exit_code}" + (", OOM-killed" if self.oom_killed else "")
        restarts = f"{self.restart_count} restart{'s' if self.restart_count != 1 else ''}"
        return f"{self.name} {state}, image {self.image}, {restarts}"

    def one_line(self) -> str:
        return f"<container {self.text}>"


class ServiceFact(Observed):
    """The containers of one Compose service (one-off ``compose run`` containers left out)."""

    EVIDENCE_NAME = "containers of service {service} (project {project})"

    service: str
    project: str
    host: str
    elapsed_ms: float
    containers: tuple[ContainerState, ...] = ()
    #: the engine unreachable, or an error it answered
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None

    @property
    def healthy(self) -> bool:
        """At least one container, and every one running and healthy."""
        return self.answered and bool(self.containers) and all(c.healthy for c in self.containers)

    @property
    def restarts(self) -> int:
        return sum(c.restart_count for c in self.containers)

    @property
    def restarting(self) -> bool:
        return any(c.status == "restarting" for c in self.containers)

    def restarted_within(self, seconds: float, now: dt.datetime | None = None) -> list[str]:
        """The containers that Docker restarted (``RestartCount`` > 0) and that have been up less than
        ``seconds`` since: a restart in the last ``seconds`` ("web-1 restarted 3 s ago, 2 restarts")."""
        found = []
        for c in self.containers:
            up = c.up_s(now)
            if c.restart_count > 0 and up is not None and up < seconds:
                found.append(f"{c.name} restarted {up:.0f} s ago ({c.restart_count} restart{'s' if c.restart_count != 1 else ''})")
        return found

    def youngest_up_s(self, now: dt.datetime | None = None) -> float | None:
        """The shortest time any running container of the service has been up, None when none runs."""
        ups = [u for c in self.containers if (u := c.up_s(now)) is not None]
        return min(ups) if ups else None

    @property
    def text(self) -> str:
        if self.error is not None:
            return self.error
        if not self.containers:
            return no_container(self.project, self.service)
        return "; ".join(c.text for c in self.containers)

    def evidence(self) -> str:
        lines = [f"engine {self.host}, project {self.project}, service {self.service} ({self.elapsed_ms:.0f} ms)",
                 self.text]
        for c in self.containers:
            lines.append(f"{c.name}: started {c.started_at}" + (f", error: {c.error}" if c.error else ""))
            if c.health_output:
                lines.append(f"  last healthcheck output: {c.health_output}")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<service {self.service}: {self.text}>"


@dataclass(frozen=True)
class ContainerUsage:
    """CPU and memory of one running container (one ``docker stats --no-stream`` sample)."""

    name: str
    #: like ``docker stats``: 100 is one core
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_bytes / self.memory_limit_bytes if self.memory_limit_bytes else 0.0

    @property
    def text(self) -> str:
        return (f"{self.name}: CPU {self.cpu_percent:.1f}%, memory {self.memory_bytes / 2**20:.0f} MiB "
                f"of {self.memory_limit_bytes / 2**20:.0f} MiB ({self.memory_percent:.1f}%)")


class UsageFact(Observed):
    """CPU and memory of each running container of a service."""

    EVIDENCE_NAME = "usage of service {service}"

    service: str
    project: str
    host: str
    elapsed_ms: float
    usages: tuple[ContainerUsage, ...] = ()
    error: str | None = None

    @property
    def text(self) -> str:
        if self.error is not None:
            return self.error
        return "; ".join(u.text for u in self.usages) or no_container(self.project, self.service, "running container")

    def evidence(self) -> str:
        return masker.mask(f"engine {self.host}, service {self.service} ({self.elapsed_ms:.0f} ms)\n{self.text}")

    def one_line(self) -> str:
        return f"<usage {self.service}: {self.text}>"


def started_time(text: str) -> dt.datetime | None:
    """Docker's ``StartedAt`` (RFC 3339 with nanoseconds, ``0001-01-01T00:00:00Z`` when never started)."""
    found = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text.strip())
    if found is None or text.startswith("0001-"):
        return None
    seconds, fraction, zone = found.groups()
    try:
        return dt.datetime.fromisoformat(f"{seconds}.{(fraction or '0')[:6]:0<6}"
                                         f"{'+00:00' if zone in (None, 'Z') else zone}")
    except ValueError:
        return None


def _state(attrs: dict[str, Any]) -> ContainerState:
    state = attrs.get("State") or {}
    health = state.get("Health") or {}
    log = health.get("Log") or []
    output = str(log[-1].get("Output", "")).strip()[-300:] if log else ""
    return ContainerState(
        name=str(attrs.get("Name", "")).lstrip("/") or str(attrs.get("Id", ""))[:12],
        image=str((attrs.get("Config") or {}).get("Image", "")), status=str(state.get("Status", "")),
        health=health.get("Status") or None, exit_code=int(state.get("ExitCode") or 0),
        restart_count=int(attrs.get("RestartCount") or 0), started_at=str(state.get("StartedAt", "")),
        oom_killed=bool(state.get("OOMKilled")), error=str(state.get("Error") or ""), health_output=output)


def _cpu_percent(stats: dict[str, Any]) -> float:
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cores = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    return 100.0 * used / system * cores if used > 0 and system > 0 else 0.0


def _memory(stats: dict[str, Any]) -> tuple[int, int]:
    """(bytes in use, limit) as ``docker stats`` counts them: the page cache that can be dropped left out."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0))
    return max(int(memory.get("usage", 0)) - int(cache), 0), int(memory.get("limit", 0))


class ContainersProbe:
    """The services of ``[docker] compose_project`` (``stack.containers``), through ``stack.docker``."""

    def __init__(self, docker_probe: DockerProbe) -> None:
        self.docker = docker_probe

    def __repr__(self) -> str:
        return masker.mask(f"<containers of {self.docker.section.compose_project} at {self.docker.section.host}>")

    def service(self, service: str) -> ServiceFact:
        """Inspect every container of ``service``: a list call and one inspect each, all bounded."""
        section, watch = self.docker.section, Stopwatch()
        try:
            listed = self.docker.service_containers(service)
            states = tuple(_state(self.docker.client.api.inspect_container(c.id)) for c in listed)
        except Exception as exc:  # unreachable, timed out, refused, a container removed meanwhile: a fact
            return ServiceFact(service, section.compose_project, section.host, watch.ms(),
                               error=engine_error(self.docker, exc))
        return ServiceFact(service, section.compose_project, section.host, watch.ms(), states)

    def usage(self, service: str) -> UsageFact:
        """One stats sample of each running container of ``service`` (the engine takes about a second)."""
        section, watch = self.docker.section, Stopwatch()
        try:
            running = [c for c in self.docker.service_containers(service) if c.state == "running"]
            usages = []
            for c in running:
                stats = self.docker.client.api.stats(c.id, stream=False)
                used, limit = _memory(stats)
                usages.append(ContainerUsage(c.name, _cpu_percent(stats), used, limit))
        except Exception as exc:  # a fact, as for service()
            return UsageFact(service, section.compose_project, section.host, watch.ms(),
                             error=engine_error(self.docker, exc))
        return UsageFact(service, section.compose_project, section.host, watch.ms(), tuple(usages))



def from_stack(stack: Stack) -> ContainersProbe:
    """``stack.containers``: the containers of ``[docker] services`` and ``one_shot``: state, health, restarts,
    image, usage."""
    return ContainersProbe(stack.docker)
