"""Thin: the gonogo plugin is loaded through its pytest11 entry point (fixtures: gonogo_env, profile,
stack, converge). A team's own fixtures go in fixtures/ and are listed here, e.g.
``pytest_plugins = ["fixtures.shop"]``."""

from pathlib import Path

import pytest

from gonogo.guard import require_gonogo

pytest_plugins: list[str] = []


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """A run with gonogo turned off (-p no:gonogo) has no verdict: it stops here, exit 4 (gonogo.guard)."""
    require_gonogo(pluginmanager, Path(__file__).parent)
