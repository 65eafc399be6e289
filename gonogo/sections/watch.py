"""``[watch]``: what the watch window probes each round and what it must show; durations as ``--watch`` takes them.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.watch`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from gonogo.model import Section
from gonogo.sections.patterns import regex

DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


class WatchSection(Section):
    """``[watch]``: what the watch window probes each round, and what the window must show."""

    #: ``[[health]]`` entries probed each round (default: every one)
    health: list[str] = Field(default_factory=list)
    #: the share of probes that must succeed over the window (RBK-5.3: "availability over 99 %")
    min_availability: float = Field(default=0.99, ge=0, le=1)
    #: regular expressions of a critical log line (default: ``[docker] log_errors``); ``[docker] log_allow`` applies
    log_patterns: Annotated[list[str] | None, regex()] = None
    #: the services whose logs are watched (default: ``[docker] services``)
    services: list[str] | None = None
    #: the share of 5xx answers per Traefik service over the window (RBK-5.3: "error rate under 1 %")
    max_error_rate: float = Field(default=0.01, ge=0, le=1)

    @field_validator("log_patterns")
    @classmethod
    def _patterns(cls, patterns: list[str] | None) -> list[str] | None:
        if patterns == []:  # the window would find nothing in any log: no_critical_log would pass on any
            raise ValueError("is empty: the window would search the services' logs for nothing; "
                             "remove the key to use [docker] log_errors")
        return patterns

    @field_validator("services")
    @classmethod
    def _services(cls, services: list[str] | None) -> list[str] | None:
        if services == []:
            raise ValueError("is empty: the window would read no service's log; remove the key to watch [docker] services")
        return services


def parse_duration(text: str) -> float:
    """``15m``, ``30s``, ``1h30m``, ``90`` (seconds) as seconds; ValueError otherwise."""
    match = DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (write 15m, 30s, 1h30m or 90)")
    hours, minutes, seconds = match.groups()
    total = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)
    if total <= 0:
        raise ValueError(f"not a duration: {text!r} (it must be longer than 0 s)")
    return total


def show(seconds: float) -> str:
    """``1m30s``, ``45s``, ``1h0m``, ``0.25s``."""
    if 0 < seconds < 1:
        return f"{seconds:.2g}s"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
