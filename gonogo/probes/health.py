"""What a health endpoint's answer says: the expected status, and a body that says healthy.

A body is judged by what its entry asks: a regular expression searched in its text (``body``), a JSON value
compared whole, of any type (``json_value``: ``true``, ``"ok"``, a list or an object), keys of a JSON
object (``json``), and the components listed under a key (``components_key``). JSON values compare by type
as well as value: ``true`` is not ``1``.

Shared by the health checks (checks/test_health.py) and the watch window (checks/test_watch.py),
so an answer is judged healthy the same way in a snapshot and over a window.
"""

from __future__ import annotations

import json
from typing import Any

from gonogo import served
from gonogo.probes.http import HttpFact
from gonogo.sections.health import HealthEndpoint

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


def same_json(actual: Any, expected: Any) -> bool:
    """Equal as JSON values: same type and value (``true`` is not ``1``; ``1`` is ``1.0``), lists in order."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(same_json(actual[k], expected[k]) for k in actual)
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(map(same_json, actual, expected))
    return type(actual) is type(expected) and actual == expected


def _shown(text: str) -> str:
    return repr(" ".join(text.split())[:200])


def _text_problems(endpoint: HealthEndpoint, fact: HttpFact) -> list[str]:
    """The body's regular expression (``body``) and its whole JSON value (``json_value``)."""
    problems = served.unproven(fact, body=endpoint.body)
    if endpoint.json_value is not None:
        expected = json.dumps(endpoint.json_value)
        try:
            value = json.loads(fact.body)
        except ValueError:
            problems.append(f"the body is not JSON (expected {expected}): {_shown(fact.body)}")
        else:
            if not same_json(value, endpoint.json_value):
                problems.append(f"the body is {json.dumps(value)[:200]} (expected {expected})")
    return problems


def body_problems(endpoint: HealthEndpoint, fact: HttpFact) -> list[str]:
    """What in the body contradicts 'healthy' (its text or JSON value, expected keys and values, unhealthy components)."""
    problems = _text_problems(endpoint, fact)
    if not endpoint.json_body and not endpoint.components_key:
        return problems
    body = fact.json()
    if body is None:
        return [*problems, f"the body is not JSON: {fact.body[:200]!r}"]
    if not isinstance(body, dict):
        return [*problems, f"the body is JSON but not an object ({fact.body.strip()[:100]}): its keys cannot be "
                           "checked (json_value compares a whole value of any type)"]
    for key, expected in endpoint.json_body.items():
        actual = _lookup(body, key)
        if isinstance(actual, KeyError):
            problems.append(f"{key}: missing (expected {expected!r})")
        elif not same_json(actual, expected):
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
    """The expected status, and nothing in the body that contradicts healthy."""
    return fact.status == endpoint.status and not body_problems(endpoint, fact)
