"""The fixtures gonogo gives every check: the environment, its profile, and convergence."""

from __future__ import annotations

from typing import Any

import pytest

from gonogo import evidence
from gonogo.environment import LoadedEnvironment
from gonogo.profile import Profile
from gonogo.waiting import Convergence, expect, wait_until

CONVERGENCE_PROPERTY = "gonogo_convergence"


@pytest.fixture(scope="session")
def gonogo_env(pytestconfig: pytest.Config) -> LoadedEnvironment:
    """The chosen environment: name, where the choice came from, profile path and profile."""
    from gonogo.plugin import ENVIRONMENT

    env = pytestconfig.stash.get(ENVIRONMENT, None)
    if env is None:
        pytest.skip("gonogo is off (--no-gate): no environment is loaded")
    return env


@pytest.fixture(scope="session")
def profile(gonogo_env: LoadedEnvironment) -> Profile:
    """The validated profile of the chosen environment."""
    return gonogo_env.profile


@pytest.fixture
def converge(request: pytest.FixtureRequest) -> Any:
    """Wait for a condition with a deadline; the attempts become evidence of the check.

    ``converge(probe, accept, timeout_s=60, interval_s=2, what="ready endpoint")`` returns the
    accepted fact, or fails the check listing every attempt. A check that passed only after
    retries is named in the summary and in gate.json (``converged_after_retries``).
    """

    def run(probe: Any, accept: Any = bool, **kwargs: Any) -> Any:
        result: Convergence[Any] = wait_until(probe, accept, **kwargs)
        request.node.user_properties.append((CONVERGENCE_PROPERTY, result.as_dict()))
        evidence.attach(f"convergence: {result.what}", result.log())
        return expect(result)

    return run
