"""Health endpoints answer, through the proxy, and say every component is healthy.

Runbook steps: SMK-6.1/6.2/6.3 (/health/live, /ready, /detailed), RCY-4.3 (the API health through
Traefik), BTQ-4.2 (the sanity API), SMK-4/SMK-5 and RBK-3.3 (after a restore or a rollback).
Each ``[[health]]`` entry of the profile is one parametrised check.
"""

from __future__ import annotations

from typing import Any

import pytest

from gonogo import LoadedEnvironment, attach
from gonogo.params import from_profile
from gonogo.probes.http import HttpFact, fetch
from gonogo.profile import HealthEndpoint


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "endpoint" not in metafunc.fixturenames:
        return
    if metafunc.function is test_endpoint_healthy:  # the endpoint's own severity and runbook steps
        from_profile(metafunc, "endpoint", "health", ids=lambda e: e.name, marks=lambda e: [
            pytest.mark.severity(e.severity), *([pytest.mark.runbook(*e.runbook)] if e.runbook else [])])
    else:  # the latency check applies to the endpoints that have a budget
        from_profile(metafunc, "endpoint", "health", ids=lambda e: e.name,
                     where=lambda e: e.max_ms is not None, what="[[health]] max_ms")


def _probe(endpoint: HealthEndpoint, env: LoadedEnvironment) -> HttpFact:
    return fetch(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s,
                 resolve=env.profile.environment.resolve, ca_file=env.ca_path)


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
                if str(status).lower() not in ("ok", "healthy", "up", "pass"):
                    problems.append(f"{endpoint.components_key}.{name}: {status!r}" + (f" ({state.get('error')})" if isinstance(state, dict) and state.get("error") else ""))
    return problems


@pytest.mark.postdeploy
@pytest.mark.rollback
def test_endpoint_healthy(endpoint: HealthEndpoint, gonogo_env: LoadedEnvironment, converge: Any) -> None:
    """The health endpoint answers the expected status and its body says healthy."""

    def healthy(fact: HttpFact) -> bool:
        return fact.status == endpoint.status and not body_problems(endpoint, fact)

    fact = _probe(endpoint, gonogo_env)
    if not healthy(fact) and endpoint.ready_within_s > 0:
        try:
            fact = converge(lambda: _probe(endpoint, gonogo_env), healthy, timeout_s=endpoint.ready_within_s,
                            interval_s=1.0, what=f"{endpoint.name} healthy")
        except AssertionError:
            fact = _probe(endpoint, gonogo_env)
    attach(f"{endpoint.name} response", fact.evidence())
    assert fact.status == endpoint.status, (
        f"{endpoint.name}: expected status {endpoint.status}, got "
        f"{fact.status if fact.status is not None else 'no answer'}: {fact!r}"
    )
    problems = body_problems(endpoint, fact)
    assert not problems, f"{endpoint.name}: status {fact.status} but the body says unhealthy: {'; '.join(problems)}"


@pytest.mark.postdeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("RBK-5.3")
def test_endpoint_fast(endpoint: HealthEndpoint, gonogo_env: LoadedEnvironment) -> None:
    """The endpoint answers within its latency budget (max_ms)."""
    assert endpoint.max_ms is not None
    fact = _probe(endpoint, gonogo_env)
    attach(f"{endpoint.name} response", fact.evidence())
    assert fact.status is not None, f"{endpoint.name}: no answer: {fact!r}"
    assert fact.elapsed_ms <= endpoint.max_ms, (
        f"{endpoint.name}: answered in {fact.elapsed_ms:.0f} ms, budget {endpoint.max_ms} ms: {fact!r}"
    )
