"""Rollback probe: the release the stack runs, its rollback target's images, the rollback metrics file.

``stack.rollback`` is a :class:`RollbackProbe` built from ``[rollback]`` and ``[docker]``. It reads,
through the Docker engine (every call bounded by ``[docker] timeout_s``), the image tag each
release service's containers were started from (RBK-3.2), whether the engine holds every
service's image at the target tag (RBK-3.1, NPR-6: present in the engine; nothing is pulled), and
the rollback metrics file (RBK-5.1). :func:`infer_moment` tells "before" from "after" the rollback.
Facts only: an engine that does not answer, a missing or garbled file, are facts with an ``error``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonogo.environment import not_configured
from gonogo import skips
from gonogo import lazy
from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.probes.docker import DockerProbe, error_text
from gonogo.files import read_text
from gonogo.secrets import masker
from gonogo.sections.rollback import AFTER, BEFORE

if TYPE_CHECKING:
    from docker import errors as docker_errors

    from gonogo.stack import Stack
else:  # docker-py is imported when a probe first talks to an engine
    docker_errors = lazy.module("docker.errors")

#: the most of a metrics file read (its end: the newest records)
METRICS_READ_BYTES = 1_000_000


def tag_of(image: str) -> str | None:
    """The tag of an image reference (``registry:5000/shop/web:abc1234`` -> ``abc1234``); None for an id or digest."""
    if "@" in image or image.startswith("sha256:"):
        return None
    name = image.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[1] if ":" in name else None


def repository_of(image: str) -> str:
    """The repository of an image reference, without its tag."""
    tag = tag_of(image)
    return image[: -len(tag) - 1] if tag else image


@dataclass(frozen=True)
class ServiceRelease:
    """The containers of one service and the tags of the images they were started from."""

    service: str
    #: (container name, image reference)
    containers: tuple[tuple[str, str], ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(sorted({tag_of(image) or f"untagged {image[:19]}" for _, image in self.containers}))

    @property
    def repository(self) -> str | None:
        repositories = {repository_of(image) for _, image in self.containers if tag_of(image)}
        return repositories.pop() if len(repositories) == 1 else None

    def describe(self) -> str:
        return f"{self.service} {'/'.join(self.tags)}" if self.containers else f"{self.service}: no container"


class RunningRelease(Observed):
    """The release the stack runs, read from its services' containers (RBK-3.2)."""

    EVIDENCE_NAME = "running release of {project}"

    host: str
    project: str
    services: tuple[ServiceRelease, ...] = ()
    elapsed_ms: float = 0.0
    #: the engine did not answer (or answered an error)
    error: str | None = None

    @property
    def version(self) -> str | None:
        """The one release every service runs, or None (mixed, untagged, a service without a container)."""
        tags = {tag for s in self.services for tag in s.tags}
        complete = all(s.containers for s in self.services) and self.services
        return tags.pop() if complete and len(tags) == 1 and not next(iter(tags)).startswith("untagged") else None

    def problems(self) -> list[str]:
        """Why there is no one version: services without a container, untagged images, several tags."""
        if self.error:
            return [f"the docker engine at {self.host} did not answer: {self.error}"]
        if not self.services:
            return ["no service is listed"]
        problems = [f"{s.service} has no container in project {self.project}" for s in self.services if not s.containers]
        problems += [f"{s.service} runs an untagged image" for s in self.services if any(t.startswith("untagged") for t in s.tags)]
        if self.version is None and not problems:
            problems.append("mixed versions: " + ", ".join(s.describe() for s in self.services))
        return problems

    def on(self, version: str) -> list[str]:
        """The services whose every container runs ``version``."""
        return [s.service for s in self.services if s.containers and s.tags == (version,)]

    def describe(self) -> str:
        return ", ".join(s.describe() for s in self.services)

    def evidence(self) -> str:
        if self.error:
            return masker.mask(f"{self.host}: {no_answer(self.elapsed_ms, self.error)}")
        lines = [f"{self.host}, project {self.project} ({self.elapsed_ms:.0f} ms)"]
        for s in self.services:
            lines += [f"{s.service}: {name} {image}" for name, image in s.containers] or [f"{s.service}: no container"]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<running release {self.project}: {self.error or self.version or self.describe()}>"


