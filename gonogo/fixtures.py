"""The fixtures gonogo gives every check: the environment, its profile, the stack and convergence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gonogo import evidence
from gonogo.environment import LoadedEnvironment
from gonogo.keys import ENVIRONMENT
from gonogo.profile import Profile
from gonogo.stack import Stack
from gonogo.waiting import Convergence, expect, wait_until

CONVERGENCE_PROPERTY = "gonogo_convergence"


@pytest.fixture(scope="session")
def gonogo_env(pytestconfig: pytest.Config) -> LoadedEnvironment:
    """The chosen environment: name, where the choice came from, profile path and profile."""
    env = pytestconfig.stash.get(ENVIRONMENT, None)
    if env is None:
        pytest.skip("gonogo is off (--no-gate): no environment is loaded")
    return env


@pytest.fixture(scope="session")
def profile(gonogo_env: LoadedEnvironment) -> Profile:
    """The validated profile of the chosen environment."""
    return gonogo_env.profile


@pytest.fixture(scope="session")
def stack(gonogo_env: LoadedEnvironment) -> Iterator[Stack]:
    """The stack under check, with one probe per subject configured from the profile (``stack.http``...)."""
    stack = Stack(gonogo_env)
    yield stack
    stack.close()


class Converge:
    """The ``converge`` fixture: wait for a condition, and record how the wait went as evidence."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._node = request.node

    def __call__(self, probe: Any, accept: Any = bool, **kwargs: Any) -> Any:
        """Wait (``timeout_s``, ``interval_s``, ``what``); return the accepted fact or fail listing every attempt."""
        return expect(self.record(wait_until(probe, accept, **kwargs)))

    def record(self, result: Convergence[Any]) -> Convergence[Any]:
        """Record a wait done elsewhere (e.g. side by side with others) as this check's evidence."""
        self._node.user_properties.append((CONVERGENCE_PROPERTY, result.as_dict()))
        evidence.attach(f"convergence: {result.what}", result.log())
        return result


@pytest.fixture
def converge(request: pytest.FixtureRequest) -> Converge:
    """Wait for a condition with a deadline; the attempts become evidence of the check.

    ``converge(probe, accept, timeout_s=60, interval_s=2, what="ready endpoint")`` returns the
    accepted fact, or fails the check listing every attempt. A check that passed only after
    retries is named in the summary and in gate.json (``converged_after_retries``).
    ``converge.record(convergence)`` records a wait that ran elsewhere (side by side).
    """
    return Converge(request)
