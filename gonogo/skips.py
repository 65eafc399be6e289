"""The only skips gonogo accepts, as their own exception types (so the gate never guesses from a text).

- :class:`NotConfigured`: the subject is absent from the profile. The one legitimate skip.
- :class:`NotApplicable`: an optional sub-check (a latency budget, say) that applies to no entry
  of the profile; a check that judges its subject through another subject's table the profile does
  not have (:func:`needs`: "not applicable: needs [docker]"); a check the profile decided does not
  apply to the stack (``[[gate.not_applicable]]``, :class:`Decided`). It never makes its subject
  "missing", but a required subject none of whose checks judged anything is (gonogo.gate).
- :class:`Dependent`: the check depends on another one that failed (the body after the status);
  it is skipped instead of piling a second failure on the first. It names that check, and the gate
  accepts the skip only when the check it names failed (not waived) in the same run.

Any other skip of a blocker or critical check (``pytest.skip("cannot reach the docker daemon")``,
an empty parametrisation, ``importorskip``) is "not run", and a NO-GO.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

from gonogo.outcomes import DEPENDENT, NOT_APPLICABLE, NOT_CONFIGURED, SKIPPED

_Skipped: type[BaseException] = pytest.skip.Exception


class _Kind(_Skipped):  # type: ignore[valid-type,misc]  # pytest exposes the class only as skip.Exception
    kind = SKIPPED


class NotConfigured(_Kind):
    """The check's subject is absent from the environment profile."""

    kind = NOT_CONFIGURED


class NotApplicable(_Kind):
    """An optional sub-check that applies to no entry of the profile."""

    kind = NOT_APPLICABLE


class Decided(NotApplicable):
    """The profile decided, with a reason, that this check does not apply to the stack ([[gate.not_applicable]])."""


class Dependent(_Kind):
    """Skipped because a check this one depends on did not pass (``on`` names it)."""

    kind = DEPENDENT
    on = ""


for _class in (NotConfigured, NotApplicable, Decided, Dependent):
    # printed by pytest as "Skipped: <reason>", like any skip (pytest's own Skipped lives in "builtins")
    _class.__module__, _class.__qualname__ = "builtins", "Skipped"


def kind_of(exception: BaseException | None) -> str:
    """The skip kind of an exception raised by a check (``skipped`` for any other skip)."""
    return getattr(exception, "kind", SKIPPED) if isinstance(exception, _Skipped) else SKIPPED


def not_configured(reason: str) -> NoReturn:
    """Skip the calling check: its subject is absent from the profile (``reason`` names the key)."""
    raise NotConfigured(reason, _use_item_location=True)  # reported at the check, not here


def not_applicable(reason: str) -> NoReturn:
    """Skip the calling optional sub-check: it applies to nothing in this profile."""
    raise NotApplicable(reason, _use_item_location=True)


def needs(table: str, why: str) -> NoReturn:
    """Skip the calling check as "not applicable: needs [table]": it judges its own subject through another
    subject's table (``needs("docker", ...)`` for the compose file of the config subject, the daemon of the host
    subject), and the profile has none. Not "not configured": its own subject may be configured and required, and
    the check cannot apply to such a stack. A required subject none of whose checks judged anything is still missing."""
    raise NotApplicable(f"not applicable: needs [{table}] ({why})", _use_item_location=True)


def decided(reason: str) -> NoReturn:
    """Skip the calling check: the profile decided it does not apply to the stack (``[[gate.not_applicable]]``)."""
    raise Decided(reason, _use_item_location=True)


def dependent(on: str, why: str) -> NoReturn:
    """Skip the calling check because ``on`` (the id of the check it depends on, ``subject.check[param]``)
    failed. The gate accepts the skip only when that check failed (not waived) in the same run."""
    skip = Dependent(f"dependent on {on}: {why}", _use_item_location=True)
    skip.on = on
    raise skip


def depends_on(exception: BaseException | None) -> str:
    """The check a dependent skip names ("" for anything else)."""
    return str(getattr(exception, "on", "")) if isinstance(exception, Dependent) else ""
