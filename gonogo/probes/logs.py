"""Logs probe: the recent log lines of each Compose service, searched for patterns.

``stack.logs`` is a :class:`LogsProbe` over ``stack.docker`` (``[docker]``: ``log_tail``,
``log_since_s``, ``log_allow``). Each container's window is its last ``log_tail`` lines written
since it started (a deploy or a restart starts a fresh window, as ``docker logs --since <start>``;
from a second before, as its first lines can be stamped before Docker records the start) and, when ``log_since_s`` is set, within the last that many seconds. Lines that match an allowed
pattern are never counted. The matching lines are kept (masked wherever they are shown) as evidence.
Every API call is bounded by ``[docker] timeout_s``; an unreachable engine is a fact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import datetime as dt
import re
import time
from dataclasses import dataclass

from gonogo.fact import Observed, Stopwatch
from gonogo.probes.containers import engine_error
from gonogo.probes.docker import DockerProbe, no_container
from gonogo.secrets import masker

if TYPE_CHECKING:
    from gonogo.stack import Stack

#: how many matching lines a fact keeps (the count covers them all)
KEEP = 20
#: a container's first lines can be stamped before Docker records its start: the window opens this much earlier
START_MARGIN_S = 1.0
#: the most lines one watch round reads of a container (the lines since the previous round)
WATCH_TAIL = 2000


@dataclass(frozen=True)
class LogMatch:
    """One line that matched, where, and the pattern it matched."""

    container: str
    pattern: str
    line: str


class LogScan(Observed):
    """What the window of a service's log holds for a list of patterns."""

    EVIDENCE_NAME = "log lines of service {service}"

    service: str
    project: str
    host: str
    #: the window, in words (e.g. "the last 100 lines since the container started, within the last 600 s")
    window: str
    elapsed_ms: float
    lines_read: int = 0
    #: every matching line (the first KEEP kept, ``count`` counts them all)
    count: int = 0
    matches: tuple[LogMatch, ...] = ()
    containers: tuple[str, ...] = ()
    error: str | None = None

    @property
    def text(self) -> str:
        if self.error is not None:
            return masker.mask(self.error)
        if not self.containers:
            return no_container(self.project, self.service)
        found = f"{self.count} matching line{'s' if self.count != 1 else ''}"
        if self.matches:
            found += f", first: {self.matches[0].line[:200]!r}"
        return masker.mask(f"{found} in {self.lines_read} line(s) read ({self.window})")

    def evidence(self) -> str:
        head = (f"engine {self.host}, project {self.project}, service {self.service}, "
                f"containers {', '.join(self.containers) or 'none'}\n"
                f"window: {self.window}; {self.lines_read} line(s) read in {self.elapsed_ms:.0f} ms")
        if self.error is not None:
            return masker.mask(f"{head}\n{self.error}")
        shown = [f"{m.container} [{m.pattern}] {m.line}" for m in self.matches]
        more = [f"... and {self.count - len(self.matches)} more"] if self.count > len(self.matches) else []
        return masker.mask("\n".join([head, f"{self.count} matching line(s)", *shown, *more]))

    def one_line(self) -> str:
        return f"<log scan {self.service}: {self.text}>"


def _epoch(started_at: str) -> float | None:
    """Docker's StartedAt (RFC 3339 with nanoseconds) as seconds since the epoch."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", started_at)
    if not match or started_at.startswith("0001-"):
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    moment = dt.datetime.fromisoformat(match.group(1) + zone).timestamp()
    return moment + float("0" + (match.group(2) or ".0"))


class LogsProbe:
    """Each service's recent log lines (``stack.logs``), through ``stack.docker``."""

    def __init__(self, docker_probe: DockerProbe) -> None:
        self.docker = docker_probe
        section = docker_probe.section
        self.allow = [re.compile(p) for p in section.log_allow]
        within = f", within the last {section.log_since_s:g} s" if section.log_since_s else ""
        self.window = f"the last {section.log_tail} lines since the container started{within}"

    def __repr__(self) -> str:
        return masker.mask(f"<logs of {self.docker.section.compose_project} at {self.docker.section.host}>")

    def scan(self, service: str, patterns: list[str], since: float | None = None) -> LogScan:
        """The lines of ``service``'s window that match one of ``patterns`` (and no allowed pattern).

        ``since`` (seconds since the epoch) replaces the window by the lines written since then (at most
        ``WATCH_TAIL``): the watch window reads each round's new lines."""
        section, watch = self.docker.section, Stopwatch()
        compiled = [re.compile(p) for p in patterns]
        names: list[str] = []
        matches: list[LogMatch] = []
        read = 0
        try:
            for container in self.docker.service_containers(service):
                names.append(container.name)
                for line in self._window(container.id, since):
                    read += 1
                    hit = next((p for p in compiled if p.search(line)), None)
                    if hit is not None and not any(a.search(line) for a in self.allow):
                        matches.append(LogMatch(container.name, hit.pattern, line))
        except Exception as exc:  # unreachable, timed out, an error answered: a fact
            return LogScan(service, section.compose_project, section.host, self.window, watch.ms(), read,
                           containers=tuple(names), error=engine_error(self.docker, exc))
        return LogScan(service, section.compose_project, section.host, self.window, watch.ms(), read, len(matches),
                       tuple(matches[:KEEP]), tuple(names))

    def _window(self, container_id: str, after: float | None = None) -> list[str]:
        api, section = self.docker.client.api, self.docker.section
        started = _epoch(str(api.inspect_container(container_id).get("State", {}).get("StartedAt", "")))
        opened = started - START_MARGIN_S if started is not None else None
        recent = after if after is not None else (time.time() - section.log_since_s if section.log_since_s else None)
        since = max(filter(None, [opened, recent]), default=None)
        tail = section.log_tail if after is None else max(section.log_tail, WATCH_TAIL)
        raw = api.logs(container_id, stdout=True, stderr=True, tail=tail,
                       **({"since": since} if since is not None else {}))
        return [line for line in raw.decode("utf-8", errors="replace").splitlines() if line.strip()]



def from_stack(stack: Stack) -> LogsProbe:
    """``stack.logs``: the recent log lines of each service of ``[docker]`` (``log_tail``, ``log_since_s``,
    ``log_allow``)."""
    return LogsProbe(stack.docker)
