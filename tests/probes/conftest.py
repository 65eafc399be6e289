"""Probe tests: each probe against its real component (real files, engines, servers), broken too.

The plugin tests' helpers (``run_gate``: a pytest run with gonogo in a pytester project) serve here
for the end-to-end runs of a real check module; they are loaded from tests/core/conftest.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_CORE = Path(__file__).resolve().parents[1] / "core" / "conftest.py"
_spec = importlib.util.spec_from_file_location("gonogo_core_test_helpers", _CORE)
assert _spec is not None and _spec.loader is not None
core = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = core  # dataclasses look their module up while the class is made
_spec.loader.exec_module(core)

run_gate = core.run_gate
