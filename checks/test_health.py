"""Health endpoints answer, through the proxy, and say every component is healthy.

Runbook steps: SMK-6.1/6.2/6.3 (/health/live, /ready, /detailed), RCY-4.3 (the API health through
Traefik), BTQ-4.2 (the sanity API), SMK-4/SMK-5 and RBK-3.3 (after a restore or a rollback).
Each ``[[health]]`` entry of the profile is one check (with the entry's severity and runbook steps);
the latency check applies to the entries that set ``max_ms``.

This module is the example the other subjects copy: parametrised declaratively with
``@pytest.mark.each``, probes from the session ``stack`` fixture, every judgement through
``gonogo.judge`` (what, expected, actual, where to look; the response attached as evidence).
"""

from __future__ import annotations

from typing import Any

import pytest

from gonogo import judge
from gonogo.fixtures import Converge
from gonogo.probes.http import HttpFact
from gonogo.profile import HealthEndpoint, Profile
from gonogo.stack import Stack
from gonogo.waiting import SideBySide, Wait

#: states a component may report and still be healthy
HEALTHY_STATES = ("ok", "healthy", "up", "pass")
#: top-level keys of a health body that carry the application's own explanation
EXPLANATION_KEYS = ("error", "detail", "message", "reason")


def _get(stack: Stack, endpoint: HealthEndpoint) -> HttpFact:
    return stack.http.get(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s)


def _lookup(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return KeyError(dotted)
        body = body[part]
    return body


def body_problems(endpoint: HealthEndpoint, fact: HttpFact) -> list[str]:
    """What in the body contradicts 'healthy' (expected keys and values, unhealthy components)."""
    if not endpoint.json_body and not endpoint.components_key:
        return []
    body = fact.json()
    if body is None:
        return [f"the body is not JSON: {fact.body[:200]!r}"]
    if not isinstance(body, dict):
        return [f"the body is JSON but not an object ({fact.body.strip()[:100]}): its keys cannot be checked"]
    problems = []
    for key, expected in endpoint.json_body.items():
        actual = _lookup(body, key)
        if isinstance(actual, KeyError):
            problems.append(f"{key}: missing (expected {expected!r})")
        elif actual != expected:
            problems.append(f"{key}: {actual!r} (expected {expected!r})")
    if endpoint.components_key:
        components = _lookup(body, endpoint.components_key)
        if not isinstance(components, dict) or not components:
            problems.append(f"{endpoint.components_key}: no components listed")
        else:
            for name, state in components.items():
                status = state.get("status") if isinstance(state, dict) else state
                if str(status).lower() not in HEALTHY_STATES:
                    error = state.get("error") if isinstance(state, dict) else None
                    problems.append(f"{endpoint.components_key}.{name}: {status!r}" + (f" ({error})" if error else ""))
    if problems:
        said = [f"{key}={body[key]!r}" for key in EXPLANATION_KEYS if key in body and body[key]]
        if said:
            problems.append("the body says " + ", ".join(said))
    return problems


def healthy(endpoint: HealthEndpoint, fact: HttpFact) -> bool:
    return fact.status == endpoint.status and not body_problems(endpoint, fact)


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


@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.each("health", "endpoint")
def test_endpoint_healthy(endpoint: HealthEndpoint, stack: Stack, readiness: SideBySide[HttpFact],
                          converge: Converge) -> None:
    """The health endpoint answers the expected status and its body says healthy."""
    if endpoint.name in readiness:  # right after a deploy: wait for it (side by side with the others)
        fact = converge.record(readiness.result(endpoint.name)).value or _get(stack, endpoint)
    else:
        fact = _get(stack, endpoint)
    judge(f"{endpoint.name} status", fact.status == endpoint.status,
          expected=endpoint.status, actual=fact.status_text, where=endpoint.url, fact=fact)
    problems = body_problems(endpoint, fact)
    judge(f"{endpoint.name} body", not problems, expected="a body that says healthy",
          actual=f"status {fact.status} but " + "; ".join(problems), where=endpoint.url, fact=fact)


def _has_budget(endpoint: HealthEndpoint) -> bool:
    return endpoint.max_ms is not None


@pytest.mark.postdeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("RBK-5.3")
@pytest.mark.each("health", "endpoint", where=_has_budget, optional=True, what="max_ms", inherit=False)
def test_endpoint_fast(endpoint: HealthEndpoint, stack: Stack) -> None:
    """The endpoint answers its expected status within its latency budget (max_ms)."""
    fact = _get(stack, endpoint)
    ok = fact.status == endpoint.status and fact.elapsed_ms <= (endpoint.max_ms or 0)
    judge(f"{endpoint.name} latency", ok, expected=f"status {endpoint.status} within {endpoint.max_ms} ms",
          actual=f"{fact.status_text} in {fact.elapsed_ms:.0f} ms", where=endpoint.url, fact=fact)
