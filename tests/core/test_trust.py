"""Trust, third pass (issue 20): the gate knows what each phase must judge, whatever narrowed the run.

Each test runs a throwaway suite (one passing and one failing postdeploy blocker module, their inventory
written as ``python -m gonogo.inventory`` would) the way an adversarial user would, in a pytest subprocess,
and reads the verdict file. Before this pass every one of them ended GO, exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SUITE = {
    "pytest.ini": """
        [pytest]
        testpaths = checks
    """,
    "checks/test_shop.py": """
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        def test_home():
            pass
    """,
    "checks/test_db.py": """
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        def test_accepts_connection():
            assert False, "the database refused the connection"

        @pytest.mark.predeploy
        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        def test_both_phases():
            assert False, "no room for the migration's lock"
    """,
}


def _left_out_reason(gate: dict) -> str:
    [reason] = [r for r in gate["reasons"] if r.startswith("partial run: ")]
    return reason


# -- Rule 1: completeness is computed by gonogo ---------------------------------------------------


@pytest.mark.parametrize("narrowing", [
    pytest.param(["--ignore=checks/test_db.py"], id="1-ignore"),
    pytest.param(["--ignore-glob=*db*"], id="1-ignore-glob"),
    pytest.param(["-o", "testpaths=checks/test_shop.py"], id="2-testpaths"),
    pytest.param(["-o", "python_files=test_shop.py"], id="2-python_files"),
    pytest.param(["-o", "python_functions=test_h*"], id="2-python_functions"),
])
def test_a_run_narrowed_by_any_option_is_partial(run_gate, narrowing):
    run = run_gate(SUITE, "-m", "postdeploy", *narrowing)

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO" and gate["failed"] == [], gate["reasons"]
    assert gate["left_out"]["uncollected"] == ["checks/test_db.py::test_accepts_connection",
                                               "checks/test_db.py::test_both_phases"], gate["left_out"]
    assert "2 check(s) of the phase not collected (checks/test_db.py::test_accepts_connection" in _left_out_reason(gate)


def test_collect_ignore_in_a_conftest_is_partial(run_gate):
    run_gate(SUITE, "-m", "postdeploy")  # the inventory is written from the whole suite
    run = run_gate({"checks/conftest.py": 'collect_ignore = ["test_db.py"]\n'}, "-m", "postdeploy", inventory=False)

    assert run.ret == 1, run.log
    assert run.gate["left_out"]["uncollected"] == ["checks/test_db.py::test_accepts_connection",
                                                   "checks/test_db.py::test_both_phases"]


def test_a_mark_expression_that_drops_a_check_of_its_phase_is_partial(run_gate):
    run = run_gate(SUITE, "-m", "postdeploy and not predeploy")

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["phases"] == ["postdeploy"]
    assert gate["left_out"]["checks"] == ["checks/test_db.py::test_both_phases"]
    assert "1 check(s) of the phase deselected" in _left_out_reason(gate)


@pytest.mark.parametrize("expression", ["postdeploy and severity", "severity", "not (predeploy or postdeploy or rollback or smoke)"])
def test_a_mark_expression_that_selects_no_phase_is_bad_input(run_gate, expression):
    run = run_gate(SUITE, "-m", expression)

    line = run.error_line()
    assert f"-m '{expression}' selects no phase" in line, line
    assert run.gate["verdict"] == "NO-GO" and run.gate["exit_code"] == 4


def test_last_failed_under_xdist_is_partial(run_gate):
    first = run_gate(SUITE, "-m", "postdeploy", "-n", "2", cache=True)
    assert first.gate["verdict"] == "NO-GO", first.log
    healed = {**SUITE, "checks/test_db.py": SUITE["checks/test_db.py"].replace("assert False", "assert True")}
    run = run_gate(healed, "-m", "postdeploy", "--lf", "-n", "2", cache=True)

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["failed"] == [] and gate["counts"]["passed"] == 2, gate
    assert gate["left_out"]["uncollected"] == ["checks/test_shop.py::test_home"], gate["left_out"]


def test_a_check_the_inventory_does_not_list_is_no_go(run_gate):
    run_gate(SUITE, "-m", "postdeploy")
    added = {"checks/test_new.py": "import pytest\n\n@pytest.mark.postdeploy\ndef test_new():\n    pass\n"}
    run = run_gate(added, "-m", "postdeploy", "--partial", "-k", "new", inventory=False)

    assert run.ret == 1, run.log
    [reason] = [r for r in run.gate["reasons"] if "inventory.toml is out of date" in r]
    assert "not in the inventory: checks/test_new.py::test_new" in reason
    assert "run `python -m gonogo.inventory` and commit it" in reason


def test_no_inventory_is_bad_input(run_gate):
    run = run_gate({"test_app.py": "def test_ok():\n    pass\n"}, inventory=False)

    line = run.error_line()
    assert "no inventory at" in line and "python -m gonogo.inventory" in line, line


def test_the_whole_suite_with_every_check_passing_is_go(run_gate):
    healed = {**SUITE, "checks/test_db.py": SUITE["checks/test_db.py"].replace("assert False", "assert True")}
    run = run_gate(healed, "-m", "postdeploy", "-n", "2")

    assert (run.ret, run.gate["verdict"], run.gate["left_out"]) == (0, "GO", {"checks": [], "uncollected": []}), run.log


def test_the_committed_inventory_is_true():
    """inventory.toml lists every check of the suite with its phases (python -m gonogo.inventory --check)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "gonogo.inventory", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