@dataclass(frozen=True)
class TargetImage:
    """One service's image at the rollback target's tag, as the engine holds it (or not)."""

    service: str
    ref: str | None
    present: bool = False
    image_id: str | None = None
    #: why presence could not be told (no container to take the repository from, the engine's error)
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"{self.service}: {self.error}"
        return f"{self.service}: {self.ref} {'present ' + (self.image_id or '')[:19] if self.present else 'missing'}"


class TargetRelease(Observed):
    """Whether the engine holds the rollback target's image for every service (RBK-3.1, NPR-6)."""

    EVIDENCE_NAME = "rollback target {target}"

    target: str
    images: tuple[TargetImage, ...] = ()
    elapsed_ms: float = 0.0

    @property
    def incomplete(self) -> list[TargetImage]:
        """The services whose target image is missing or could not be told."""
        return [i for i in self.images if not i.present]

    def evidence(self) -> str:
        lines = [f"target {self.target} ({self.elapsed_ms:.0f} ms)", *(i.describe() for i in self.images)]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        missing = ", ".join(i.service for i in self.incomplete)
        return f"<rollback target {self.target}: {'missing for ' + missing if missing else 'complete'}>"


@dataclass(frozen=True)
class RollbackRecord:
    """One record of the rollback metrics file (the keys of recyclic's ``rollback-metrics.json``)."""

    line: int
    timestamp: dt.datetime | None
    #: the release rolled back to
    version: str | None
    #: the release rolled back from (when recorded)
    from_version: str | None
    duration_s: float | None
    status: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        when = self.timestamp.isoformat() if self.timestamp else "no timestamp"
        return (f"line {self.line}: {when} {self.from_version or '?'} -> {self.version or '?'}, "
                f"{self.status or 'no status'}, {'?' if self.duration_s is None else f'{self.duration_s:g}'} s")


class RollbackMetrics(Observed):
    """The rollback metrics file and its records, oldest first (RBK-5.1)."""

    EVIDENCE_NAME = "rollback metrics {path}"

    path: Path
    records: tuple[RollbackRecord, ...] = ()
    #: lines that are not a JSON object
    unreadable: tuple[str, ...] = ()
    #: the file could not be read (missing, permission denied, not JSON at all)
    error: str | None = None

    @property
    def newest(self) -> RollbackRecord | None:
        return self.records[-1] if self.records else None

    def evidence(self) -> str:
        if self.error:
            return masker.mask(f"{self.path}: {self.error}")
        lines = [f"{self.path}: {len(self.records)} record(s)", *(r.describe() for r in self.records[-10:]),
                 *(f"unreadable: {u}" for u in self.unreadable)]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<rollback metrics {self.path.name}: {self.error or (self.newest.describe() if self.newest else 'no record')}>"


@dataclass(frozen=True)
class Moment:
    """Which side of the rollback this run judges, and why (chosen with ``--rollback-moment``, or inferred)."""

    #: before, after, or None when it cannot be told
    name: str | None
    chosen: bool
    why: str

    def describe(self) -> str:
        how = "--rollback-moment" if self.chosen else "inferred"
        return f"{self.name or 'unknown'} the rollback ({how}: {self.why})"


def infer_moment(running: RunningRelease, target: str | None, chosen: str = "auto") -> Moment:
    """``chosen`` when given; else "after" when any service runs the target (every one: a rollback done; some:
    a partial rollback), "before" when every service runs one release that is not the target, else unknown."""
    if chosen in (BEFORE, AFTER):
        return Moment(chosen, True, f"--rollback-moment={chosen}")
    if not target:
        return Moment(None, False, "there is no rollback target to compare the running release with")
    if running.error:
        return Moment(None, False, f"the running release cannot be read: {running.problems()[0]}")
    on_target = running.on(target)
    if on_target and len(on_target) == len(running.services):
        return Moment(AFTER, False, f"every service runs the target {target}")
    if on_target:
        return Moment(AFTER, False, f"{', '.join(on_target)} run(s) the target {target}, not the others: "
                                    f"a partial rollback ({running.describe()})")
    if running.version:
        return Moment(BEFORE, False, f"every service runs {running.version}, not the target {target}")
    return Moment(None, False, "; ".join(running.problems()))


