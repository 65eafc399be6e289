"""``allure quality-gate`` agrees with gate.json: exit 1 exactly when the verdict is NO-GO.

Each case is a real gonogo run (pytester, a subprocess) of tiny checks under a tiny profile, then the
real ``allure quality-gate`` (Allure Report 3 on Node 22) on its results with the rules the run
generated from the same profile (``reports/quality-gate.json``).
"""

from __future__ import annotations

import pytest

from gonogo import report

PROFILE = """
[environment]
release = "1.4.2"
"""

CHECKS = """
import pytest
from gonogo import judge, section

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-6.1")
def test_live():
    '''The live endpoint answers.'''

@pytest.mark.postdeploy
@pytest.mark.severity("{severity}")
def test_ready():
    '''The ready endpoint answers 200.'''
    judge("ready status", {ready_ok}, expected="200", actual="503", where="http://127.0.0.1:1/health/ready/")

@pytest.mark.predeploy
@pytest.mark.severity("critical")
def test_backups(gonogo_env):
    '''A backup exists.'''
    section(gonogo_env, "backups")
"""

#: (id, ready check's severity, ready passes, profile [gate] table, extra pytest arguments, expected verdict)
CASES = [
    ("go", "blocker", True, "", [], "GO"),
    ("go-with-warnings", "warning", False, "", [], "GO-WITH-WARNINGS"),
    ("no-go", "blocker", False, "", [], "NO-GO"),
    ("waived-critical", "critical", False,
     '[gate]\nwaivers = [{ check = "app.ready", reason = "known", until = 2099-01-01 }]', [], "GO-WITH-WARNINGS"),
    ("expired-waiver", "critical", False,
     '[gate]\nwaivers = [{ check = "app.ready", reason = "known", until = 2020-01-01 }]', [], "NO-GO"),
    ("required-not-configured", "blocker", True, '[gate]\nrequired = ["backups"]', [], "NO-GO"),
    ("required-typo", "blocker", True, '[gate]\nrequired = ["health"]', [], "NO-GO"),
    ("partial-run", "blocker", True, "", ["-k", "live"], "NO-GO"),
    ("partial-allowed", "blocker", True, "", ["-k", "live", "--partial"], "GO"),
]


@pytest.mark.parametrize(("severity", "ready_ok", "gate", "args", "verdict"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_quality_gate_agrees_with_the_verdict(run_gate, allure_tools, severity, ready_ok, gate, args, verdict):
    run = run_gate(CHECKS.format(severity=severity, ready_ok=ready_ok), *args, profile=PROFILE + gate)
    assert run.gate["verdict"] == verdict, run.log

    done = report.quality_gate(allure_tools, run.reports, [run.allure_dir], run.reports / "gate.json")

    assert done.returncode == (1 if verdict == "NO-GO" else 0), f"{verdict}: {done.stdout}{done.stderr}"
    if verdict == "NO-GO":
        assert "Quality Gate failed" in done.stderr


def test_quality_gate_names_what_blocks(run_gate, allure_tools):
    run = run_gate(CHECKS.format(severity="critical", ready_ok=False), profile=PROFILE + '[gate]\nrequired = ["backups"]')

    done = report.quality_gate(allure_tools, run.reports, [run.allure_dir], run.reports / "gate.json")

    assert done.returncode == 1
    assert "app.ready failed" in done.stderr
    assert "backups: app.backups not-configured" in done.stderr


def test_a_collection_error_fails_the_quality_gate(run_gate, allure_tools):
    run = run_gate({"test_app.py": CHECKS.format(severity="blocker", ready_ok=True), "test_broken.py": "import nowhere\n"},
                   profile=PROFILE)
    assert run.gate["verdict"] == "NO-GO", run.log

    done = report.quality_gate(allure_tools, run.reports, [run.allure_dir], run.reports / "gate.json")

    assert done.returncode == 1
    assert "collection error in test_broken.py" in done.stderr


DEPENDENT = """
import pytest
from gonogo import dependent, judge

@pytest.mark.postdeploy
@pytest.mark.severity("{status_severity}")
def test_status():
    '''The endpoint answers 200.'''
    judge("status", {status_ok}, expected="200", actual="503")

@pytest.mark.postdeploy
@pytest.mark.severity("{body_severity}")
def test_body():
    '''The body says ok.'''
    dependent("app.status", "the status was not 200")

@pytest.mark.postdeploy
@pytest.mark.severity("warning")
def test_latency():
    '''Fast enough.'''
    judge("latency", False, expected="under 300 ms", actual="900 ms")
"""


@pytest.mark.parametrize(("status_severity", "status_ok", "body_severity", "verdict"), [
    pytest.param("blocker", True, "blocker", "NO-GO", id="named-check-passed"),
    pytest.param("warning", False, "blocker", "NO-GO", id="named-check-only-a-warning"),
    pytest.param("warning", False, "warning", "GO-WITH-WARNINGS", id="legitimate"),
])
def test_quality_gate_agrees_on_dependent_skips(run_gate, allure_tools, status_severity, status_ok, body_severity, verdict):
    """A dependent skip counts only when the check it names failed: Allure's gate reads that from gonogo's rules."""
    checks = DEPENDENT.format(status_severity=status_severity, status_ok=status_ok, body_severity=body_severity)
    run = run_gate(checks, profile=PROFILE)
    assert run.gate["verdict"] == verdict, run.log

    done = report.quality_gate(allure_tools, run.reports, [run.allure_dir], run.reports / "gate.json")

    assert done.returncode == (1 if verdict == "NO-GO" else 0), f"{verdict}: {done.stdout}{done.stderr}"
