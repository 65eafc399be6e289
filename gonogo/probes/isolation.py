"""Isolation probe: what the stack's Compose project shares with other projects on the same engine
(staging beside prod), through the Docker API (``[isolation]``: :mod:`gonogo.sections.isolation`).

``stack.isolation`` reads, for ``[docker] compose_project`` and each of ``[isolation] other_projects``,
every container of the project (running or not: a stopped container still holds its volumes) and
its mounts (named volumes, bind-mounted host paths) and networks (``host`` for host networking).
Two projects share a bind mount when one's host path is the other's or lies inside it. Facts
only: an engine that does not answer is a fact with an ``error``; only inspecting calls are made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.probes.docker import DockerProbe, error_text
from gonogo.secrets import masker
from gonogo.sections.isolation import IsolationSection

if TYPE_CHECKING:
    from gonogo.stack import Stack


@dataclass(frozen=True)
class ProjectResources:
    """The volumes, bind-mounted host paths and networks of one Compose project's containers."""

    project: str
    containers: tuple[str, ...] = ()
    #: named volume -> the containers that mount it
    volumes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: host path -> the containers that bind-mount it
    binds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: network (``host`` for host networking) -> the containers on it
    networks: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"project {self.project}: {len(self.containers)} container(s) {', '.join(self.containers)}"]
        out += [f"  volume {name}: {', '.join(by)}" for name, by in sorted(self.volumes.items())]
        out += [f"  bind {path}: {', '.join(by)}" for path, by in sorted(self.binds.items())]
        out += [f"  network {name}: {', '.join(by)}" for name, by in sorted(self.networks.items())]
        return out


@dataclass(frozen=True)
class Shared:
    """One resource two projects both use: what it is and who uses it on each side."""

    kind: str  # volume, bind, network
    name: str
    ours: tuple[str, ...]
    theirs: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({', '.join(self.ours)} / {', '.join(self.theirs)})"


def _inside(path: str, other: str) -> bool:
    a, b = PurePosixPath(path), PurePosixPath(other)
    return a == b or b in a.parents or a in b.parents


class IsolationFact(Observed):
    """Our project's resources beside another project's, on the same engine."""

    EVIDENCE_NAME = "isolation {ours.project} / {theirs.project}"

    host: str
    ours: ProjectResources
    theirs: ProjectResources
    elapsed_ms: float
    error: str | None = None
    #: networks and host paths both may use (``[isolation]`` shared_networks_allowed, shared_paths_allowed)
    networks_allowed: tuple[str, ...] = ()
    paths_allowed: tuple[str, ...] = ()

    @property
    def answered(self) -> bool:
        return self.error is None

    def shared_volumes(self) -> list[Shared]:
        """Named volumes, and host paths one bind-mounts that the other's bind mount contains or equals."""
        found = [Shared("volume", name, by, self.theirs.volumes[name])
                 for name, by in sorted(self.ours.volumes.items()) if name in self.theirs.volumes]
        for path, by in sorted(self.ours.binds.items()):
            for other, their_by in sorted(self.theirs.binds.items()):
                if _inside(path, other) and not (path == other and path in self.paths_allowed):
                    found.append(Shared("bind", path if path == other else f"{path} ~ {other}", by, their_by))
        return found

    def shared_networks(self) -> list[Shared]:
        return [Shared("network", name, by, self.theirs.networks[name])
                for name, by in sorted(self.ours.networks.items())
                if name in self.theirs.networks and name not in self.networks_allowed]

    def evidence(self) -> str:
        if self.error:
            return masker.mask(f"{self.host}: {no_answer(self.elapsed_ms, self.error)}")
        lines = [f"engine {self.host} ({self.elapsed_ms:.0f} ms)", *self.ours.lines(), *self.theirs.lines(),
                 f"allowed to share: networks {', '.join(self.networks_allowed) or 'none'}; "
                 f"paths {', '.join(self.paths_allowed) or 'none'}"]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if self.error:
            return f"<isolation {self.ours.project}/{self.theirs.project}: no answer: {self.error}>"
        return (f"<isolation {self.ours.project} ({len(self.ours.containers)} containers) / {self.theirs.project} "
                f"({len(self.theirs.containers)}): {len(self.shared_volumes())} shared mount(s), "
                f"{len(self.shared_networks())} shared network(s)>")


class IsolationProbe:
    """What the stack's project shares with the other projects of ``[isolation]`` (``stack.isolation``)."""

    def __init__(self, section: IsolationSection, docker: DockerProbe) -> None:
        self.section = section
        self.docker = docker

    def __repr__(self) -> str:
        return f"<isolation probe {self.docker.section.compose_project} / {', '.join(self.section.other_projects)}>"

    def compare(self, other: str) -> IsolationFact:
        """Read both projects' containers (bounded by ``[docker] timeout_s`` per call); never raises."""
        ours, host = self.docker.section.compose_project, self.docker.section.host
        networks, paths = tuple(self.section.shared_networks_allowed), tuple(self.section.shared_paths_allowed)
        watch = Stopwatch()
        try:
            mine, theirs = self.resources(ours), self.resources(other)
        except Exception as exc:  # refused, no socket, timeout: a fact
            return IsolationFact(host, ProjectResources(ours), ProjectResources(other), watch.ms(),
                                 error=error_text(exc), networks_allowed=networks, paths_allowed=paths)
        return IsolationFact(host, mine, theirs, watch.ms(), networks_allowed=networks, paths_allowed=paths)

    def resources(self, project: str) -> ProjectResources:
        """The project's containers with their mounts and networks (docker inspect of each)."""
        api = self.docker.client.api
        listed = api.containers(all=True, filters={"label": f"com.docker.compose.project={project}"})
        volumes: dict[str, list[str]] = {}
        binds: dict[str, list[str]] = {}
        networks: dict[str, list[str]] = {}
        names = []
        for summary in listed:
            info = api.inspect_container(summary["Id"])
            name = info.get("Name", summary["Id"][:12]).lstrip("/")
            names.append(name)
            for mount in info.get("Mounts") or []:
                if mount.get("Type") == "volume" and mount.get("Name"):
                    volumes.setdefault(mount["Name"], []).append(name)
                elif mount.get("Type") == "bind" and mount.get("Source"):
                    binds.setdefault(mount["Source"], []).append(name)
            mode = (info.get("HostConfig") or {}).get("NetworkMode") or ""
            attached = list(((info.get("NetworkSettings") or {}).get("Networks") or {}))
            for network in attached or ([mode] if mode else []):
                networks.setdefault(network, []).append(name)
        freeze = lambda found: {k: tuple(sorted(v)) for k, v in found.items()}  # noqa: E731
        return ProjectResources(project, tuple(sorted(names)), freeze(volumes), freeze(binds), freeze(networks))



def from_stack(stack: Stack) -> IsolationProbe:
    """``stack.isolation``: what ``[docker] compose_project`` shares with the other projects of ``[isolation]``,
    on ``[docker]``'s engine."""
    section = stack.section("isolation")
    stack.needs("docker", "the projects' volumes and networks are read through its engine")
    return IsolationProbe(section, stack.docker)
