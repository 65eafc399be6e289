"""Parametrising checks from the profile: one test per configured item, or one 'not configured' skip."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from gonogo.environment import not_configured


def from_profile(
    metafunc: pytest.Metafunc,
    argname: str,
    key: str,
    ids: Callable[[Any], str],
    marks: Callable[[Any], Sequence[pytest.MarkDecorator]] = lambda _: (),
    where: Callable[[Any], bool] = lambda _: True,
    what: str | None = None,
) -> None:
    """Parametrise ``argname`` with the profile's list ``key`` (e.g. the ``[[health]]`` entries).

    ``where`` keeps only the entries the check applies to (e.g. those with a latency budget).
    When nothing is left the check is still collected once and skipped as "not configured"
    (``what`` names the missing key), so the gate can see it: a required check that did not
    run is a NO-GO.
    """
    from gonogo.plugin import ENVIRONMENT

    env = metafunc.config.stash.get(ENVIRONMENT, None)
    values = [v for v in getattr(env.profile, key) or [] if where(v)] if env is not None else []
    if not values:
        reason = not_configured(env, what or f"[[{key}]]") if env is not None else "gonogo is off (--no-gate)"
        metafunc.parametrize(argname, [pytest.param(None, id="not-configured", marks=pytest.mark.skip(reason=reason))])
        return
    metafunc.parametrize(argname, [pytest.param(v, id=ids(v), marks=list(marks(v))) for v in values])