# -- the gate's own rules -------------------------------------------------------------------------

DEPENDENT = """
import pytest
from gonogo import dependent, judge

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
def test_status():
    pass

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
def test_body():
    dependent("api.status", "the status was not 200")

@pytest.mark.postdeploy
@pytest.mark.severity("warning")
def test_latency():
    judge("latency", False, expected="under 300 ms", actual="900 ms")
"""


def test_a_dependent_skip_on_a_check_that_passed_is_no_go_beside_a_failing_warning(run_gate):
    run = run_gate({"test_api.py": DEPENDENT})

    assert run.ret == 1, run.log
    assert ("blocker check did not run: api.body (dependent: dependent on api.status: the status was not 200, "
            "but api.status did not fail)") in run.gate["reasons"]


TLS = """
import pytest
from gonogo import dependent, judge

pytestmark = [pytest.mark.postdeploy, pytest.mark.severity("blocker")]

def test_certificate_trusted():
    judge("certificate", False, expected="trusted", actual="self-signed")

def test_certificate_names_the_host():
    dependent("tls.certificate_trusted", "no trusted certificate")

def test_certificate_valid_long_enough():
    dependent("tls.certificate_trusted", "no trusted certificate")
"""


def test_a_waiver_excuses_only_the_check_it_names(run_gate):
    profile = """
        [environment]
        release = "1.4.2"
        [gate]
        waivers = [{check = "tls.certificate_trusted", reason = "renewal under way", until = 2999-01-01}]
    """
    run = run_gate({"test_tls.py": TLS}, profile=profile)

    assert run.ret == 1, run.log
    assert run.ids("waived") == ["tls.certificate_trusted"]
    assert sorted(e["id"] for e in run.gate["not_run"]) == ["tls.certificate_names_the_host",
                                                            "tls.certificate_valid_long_enough"]


@pytest.mark.parametrize("pattern", ["*::*", "*_*", "*/*", "*e*", "checks/*", "*.*o*", "checks/test_*"])
def test_a_catch_all_waiver_is_bad_input(run_gate, pattern):
    profile = f"""
        [environment]
        release = "1.4.2"
        [gate]
        waivers = [{{check = "{pattern}", reason = "ship it", until = 2999-01-01}}]
    """
    run = run_gate(SUITE, "-m", "postdeploy", profile=profile)

    line = run.error_line()
    assert f"environments/dev.toml: [gate.waivers #1] check = '{pattern}' matches checks of 2 subjects (db, shop)" in line
    assert "a waiver names the checks of one subject" in line
    assert run.gate["exit_code"] == 4


