"""The watch window before go-live: the stack observed for a while, judged on the whole window.

Runbook steps: BTQ-7 ("15-30 min of monitoring show no critical error" before go), RBK-5.3
(availability over 99 %, error rate under 1 %). ``pytest -m postdeploy --env prod --watch 15m --every 30s``
runs the postdeploy checks, then this window (last, in the gate's own process: the window prints its
progress as it goes). ``[watch]`` names the endpoints probed each round and the thresholds. Ctrl-C ends
the window early: it is judged on what was seen, and ``watch.window_complete`` fails (a warning), so a
cut-short window is never a clean GO. Without ``--watch`` these checks are not applicable.
"""

from __future__ import annotations

import pytest

from gonogo import evidence, judge, skips
from gonogo.probes.diff import over_rate
from gonogo.probes.watch import Window, run_window
from gonogo.sections.watch import WatchSection, show
from gonogo.stack import Stack


def _section(stack: Stack) -> WatchSection:
    return stack.env.profile.watch or WatchSection()


def _progress(config: pytest.Config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def show_progress(window: Window) -> None:
        failures = window.failures
        last = f", last: {failures[-1][1].endpoint} {failures[-1][1].status_text[:80]} at +{show(failures[-1][0])}" if failures else ""
        line = (f"[watch] {show(window.elapsed_s)} elapsed, {show(max(0.0, window.planned_s - window.elapsed_s))} left, "
                f"round {len(window.rounds)}: {len(failures)} failed probe(s) so far{last}, "
                f"{len(window.log_lines)} critical log line(s)")
        if reporter is None:
            return
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)

    return show_progress


@pytest.fixture(scope="session")
def window(stack: Stack, pytestconfig: pytest.Config) -> Window:
    """The watch window of this run (``--watch``, ``--every``), observed once and judged by each check."""
    duration = pytestconfig.getoption("gonogo_watch")
    if not duration:
        skips.not_applicable("not applicable: no watch window asked (pytest ... --watch 15m --every 30s)")
    every = min(pytestconfig.getoption("gonogo_every"), duration)
    return run_window(stack, _section(stack), duration, every, _progress(pytestconfig))


def _attach(window: Window) -> None:
    evidence.attach_fact(window)
    evidence.attach("watch window timeline (chart)", window.timeline_html(), "html")


@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-7", "RBK-5.3")
def test_available(window: Window, stack: Stack) -> None:
    """The watched endpoints answered healthy in at least [watch] min_availability of the window's probes."""
    _attach(window)
    section = _section(stack)
    availability = window.availability
    failures = window.failures
    shown = "; ".join(f"+{show(at)} {p.endpoint}: {p.status_text[:120]}" for at, p in failures[:5])
    more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
    judge("availability", availability is not None and availability >= section.min_availability,
          expected=f"at least {section.min_availability:.1%} of the probes healthy over the window",
          actual="no probe (no [[health]] entry to watch)" if availability is None else
          f"{availability:.1%} ({len(failures)} of {len(window.probes)} failed over {window.span}): {shown}{more}",
          where="the watch window timeline attached; [watch] health", fact=window)


@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-7")
def test_no_critical_log(window: Window, stack: Stack) -> None:
    """No service wrote a critical log line during the window ([watch] log_patterns, else [docker] log_errors);
    each service's log was read (a service with no container, or an engine that did not answer, is no pass)."""
    _attach(window)
    path = stack.env.display_path
    stack.needs("docker", "the window reads the services' logs through the Docker engine it names")
    if not window.log_services:
        skips.not_configured(f"not configured in {path}: [docker] services names no service whose log the window reads")
    errors = window.log_errors
    judge("logs during the window", not errors, expected="each service's log lines read", actual="; ".join(errors),
          where="[docker] host", fact=window)
    unread = [s for s in window.log_services if s not in window.logs_read]
    judge("logs during the window", not unread, expected="each service's log lines read",
          actual=f"no round read the log of {', '.join(unread)} ({window.span})", where="[docker] host", fact=window)
    lines = window.log_lines
    judge("critical log lines", not lines, expected="no critical log line during the window",
          actual=f"{len(lines)} line(s), first: {lines[0].container}: {lines[0].line[:200]!r}" if lines else "none",
          where=f"docker logs --since <window start> {lines[0].container}" if lines else None, fact=window)


@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RBK-5.3")
def test_error_rate(window: Window, stack: Stack) -> None:
    """Each Traefik service answered at most [watch] max_error_rate 5xx over the window."""
    _attach(window)
    section = _section(stack)
    if window.traffic_start is None:
        skips.not_configured("not configured: no [traefik] api nor [diff] metrics_url to read the error rate from")
    rates = window.rates()
    why = next((p.error for p in (window.traffic_start, window.traffic_end) if p is not None and p.error), None)
    judge("Traefik's counters", rates is not None, expected="read at the window's start and end", actual=why,
          where="Traefik's /metrics", fact=window)
    assert rates is not None
    over = over_rate(rates, section.max_error_rate)
    judge("error rate", not over, expected=f"at most {section.max_error_rate:.1%} 5xx answers per service",
          actual="; ".join(over), where="Traefik's /metrics (traefik_service_requests_total)", fact=window)


@pytest.mark.postdeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("BTQ-7")
def test_window_complete(window: Window) -> None:
    """The window ran its whole length (a window cut short by Ctrl-C was judged on what it saw: a warning)."""
    _attach(window)
    judge("watch window", not window.cut_short, expected=f"{show(window.planned_s)} watched",
          actual=f"cut short after {show(window.elapsed_s)} of {show(window.planned_s)} (Ctrl-C)", fact=window)
