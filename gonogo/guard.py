"""The suite refuses to run with gonogo turned off (``-p no:gonogo``, ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).

Without the plugin a run of the checks has no gate: pytest's own exit code says nothing about the
release, and the previous run's ``reports/gate.json`` would still say GO. The suite's root
``conftest.py`` calls :func:`require_gonogo` as soon as pytest loads it: the previous verdict and the
report files beside it are removed, a NO-GO verdict file says why, and the run stops with exit 4.
``--no-gate`` is the way to run the checks as plain pytest.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

#: the name of gonogo's pytest11 entry point (``-p no:gonogo`` blocks it)
PLUGIN_NAME = "gonogo"
MESSAGE = ("gonogo is turned off (-p no:gonogo, or PYTEST_DISABLE_PLUGIN_AUTOLOAD without -p gonogo.plugin): "
           "a run of the checks without it has no verdict; remove it (--no-gate runs them as plain pytest)")


def require_gonogo(pluginmanager: Any, root: Path) -> None:
    """Stop the run (exit 4) when the gonogo plugin is not loaded, leaving a NO-GO verdict in ``root``/reports."""
    if pluginmanager.get_plugin(PLUGIN_NAME) is not None or pluginmanager.has_plugin("gonogo.plugin"):
        return
    from gonogo import verdict_file
    from gonogo.plugin import clear_previous

    gate_file = root / verdict_file.DEFAULT_GATE_FILE
    clear_previous(gate_file)
    now = dt.datetime.now(dt.timezone.utc)
    verdict_file.write(gate_file, verdict_file.document(
        verdict=None, exit_code=4, env=None, phases=[], selection={"markexpr": "", "keyword": "", "args": [], "workers": 0},
        started=now, duration_s=0.0, usage_error=MESSAGE))
    raise pytest.UsageError(MESSAGE)
