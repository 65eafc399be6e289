"""Thin: the gonogo plugin is loaded through its pytest11 entry point (fixtures: gonogo_env, profile,
stack, converge). A team's own fixtures go in fixtures/ and are listed here, e.g.
``pytest_plugins = ["fixtures.shop"]``."""

pytest_plugins: list[str] = []
