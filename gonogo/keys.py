"""What the plugin keeps in pytest's stash for the fixtures: here, so both import it (and neither the other)."""

from __future__ import annotations

import pytest

from gonogo.environment import LoadedEnvironment

#: the loaded environment (None with --no-gate), set by the plugin at configure, read by ``gonogo_env``
ENVIRONMENT = pytest.StashKey[LoadedEnvironment | None]()
