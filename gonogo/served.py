"""What proves who served an answer: the headers and the body a profile expects of it, checked in one place.

A status alone does not say which backend answered (any backend, a catch-all router, a maintenance page
answers 200): a profile names what only the right one sends, as regular expressions searched in a header's
value (``expect_headers``, a page's ``headers``) and in the body (``expect_body``, a page's or a health
endpoint's ``body``, a websocket answer's ``expect_pattern``). :func:`unproven` says which of them did not hold;
each check keeps its own sentences for it (:class:`Wording`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


class Answer(Protocol):
    """An answer with headers and a body (:class:`gonogo.probes.http.HttpFact`)."""

    @property
    def body(self) -> str: ...

    def header(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class Wording:
    """How a check says what did not hold: ``{name}``, ``{value}`` and ``{pattern}`` of a header whose value does
    not match, ``{pattern}`` and ``{shown}`` (the body on one line, its first ``shown_chars`` characters) of a body."""

    header: str = "{name}: {value!r} (expected to match {pattern!r})"
    body: str = "the body does not match {pattern!r}: {shown!r}"
    shown_chars: int = 200


def unproven(answer: Answer | str, headers: Mapping[str, str] | None = None, body: str | None = None,
             wording: Wording = Wording()) -> list[str]:
    """What of the expected ``headers`` (name -> a regular expression searched in its value) and ``body`` (a regular
    expression searched in it) the answer does not show, in the check's words; empty when every one holds.

    ``answer`` is an answer with headers, or a text alone (a websocket message: it has no header)."""
    text = answer if isinstance(answer, str) else answer.body
    problems = []
    for name, pattern in (headers or {}).items():
        value = None if isinstance(answer, str) else answer.header(name)
        if value is None:
            problems.append(f"no {name} header")
        elif not re.search(pattern, value):
            problems.append(wording.header.format(name=name, value=value, pattern=pattern))
    if body is not None and not re.search(body, text):
        problems.append(wording.body.format(pattern=body, shown=" ".join(text.split())[:wording.shown_chars]))
    return problems
