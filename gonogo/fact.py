"""What every probe returns: a :class:`Fact`, judged by :func:`gonogo.judge` and attached as evidence.

Probes observe facts (an HTTP answer, a router's status, a file's digest). They never assert. Each probe
returns a small frozen dataclass whose ``repr`` reads well in a failed assertion and which can render its
own evidence (``evidence()``, named by ``evidence_name``) for the report. Unreachable, refused, timed out:
these are facts too. Every network call has a timeout.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Fact(Protocol):
    """What every probe returns: a frozen observation that can show its evidence."""

    @property
    def evidence_name(self) -> str:
        """The attachment's name in the report (e.g. ``GET https://shop/health/ready/``)."""
        ...

    def evidence(self) -> str:
        """The whole observation as text (status, headers, body; router JSON; SQL result)."""
        ...