class RollbackProbe:
    """The stack's release and its rollback target through ``[docker]``'s engine; the metrics file."""

    def __init__(self, docker_probe: DockerProbe, services: list[str], metrics_file: Path | None) -> None:
        self.docker = docker_probe
        self.services = services
        self.metrics_file = metrics_file

    def __repr__(self) -> str:
        return masker.mask(f"<rollback probe {self.docker.section.compose_project}: {', '.join(self.services)}>")

    def running(self) -> RunningRelease:
        """The image each service's containers (running or not, one-offs left out) were started from."""
        section = self.docker.section
        watch = Stopwatch()
        try:
            found = tuple(ServiceRelease(s, tuple((c.name, c.image) for c in self.docker.service_containers(s)))
                          for s in self.services)
        except Exception as exc:  # refused, no socket, timeout: a fact
            return RunningRelease(section.host, section.compose_project, elapsed_ms=watch.ms(), error=error_text(exc))
        return RunningRelease(section.host, section.compose_project, found, watch.ms())

    def target(self, target: str, running: RunningRelease) -> TargetRelease:
        """Whether the engine holds ``<repository>:<target>`` for every service, the repository being the one
        its containers run. Only the engine is asked: a registry is never reached, nothing is pulled."""
        watch = Stopwatch()
        return TargetRelease(target, tuple(self._image(s, target, running.error) for s in running.services)
                             or tuple(TargetImage(s, None, error=running.problems()[0]) for s in self.services),
                             watch.ms())

    def _image(self, service: ServiceRelease, target: str, engine_error: str | None) -> TargetImage:
        if engine_error:
            return TargetImage(service.service, None, error=f"the docker engine did not answer: {engine_error}")
        repository = service.repository
        if repository is None:
            why = "no container to take its image repository from" if not service.containers else \
                "its containers run images of several repositories, or untagged ones"
            return TargetImage(service.service, None, error=why)
        ref = f"{repository}:{target}"
        try:
            image = self.docker.client.api.inspect_image(ref)
        except docker_errors.ImageNotFound:
            return TargetImage(service.service, ref, present=False)
        except Exception as exc:  # timeout, refused: a fact
            return TargetImage(service.service, ref, error=error_text(exc))
        return TargetImage(service.service, ref, present=True, image_id=image.get("Id"))

    def metrics(self) -> RollbackMetrics:
        """The records of the metrics file (its last ``METRICS_READ_BYTES``)."""
        path = self.metrics_file
        if path is None:
            return RollbackMetrics(Path("-"), error="no metrics file is configured ([rollback] metrics_file)")
        read = read_text(path, METRICS_READ_BYTES, tail=True)  # a regular file only: a FIFO or /dev/zero never waits
        if read.text is None:
            return RollbackMetrics(path, error=f"the file {read.error}")
        return parse_metrics(path, read.text)


def parse_metrics(path: Path, text: str) -> RollbackMetrics:
    """Records from a JSON object, a JSON array of objects, or JSON lines (one object per line)."""
    items: list[tuple[int, Any]] | None = None
    try:
        whole: Any = json.loads(text)
        items = [(1, whole)] if isinstance(whole, dict) else list(enumerate(whole, 1)) if isinstance(whole, list) else None
    except json.JSONDecodeError:
        pass
    if items is None:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((number, json.loads(line)))
                except json.JSONDecodeError:
                    items.append((number, line))
    records = tuple(_record(n, item) for n, item in items if isinstance(item, dict))
    unreadable = tuple(f"line {n}: {str(item)[:120]}" for n, item in items if not isinstance(item, dict))
    if not records and not unreadable:
        return RollbackMetrics(path, error="the file holds no record")
    return RollbackMetrics(path, records, unreadable)


def _record(line: int, item: dict[str, Any]) -> RollbackRecord:
    duration = item.get("duration_seconds", item.get("duration_s"))
    try:
        seconds = float(duration) if duration is not None else None
    except (TypeError, ValueError):
        seconds = None
    return RollbackRecord(line, _timestamp(item.get("timestamp")), _text(item.get("version", item.get("to"))),
                          _text(item.get("from")), seconds, _text(item.get("status")), item)


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None



def from_stack(stack: Stack) -> RollbackProbe:
    """``stack.rollback``: the release the services of ``[rollback]`` run and their target images, through
    ``[docker]``'s engine; the rollback metrics file (relative to the profile)."""
    section = stack.section("rollback")
    docker = stack.needs("docker", "the services' releases are read through its engine")
    services = section.services or docker.same_release_tag
    if not services:
        skips.not_configured(not_configured(stack.env, "[rollback] services (or [docker] same_release_tag)"))
    metrics = stack.env.resolve_path(section.metrics_file) if section.metrics_file else None
    return RollbackProbe(stack.docker, list(services), metrics)
