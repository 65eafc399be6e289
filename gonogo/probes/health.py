"""What a health endpoint's answer says: the expected status, and a body that says healthy.

Shared by the health checks (checks/test_health.py) and the watch window (checks/test_watch.py),
so an answer is judged healthy the same way in a snapshot and over a window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gonogo.probes.http import HttpFact

if TYPE_CHECKING:
    from gonogo.profile import HealthEndpoint

#: states a component may report and still be healthy
HEALTHY_STATES = ("ok", "healthy", "up", "pass")
#: top-level keys of a health body that carry the application's own explanation
EXPLANATION_KEYS = ("error", "detail", "message", "reason")


def _lookup(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return KeyError(dotted)
        body = body[part]
    return body


def body_problems(endpoint: "HealthEndpoint", fact: HttpFact) -> list[str]:
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


def healthy(endpoint: "HealthEndpoint", fact: HttpFact) -> bool:
    """The expected status, and nothing in the body that contradicts healthy."""
    return fact.status == endpoint.status and not body_problems(endpoint, fact)
