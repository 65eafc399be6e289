"""What every probe returns: a :class:`Fact`, judged by :func:`gonogo.judge` and attached as evidence.

Probes observe facts (an HTTP answer, a router's status, a file's digest). They never assert. Each probe
returns a small frozen dataclass whose ``repr`` reads well in a failed assertion and which can render its
own evidence (``evidence()``, named by ``evidence_name``) for the report. Unreachable, refused, timed out:
these are facts too. Every network call has a timeout.

The pieces every fact shares are written once, here: the base :class:`Observed` (a frozen dataclass with a
masked ``repr`` and a masked evidence name), :class:`Stopwatch` (how long an observation took: ``elapsed_ms``)
and :func:`no_answer` (``no answer after 5003 ms: connection refused``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, ClassVar, Protocol, cast, dataclass_transform, runtime_checkable

from gonogo.secrets import masker


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


class _Fields(dict[str, Any]):
    """A fact's fields and properties, by name, for :attr:`Observed.EVIDENCE_NAME`'s template."""

    def __init__(self, fact: object) -> None:
        super().__init__()
        self.fact = fact

    def __missing__(self, name: str) -> Any:
        return getattr(self.fact, name)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
class Observed:
    """The base of every fact (and of the parts of one): a frozen dataclass, its ``repr`` and evidence name masked.

    A subclass is made a frozen dataclass of its annotated fields (no decorator: the ``repr`` is this one's,
    never a dataclass's own, which would show a secret unmasked; ``frozen=False`` in its bases for one that grows
    while it observes, as the watch window). It says:

    - ``EVIDENCE_NAME``: its evidence's name, a template of its fields and properties (``"docker engine {host}"``),
      or :meth:`evidence_title` when the name takes more than fields;
    - :meth:`one_line`: itself in one line, for its ``repr`` (in a failed assertion, in a list of parts); by
      default the dataclass's own text.

    Both are masked here, once (:data:`gonogo.secrets.masker`).
    """

    #: the evidence's name: a template of the fact's fields and properties (``str.format``), masked
    EVIDENCE_NAME: ClassVar[str] = ""

    def __init_subclass__(cls, *, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=frozen, repr=False)(cls)

    def evidence_title(self) -> str:
        """The evidence's name, unmasked: ``EVIDENCE_NAME`` filled with the fact's fields and properties."""
        return self.EVIDENCE_NAME.format_map(_Fields(self))

    @property
    def evidence_name(self) -> str:
        """The attachment's name in the report, masked."""
        return masker.mask(self.evidence_title())

    def one_line(self) -> str:
        """The fact in one line, unmasked (its ``repr`` masks it); by default as a dataclass shows itself
        (``DumpFact(file='...', ...)``, the fields of ``field(repr=False)`` left out)."""
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(cast(Any, self)) if f.repr)
        return f"{type(self).__qualname__}({shown})"

    def __repr__(self) -> str:
        return masker.mask(self.one_line())


class Stopwatch:
    """How long an observation takes: started when made, read (in milliseconds) when the fact is written.

    ::

        watch = Stopwatch()
        try:
            answer = ask()
        except OSError as exc:
            return SomeFact(where, watch.ms(), error=str(exc))
        return SomeFact(where, watch.ms(), answer)
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def ms(self) -> float:
        """Milliseconds since the stopwatch was made."""
        return (time.perf_counter() - self.started) * 1000


def no_answer(elapsed_ms: float, error: object, what: str = "no answer") -> str:
    """What a question that got no answer says: ``no answer after 5003 ms: connection refused`` (``what``: the
    words before "after", as ``no certificate`` or ``no connection``)."""
    return f"{what} after {elapsed_ms:.0f} ms: {error}"
