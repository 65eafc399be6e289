"""The watch window: the stack observed for a while after the deploy, and judged on the whole window.

BTQ-7 asks for "15-30 min of monitoring without critical errors" before go, RBK-5.3 for availability
over 99 % and an error rate under 1 %. ``--watch 15m --every 30s`` runs :func:`run_window`: every
``every`` seconds one round probes each watchable ``[[health]]`` endpoint (judged healthy as the health
checks judge it), scans each service's log lines written since the last round for critical patterns,
and reads Traefik's counters; the window ends when its time is up, or at Ctrl-C (then marked cut
short, judged on what was seen). :class:`Window` is the fact: every round, as a timeline.
"""

from __future__ import annotations

import contextlib
import html
import signal
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import TYPE_CHECKING, Callable

from gonogo.fact import Observed
from gonogo.probes import silence
from gonogo.probes.diff import Part, Traffic, error_rates, metrics_url, traffic_now
from gonogo.probes.docker import no_container
from gonogo.probes.health import body_problems
from gonogo.secrets import masker
from gonogo.sections.watch import WatchSection, show

if TYPE_CHECKING:
    from gonogo.probes.logs import LogMatch
    from gonogo.stack import Stack


@dataclass(frozen=True)
class Probe:
    """One endpoint's answer in one round."""

    endpoint: str
    ok: bool
    status_text: str
    elapsed_ms: float


@dataclass(frozen=True)
class LogRead:
    """One service's log read in one round: its containers and the lines read."""

    service: str
    containers: tuple[str, ...]
    lines: int


@dataclass(frozen=True)
class Round:
    """One round of the window: when (seconds after it began), each endpoint's answer, the log lines found, each
    service's log read, and why a service's log was not (the engine's error, no container)."""

    at_s: float
    probes: tuple[Probe, ...]
    log_lines: tuple[LogMatch, ...] = ()
    log_errors: tuple[str, ...] = ()
    log_reads: tuple[LogRead, ...] = ()


class Window(Observed, frozen=False):
    """What the window saw: its rounds, Traefik's counters at its start and end, whether it was cut short."""

    EVIDENCE_NAME = "watch window timeline"

    environment: str
    planned_s: float
    every_s: float
    rounds: list[Round] = field(default_factory=list)
    elapsed_s: float = 0.0
    cut_short: bool = False
    traffic_start: Part | None = None
    traffic_end: Part | None = None
    #: the services whose logs each round reads
    log_services: tuple[str, ...] = ()

    @property
    def probes(self) -> list[Probe]:
        return [p for r in self.rounds for p in r.probes]

    @property
    def availability(self) -> float | None:
        probes = self.probes
        return sum(p.ok for p in probes) / len(probes) if probes else None

    @property
    def failures(self) -> list[tuple[float, Probe]]:
        return [(r.at_s, p) for r in self.rounds for p in r.probes if not p.ok]

    @property
    def log_lines(self) -> list[LogMatch]:
        return [m for r in self.rounds for m in r.log_lines]

    @property
    def log_errors(self) -> list[str]:
        return sorted({e for r in self.rounds for e in r.log_errors})

    @property
    def logs_read(self) -> dict[str, str]:
        """Each watched service's log as read over the window ("12 line(s) in 3 round(s) from shop-web-1");
        a service no round read is absent."""
        read: dict[str, list[LogRead]] = {}
        for entry in (e for r in self.rounds for e in r.log_reads):
            read.setdefault(entry.service, []).append(entry)
        return {s: f"{sum(r.lines for r in reads)} line(s) in {len(reads)} round(s) from "
                   f"{', '.join(dict.fromkeys(c for r in reads for c in r.containers))}" for s, reads in read.items()}

    def rates(self, only: list[str] | None = None) -> dict[str, tuple[float, float]] | None:
        """(requests, 5xx answers) per Traefik service over the window; None when the counters were not read."""
        start, end = self.traffic_start, self.traffic_end
        if start is None or end is None or start.error or end.error or start.value is None or end.value is None:
            return None
        return error_rates(start.value, end.value, only)

    @property
    def span(self) -> str:
        text = f"{show(self.elapsed_s)} of {show(self.planned_s)}, {len(self.rounds)} round(s) every {show(self.every_s)}"
        return text + (", cut short (Ctrl-C)" if self.cut_short else "")

    def evidence(self) -> str:
        lines = [f"watch window of {self.environment}: {self.span}"]
        availability = self.availability
        lines.append("availability: " + ("no probe" if availability is None else
                                         f"{availability:.2%} ({len(self.probes) - len(self.failures)} of {len(self.probes)} probes ok)"))
        for r in self.rounds:
            marks = " ".join(f"{p.endpoint}={'ok' if p.ok else 'FAIL'}" for p in r.probes)
            bad = [f"    {p.endpoint}: {p.status_text}" for p in r.probes if not p.ok]
            logs = [f"    log {m.container}: {m.line[:300]}" for m in r.log_lines]
            logs += [f"    logs not read: {e}" for e in r.log_errors]
            lines.append(f"+{show(r.at_s):>7}  {marks}")
            lines.extend(bad + logs)
        read = self.logs_read
        lines.append("logs read: " + ("; ".join(f"{s}: {read.get(s, 'never read')}" for s in self.log_services)
                                      or "none (no service to read)"))
        rates = self.rates()
        if rates is None:
            why = next((p.error for p in (self.traffic_start, self.traffic_end) if p is not None and p.error), "not read")
            lines.append(f"Traefik counters: {why}")
        else:
            lines.append("Traefik 5xx over the window: " + ("; ".join(
                f"{s}: {e:g} of {r:g}" for s, (r, e) in rates.items()) or "no request"))
        return masker.mask("\n".join(lines))

    def timeline_html(self) -> str:
        """The rounds as a strip of cells per endpoint (green ok, red failed), for the report."""
        endpoints = list(dict.fromkeys(p.endpoint for p in self.probes))
        head = "".join(f"<th>+{show(r.at_s)}</th>" for r in self.rounds)
        body = []
        for name in endpoints:
            cells = []
            for r in self.rounds:
                probe = next((p for p in r.probes if p.endpoint == name), None)
                colour = "#ccc" if probe is None else ("#2e7d32" if probe.ok else "#c62828")
                title = "" if probe is None else html.escape(masker.mask(probe.status_text))
                cells.append(f'<td title="{title}" style="background:{colour};min-width:14px"></td>')
            body.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
        logs = ["<tr><th>logs</th>" + "".join(
            f'<td style="background:{"#c62828" if r.log_lines or r.log_errors else "#2e7d32"}"></td>' for r in self.rounds) + "</tr>"]
        return masker.mask(f"<html><body><p>{html.escape(self.span)}</p><table style='border-collapse:collapse'>"
                           f"<tr><th></th>{head}</tr>{''.join(body + logs)}</table></body></html>")

    def one_line(self) -> str:
        return f"<watch window {self.environment}: {self.span}>"


