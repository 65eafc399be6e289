"""checks/test_health.py against the real sandbox: it passes on a healthy stack and fails on the
faults it exists to catch (backend down, a 200 whose body says unhealthy, a slow API).

Each case runs the real gate (pytest with the gonogo plugin, in a subprocess) with the sandbox
profile, pointed at this test session's sandbox by SANDBOX_STATE_DIR.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]


def gate(sb: "Sandbox", tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the health checks against the sandbox; return the process and its gate.json."""
    gate_file = tmp_path / "gate.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/test_health.py", "--env", "sandbox", "-p", "no:cacheprovider",
         "--gate-file", str(gate_file), "--alluredir", str(tmp_path / "allure"), *args],
        cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert gate_file.is_file(), proc.stdout + proc.stderr
    return proc, json.loads(gate_file.read_text())


def failed(document: dict[str, Any]) -> dict[str, str]:
    return {entry["id"]: entry["reason"] for entry in document["failed"]}


@pytest.fixture
def fault(sandbox: "Sandbox") -> Iterator[Any]:
    applied: list[str] = []

    def apply(name: str) -> None:
        sandbox.cli("fault", name)
        applied.append(name)

    yield apply
    for name in applied:
        sandbox.cli("heal", name)
    sandbox.assert_healthy()


def test_healthy_stack_is_go(sandbox: "Sandbox", tmp_path: Path) -> None:
    proc, document = gate(sandbox, tmp_path, "-m", "postdeploy")
    assert document["verdict"] == "GO", proc.stdout
    assert proc.returncode == 0
    counts = document["counts"]
    assert counts["passed"] == counts["selected"] == 7 and counts["failed"] == 0, counts  # 4 endpoints, 3 budgets
    assert "VERDICT: GO" in proc.stdout


def test_backend_down_is_no_go(sandbox: "Sandbox", fault: Any, tmp_path: Path) -> None:
    fault("backend-down")
    proc, document = gate(sandbox, tmp_path, "-m", "postdeploy")
    assert document["verdict"] == "NO-GO" and proc.returncode == 1, proc.stdout
    reasons = failed(document)
    assert "health.endpoint_healthy[ready]" in reasons, reasons
    assert "expected status 200, got 50" in reasons["health.endpoint_healthy[ready]"], reasons
    assert "health.endpoint_healthy[live]" in reasons, reasons


def test_ok_status_with_unhealthy_body_is_no_go(sandbox: "Sandbox", fault: Any, tmp_path: Path) -> None:
    fault("health-body-unhealthy")
    proc, document = gate(sandbox, tmp_path, "-m", "postdeploy")
    assert document["verdict"] == "NO-GO", proc.stdout
    reasons = failed(document)
    ready = reasons.get("health.endpoint_healthy[ready]", "")
    assert "status 200 but the body says unhealthy" in ready and "components.redis" in ready, reasons
    assert "health.endpoint_healthy[live]" not in reasons, reasons  # live only says the process is up


def test_slow_api_is_a_warning(sandbox: "Sandbox", fault: Any, tmp_path: Path) -> None:
    fault("slow-api")
    proc, document = gate(sandbox, tmp_path, "-m", "postdeploy")
    assert document["verdict"] == "GO-WITH-WARNINGS" and proc.returncode == 0, proc.stdout
    reasons = failed(document)
    assert "health.endpoint_fast[ready]" in reasons and "budget 500 ms" in reasons["health.endpoint_fast[ready]"], reasons
    assert all(entry["severity"] == "warning" for entry in document["failed"]), document["failed"]
