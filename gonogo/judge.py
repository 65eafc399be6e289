"""One way to judge a fact, so every failure reads the same: what, expected, actual, where to look.

::

    judge(f"{endpoint.name} status", fact.status == endpoint.status,
          expected=endpoint.status, actual=fact.status_text, where=endpoint.url, fact=fact)

passes silently or fails the check with::

    ready status: expected 200, got no answer after 5003 ms: connection refused
      look at: https://shop.example.org/health/ready/

The first line is the check's one-line reason in gate.json and the summary. The fact's evidence
(``fact.evidence()``) is attached to the report once per check, whether the check passes or not:
the release manager sees what was observed, not only what failed.
"""

from __future__ import annotations

import pytest

from gonogo import evidence
from gonogo.fact import Fact


def judge(what: str, ok: bool, *, expected: object, actual: object, where: str | None = None,
          fact: Fact | None = None) -> None:
    """Pass when ``ok``; otherwise fail the check with one message that explains itself."""
    __tracebackhide__ = True
    if fact is not None:
        evidence.attach_fact(fact)
    if ok:
        return
    pytest.fail(message(what, expected, actual, where), pytrace=False)


def message(what: str, expected: object, actual: object, where: str | None = None) -> str:
    """The failure text: ``what: expected X, got Y`` and, on the next line, where to look."""
    text = f"{what}: expected {_show(expected)}, got {_show(actual)}"
    return text + (f"\n  look at: {where}" if where else "")


def _show(value: object) -> str:
    return value if isinstance(value, str) else repr(value)
