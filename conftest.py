"""Thin: the gonogo plugin is loaded through its pytest11 entry point; this adds the shared fixtures."""

pytest_plugins = ["fixtures.stack"]
