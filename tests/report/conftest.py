"""Report tests: real pytest runs (pytester, as tests/core), then the real Allure Report 3 on Node 22.

The plugin tests' helpers (``run_gate``, ``stub_server``) are loaded from tests/core/conftest.py.
``allure_tools`` is the Allure and Node that ``./run setup`` installed in reports/node_modules: a
missing install fails these tests (it is never skipped: the report is part of the gate).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from gonogo import report

_CORE = Path(__file__).resolve().parents[1] / "core" / "conftest.py"
_spec = importlib.util.spec_from_file_location("gonogo_core_test_helpers", _CORE)
assert _spec is not None and _spec.loader is not None
core = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = core  # dataclasses look their module up while the class is made
_spec.loader.exec_module(core)

run_gate = core.run_gate
stub_server = core.stub_server
health_module = core.health_module


@pytest.fixture(scope="session")
def allure_tools() -> report.Tools:
    """Allure Report 3 and Node 22 from this checkout's reports/node_modules."""
    tools = report.Tools(report.PROJECT / "reports")
    assert tools.problem() is None, tools.problem()
    return tools
