"""Health endpoints answer, through the proxy, and say every component is healthy.

Runbook steps: SMK-6.1/6.2/6.3 (/health/live, /ready, /detailed), RCY-4.3 (the API health through
Traefik), BTQ-4.2 (the sanity API), SMK-4/SMK-5 and RBK-3.3 (after a restore or a rollback).
Each ``[[health]]`` entry of the profile is one check (with the entry's severity and runbook steps);
the latency check applies to the entries that set ``max_ms``, weighs what their ``max_ms_severity`` says
(default warning), and is skipped as dependent on the status check when the status is wrong there too.

This module is the example the other subjects copy: parametrised declaratively with
``@pytest.mark.each``, probes from the session ``stack`` fixture, every judgement through
``gonogo.judge`` (what, expected, actual, where to look; the response attached as evidence).
"""

from __future__ import annotations

from typing import Any

import pytest

from gonogo import dependent, judge
from gonogo.fixtures import Converge
from gonogo.probes.health import body_problems, healthy
from gonogo.probes.http import HttpFact
from gonogo.profile import Profile
from gonogo.sections.health import HealthEndpoint
from gonogo.stack import Stack
from gonogo.waiting import SideBySide, Wait


def _get(stack: Stack, endpoint: HealthEndpoint) -> HttpFact:
    return stack.http.get(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s)


@pytest.fixture(scope="session")
def readiness(stack: Stack, profile: Profile) -> Any:
    """Endpoints with ``ready_within_s`` wait side by side: two that fail take one deadline, not two."""
    waits = {
        e.name: Wait(probe=lambda e=e: _get(stack, e), accept=lambda fact, e=e: healthy(e, fact),
                     timeout_s=e.ready_within_s, interval_s=1.0, what=f"{e.name} healthy")
        for e in profile.health if e.ready_within_s > 0
    }
    together: SideBySide[HttpFact] = SideBySide(waits)
    yield together
    together.close()


@pytest.fixture(scope="session")
def judged() -> dict[str, int | None]:
    """The status each endpoint's status check saw, for its latency check (under xdist's ``--dist loadfile`` both run
    in one process): a wrong status there is that check's failure, a wrong status only here a flapping endpoint."""
    return {}


@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.each("health", "endpoint")
def test_endpoint_healthy(endpoint: HealthEndpoint, stack: Stack, readiness: SideBySide[HttpFact],
                          converge: Converge, judged: dict[str, int | None]) -> None:
    """The health endpoint answers the expected status and its body says healthy."""
    if endpoint.name in readiness:  # right after a deploy: wait for it (side by side with the others)
        fact = converge.record(readiness.result(endpoint.name)).value or _get(stack, endpoint)
    else:
        fact = _get(stack, endpoint)
    judged[endpoint.name] = fact.status
    judge(f"{endpoint.name} status", fact.status == endpoint.status,
          expected=endpoint.status, actual=fact.status_text, where=endpoint.url, fact=fact)
    problems = body_problems(endpoint, fact)
    judge(f"{endpoint.name} body", not problems, expected="a body that says healthy",
          actual=f"status {fact.status} but " + "; ".join(problems), where=endpoint.url, fact=fact)


def _has_budget(endpoint: HealthEndpoint) -> bool:
    return endpoint.max_ms is not None


@pytest.mark.postdeploy
@pytest.mark.runbook("RBK-5.3")
@pytest.mark.each("health", "endpoint", where=_has_budget, optional=True, what="max_ms", inherit=False,
                  severity_from="max_ms_severity")
def test_endpoint_fast(endpoint: HealthEndpoint, stack: Stack, judged: dict[str, int | None]) -> None:
    """The endpoint answers within its latency budget (max_ms).

    Weighs what the entry's ``max_ms_severity`` says. A wrong status is ``endpoint_healthy``'s failure (this check is
    dependent on it), unless that check saw the right one: then the endpoint flaps, and this check fails."""
    fact = _get(stack, endpoint)
    seen = judged.get(endpoint.name)
    if fact.status != endpoint.status and seen != endpoint.status:
        dependent(f"health.endpoint_healthy[{endpoint.name}]",
                  f"{endpoint.name}: expected status {endpoint.status}, got {fact.status_text}; no latency to judge")
    flaps = f" (endpoint_healthy got {seen}: the endpoint flaps)" if fact.status != endpoint.status else ""
    judge(f"{endpoint.name} latency", fact.status == endpoint.status and fact.elapsed_ms <= (endpoint.max_ms or 0),
          expected=f"status {endpoint.status} within {endpoint.max_ms} ms",
          actual=f"{fact.status_text} in {fact.elapsed_ms:.0f} ms{flaps}", where=endpoint.url, fact=fact)