def run_window(stack: Stack, section: WatchSection, duration_s: float, every_s: float,
               progress: Callable[[Window], None] = lambda w: None,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Window:
    """Observe the stack for ``duration_s``, a round every ``every_s``; Ctrl-C ends it early (cut short)."""
    profile = stack.env.profile
    names = section.health or [e.name for e in profile.health]
    endpoints = [e for e in profile.health if e.name in names]
    docker = profile.docker
    services = (section.services if section.services is not None else list(docker.services)) if docker else []
    patterns = section.log_patterns if section.log_patterns is not None else (list(docker.log_errors) if docker else [])
    window = Window(stack.env.name, duration_s, every_s, log_services=tuple(services))
    start = clock()
    wall_start = time.time()
    counted = metrics_url(stack, profile.diff) is not None  # Traefik's counters, when there is somewhere to read them
    window.traffic_start = traffic_now(stack, profile.diff) if counted else None
    seen: set[tuple[str, str]] = set()
    with _ctrl_c() as stopped:
        try:
            while True:
                round_start = clock()
                silence.forget()  # each round asks every target afresh: a timeout is that round's, not the window's
                probes = []
                for endpoint in endpoints:
                    fact = stack.http.get(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s)
                    problems = body_problems(endpoint, fact) if fact.status == endpoint.status else []
                    text = fact.status_text + (f": {'; '.join(problems)}" if problems else "")
                    probes.append(Probe(endpoint.name, fact.status == endpoint.status and not problems, text, fact.elapsed_ms))
                matches, errors, reads = [], [], []
                if services and patterns:
                    # the lines written since the previous round began (a line seen in an earlier round is not new)
                    since = wall_start + (window.rounds[-1].at_s if window.rounds else 0.0) - 1.0
                    for service in services:
                        scan = stack.logs.scan(service, patterns, since=max(since, wall_start))
                        fresh = [m for m in scan.matches if (m.container, m.line) not in seen]
                        seen.update((m.container, m.line) for m in fresh)
                        matches.extend(fresh)
                        if scan.error or not scan.containers:  # not read: the engine's error, or no container
                            errors.append(scan.error or no_container(scan.project, service))
                        else:
                            reads.append(LogRead(service, scan.containers, scan.lines_read))
                window.rounds.append(Round(round_start - start, tuple(probes), tuple(matches), tuple(errors), tuple(reads)))
                window.elapsed_s = clock() - start
                progress(window)
                if window.elapsed_s >= duration_s:
                    break
                next_round = start + min(len(window.rounds) * every_s, duration_s)
                if stopped.is_set():
                    raise KeyboardInterrupt
                if sleep is time.sleep:
                    stopped.wait(max(0.0, next_round - clock()))  # Ctrl-C ends the wait at once
                else:
                    sleep(max(0.0, next_round - clock()))
                if stopped.is_set():
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            window.cut_short = True
    window.elapsed_s = clock() - start
    window.traffic_end = traffic_now(stack, profile.diff) if counted else None
    return window


@contextlib.contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """An event Ctrl-C (SIGINT) sets while the window runs, in the main thread: the window ends at its next step
    rather than where a KeyboardInterrupt would land (one raised where the loop cannot see it, inside code that
    catches or ignores it, was lost in a CI run: the window went on after Ctrl-C). A second Ctrl-C interrupts as
    usual."""
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return

    def handler(signum: int, frame: object) -> None:
        if stopped.is_set():
            raise KeyboardInterrupt
        stopped.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, previous)


__all__ = ["LogRead", "Probe", "Round", "Traffic", "Window", "run_window"]
