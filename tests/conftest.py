"""The suite's own tests run pytest inside pytest (pytester)."""

import pytest

from gonogo.probes import silence

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _every_target_unheard() -> None:
    """A test starts with no target recorded as silent (gonogo.probes.silence keeps its record per process)."""
    silence.use_directory(None)