def test_a_waiver_of_one_subject_still_works(run_gate):
    profile = """
        [environment]
        release = "1.4.2"
        [gate]
        waivers = [{check = "db.*", reason = "maintenance window", until = 2999-01-01}]
    """
    run = run_gate(SUITE, "-m", "postdeploy", profile=profile)

    assert (run.ret, run.gate["verdict"]) == (0, "GO-WITH-WARNINGS"), run.log
    assert sorted(run.ids("waived")) == ["db.accepts_connection", "db.both_phases"]


@pytest.mark.parametrize(("args", "environ", "mode"), [
    (["--co"], {}, "--collect-only"),
    ([], {"PYTEST_ADDOPTS": "--co"}, "--collect-only"),
    (["--fixtures"], {}, "--fixtures"),
    (["--fixtures-per-test"], {}, "--fixtures-per-test"),
    (["--setup-plan"], {}, "--setup-plan"),
])
def test_a_mode_that_judges_nothing_ends_with_no_verdict(run_gate, pytester, args, environ, mode):
    stale = pytester.path / "reports" / "gate.json"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text('{"verdict": "GO"}')
    run = run_gate(SUITE, "-m", "postdeploy", *args, environ=environ)

    assert run.ret == 1, run.log
    assert run.gate["verdict"] == "NO-GO"
    assert run.gate["reasons"] == [f"no verdict: {mode} runs no check: nothing was judged"]
    assert f"gonogo: no verdict: {mode} runs no check" in run.out


def test_turning_the_gate_plugin_off_is_bad_input(run_gate):
    run = run_gate(SUITE, "-m", "postdeploy", "-p", "no:gonogo-gate")

    line = run.error_line()
    assert "-p no:gonogo-gate turns the gate off" in line
    assert run.gate["exit_code"] == 4


@pytest.mark.parametrize(("args", "environ"), [(["-p", "no:gonogo"], {}), ([], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})])
def test_turning_gonogo_off_leaves_no_stale_verdict(run_gate, pytester, args, environ):
    """The suite's root conftest.py stops a run without gonogo (gonogo.guard)."""
    first = run_gate({**SUITE, "conftest.py": (ROOT / "conftest.py").read_text()}, "-m", "postdeploy", "--ignore=checks/test_db.py",
                     "--partial")
    assert first.gate["verdict"] == "GO", first.log
    run = run_gate(None, *args, environ=environ, env=None)

    line = run.error_line()
    assert "gonogo is turned off" in line, line
    assert run.gate["verdict"] == "NO-GO" and run.gate["exit_code"] == 4


def test_bad_input_leaves_no_stale_coverage_or_quality_gate(run_gate):
    first = run_gate(SUITE, "-m", "postdeploy")
    for name in ("coverage.md", "quality-gate.json"):
        assert (first.reports / name).is_file(), name
    run = run_gate(None, "-m", "postdeploy", "--env", "nope", env=None)

    assert run.ret == 4, run.log
    assert not (run.reports / "coverage.md").exists() and not (run.reports / "quality-gate.json").exists()
    assert json.loads((run.reports / "gate.json").read_text())["exit_code"] == 4


@pytest.mark.parametrize("flag", ["--help", "--markers"])
def test_help_needs_no_environment_and_leaves_the_last_verdict(run_gate, pytester, flag):
    """--help and --markers are no run: no profile is loaded (before, --help with no environment chosen was exit 4)."""
    last = pytester.path / "reports" / "gate.json"
    last.parent.mkdir(exist_ok=True)
    last.write_text('{"verdict": "NO-GO"}')
    run = run_gate(SUITE, flag, env=None)

    assert run.ret == 0, run.log
    assert last.read_text() == '{"verdict": "NO-GO"}'
