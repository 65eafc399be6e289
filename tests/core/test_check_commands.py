"""``[[command]]`` entries: their phases select them (``-m``), and the check explains each way a command fails.

The real ``checks/test_commands.py`` runs in a pytester project, on host commands (real processes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

COMMANDS_CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_commands.py"
PY = sys.executable

PHASED = f"""
[environment]
release = "1.4.2"

[[command]]
name = "lint"
host = true
run = ["{PY}", "-c", "print('clean')"]
expect_output = "^clean$"

[[command]]
name = "after"
host = true
run = ["{PY}", "-c", "pass"]
phases = ["postdeploy"]

[[command]]
name = "around"
host = true
run = ["{PY}", "-c", "pass"]
phases = ["predeploy", "rollback"]
severity = "warning"
runbook = ["SMK-5"]
"""


@pytest.fixture
def commands_module() -> dict[str, str]:
    return {"test_commands.py": COMMANDS_CHECKS.read_text(encoding="utf-8")}


def phases_by_check(run) -> dict[str, set[str]]:
    """Each check that ran, with its phases (Allure's epic labels)."""
    found: dict[str, set[str]] = {}
    for result in run.allure_results():
        labels = result["labels"]
        story = next(label["value"] for label in labels if label["name"] == "story")
        found[story] = {label["value"] for label in labels if label["name"] == "epic"}
    return found


@pytest.mark.parametrize(("phase", "expected"), [
    ("predeploy", {"commands.command_passes[lint]": {"predeploy"},
                   "commands.command_passes[around]": {"predeploy", "rollback"}}),
    ("postdeploy", {"commands.command_passes[after]": {"postdeploy"}}),
    ("rollback", {"commands.command_passes[around]": {"predeploy", "rollback"}}),
])
def test_an_entrys_phases_select_it(run_gate, commands_module, phase, expected):
    run = run_gate(commands_module, "-m", phase, profile=PHASED)

    assert run.gate["verdict"] == "GO", run.log
    assert phases_by_check(run) == expected, run.log
    # the other entries are out of this phase, not left out of it: the run is whole
    assert run.gate["partial"] is False and run.gate["left_out"]["checks"] == [], run.gate
    assert run.gate["counts"]["selected"] == len(expected), run.gate["counts"]


def test_an_entry_carries_its_severity_and_runbook_steps(run_gate, commands_module):
    failing = PHASED.replace("print('clean')", "print('dirty')")
    run = run_gate(commands_module, "-m", "predeploy", profile=failing)

    [failed] = run.gate["failed"]
    assert failed["id"] == "commands.command_passes[lint]" and failed["severity"] == "critical", failed
    assert failed["reason"] == "lint output: expected output matching '^clean$', got no match in 1 line(s) of output, ending: dirty"
    assert run.gate["verdict"] == "NO-GO", run.log


@pytest.mark.parametrize("phase", ["predeploy", "postdeploy"])
def test_no_command_table_is_not_configured_in_the_default_phase(run_gate, commands_module, phase):
    run = run_gate(commands_module, "-m", phase)

    assert run.gate["partial"] is False and run.gate["left_out"]["checks"] == [], run.gate
    if phase == "predeploy":  # an entry's default phase: the gate sees the subject is not configured
        [skipped] = run.gate["skipped"]
        assert (skipped["id"], skipped["status"]) == ("commands.command_passes[not-configured]", "not-configured")
        assert "([[command]])" in skipped["reason"], skipped
    else:
        assert run.gate["counts"]["deselected"] == 1 and run.gate["skipped"] == [], run.gate


def test_each_failure_says_what_happened(run_gate, commands_module):
    profile = f"""
        [environment]
        release = "1.4.2"

        [[command]]
        name = "exits"
        host = true
        run = "echo starting; echo 'boom: the database is locked' >&2; exit 3"
        shell = true

        [[command]]
        name = "hangs"
        host = true
        run = ["sleep", "30"]
        timeout_s = 0.5

        [[command]]
        name = "missing"
        host = true
        run = ["no-such-command-gonogo"]

        [[command]]
        name = "wrong-folder"
        host = true
        run = ["{PY}", "-c", "pass"]
        workdir = "no-such-folder"
    """
    run = run_gate(commands_module, "-m", "predeploy", profile=profile)

    reasons = {entry["id"].split("[")[1].rstrip("]"): entry["reason"] for entry in run.gate["failed"]}
    assert reasons["exits"] == "exits exit code: expected exit code 0, got exit code 3: starting | boom: the database is locked"
    assert reasons["hangs"] == ("hangs ran: expected `sleep 30` to end within 0.5 s, got timed out after 0.5 s: "
                                "killed, with every process it started")
    assert reasons["missing"].startswith("missing ran: expected `no-such-command-gonogo` to end within 60 s, "
                                         "got could not start: No such file or directory")
    assert reasons["wrong-folder"].startswith("wrong-folder ran: expected "), reasons
    assert "no-such-folder" in reasons["wrong-folder"], reasons
    assert "look at: host, in " in run.out, run.log
    assert run.gate["errored"] == [], run.gate  # every way of failing is a judgement, never an error
    assert run.ret == 1


@pytest.mark.parametrize(("entry", "message"), [
    ('run = ["true"]', "[command #1] host: say where the command runs: either service"),
    ('service = "web"\nhost = true\nrun = ["true"]', "[command #1] host: say where the command runs"),
    ('host = true\nshell = true\nrun = ["true"]', "[command #1] run: with shell = true, run is one string"),
    ('host = true\nrun = "echo \'unclosed"', "[command #1] run: No closing quotation"),
    ('host = true\nrun = ["true"]\nexpect_output = "(unclosed"', "[command #1] expect_output: not a regular expression: missing )"),
    ('host = true\nrun = ["true"]\nphases = ["smoke"]', "[command #1] phases #1: input should be 'predeploy', 'postdeploy' or 'rollback' (got 'smoke')"),
    ('host = true\nrun = ["true"]\ntimeout_s = 0', "[command #1] timeout_s: input should be greater than 0"),
])
def test_a_misconfigured_entry_is_one_line_naming_its_key(run_gate, commands_module, entry, message):
    run = run_gate(commands_module, profile=f'[environment]\nrelease = "1"\n\n[[command]]\nname = "x"\n{entry}\n')

    assert message in run.error_line(), run.log
