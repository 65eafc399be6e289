"""Several runs, one decision: gate files of real runs merged by ``python -m gonogo.merge``.

The runs are real gonogo runs (pytester, subprocesses) of one tiny project under several profiles
(hosts of a CI matrix) and phases; the merged results are gated and rendered by the real Allure.
"""

from __future__ import annotations

import json
import shutil

from gonogo import merge, report

CHECKS = """
import pytest
from gonogo import judge, section

@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.6")
def test_disk():
    '''Enough free disk.'''

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-6.2")
def test_ready(gonogo_env):
    '''The ready endpoint answers 200.'''
    judge("ready status", gonogo_env.name != "host2", expected="200", actual="503", where="http://127.0.0.1:1/")

@pytest.mark.postdeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("SMK-11")
def test_logs():
    '''Logs without errors.'''
    judge("errors in the logs", False, expected="none", actual="2", where="docker logs web")

@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-4.5")
def test_tls(gonogo_env):
    '''The certificate is valid.'''
    section(gonogo_env, "tls")
"""


def profile(release: str = "1.4.2", tls: bool = False, required: str = "[]", stack: str = "shop") -> str:
    """A host's profile; the hosts of one stack share its ``[environment] name`` (merge judges required per stack)."""
    return (f'[environment]\nname = "{stack}"\nrelease = "{release}"\n' + ("[tls]\nmin_days = 14\n" if tls else "")
            + f"[gate]\nrequired = {required}\n")


def keep(run, tmp_path, name: str):
    """Copy a run's reports folder away (the next run in the same project replaces it)."""
    target = tmp_path / name
    shutil.copytree(run.reports, target)
    return target


def test_a_no_go_anywhere_is_a_no_go_and_one_report_shows_it(run_gate, allure_tools, tmp_path):
    profiles = {"host1": profile(), "host2": profile()}
    pre = keep(run_gate(CHECKS, "-m", "predeploy", profile=profiles, env="host1"), tmp_path, "pre")
    post1 = keep(run_gate(None, "-m", "postdeploy", profile=None, env="host1"), tmp_path, "post1")
    post2 = keep(run_gate(None, "-m", "postdeploy", profile=None, env="host2"), tmp_path, "post2")
    verdicts = [json.loads((r / "gate.json").read_text())["verdict"] for r in (pre, post1, post2)]
    assert verdicts == ["GO", "GO-WITH-WARNINGS", "NO-GO"]

    out = tmp_path / "merged"
    code = merge.main([str(r / "gate.json") for r in (pre, post1, post2)] + ["-o", str(out / "gate.json")]
                      + [f"--results={r / 'allure-results'}" for r in (pre, post1, post2)])

    merged = json.loads((out / "gate.json").read_text())
    assert (code, merged["verdict"]) == (1, "NO-GO")
    assert merged["reasons"] == ["postdeploy@host2 (gate.json): blocker check failed: app.ready"]
    assert [r["verdict"] for r in merged["runs"]] == verdicts
    assert merged["phases"] == ["postdeploy", "predeploy"]
    assert {(e["id"], e["run"].split(" ")[0]) for e in merged["failed"]} == {
        ("app.logs", "postdeploy@host1"), ("app.logs", "postdeploy@host2"), ("app.ready", "postdeploy@host2")}
    coverage = (out / "coverage.md").read_text()
    assert "| RCY-0.6 | predeploy | automated, passed |" in coverage  # passed in the predeploy run only
    assert "| SMK-6.2 | postdeploy | automated, failed |" in coverage  # failed on host2, passed on host1

    gate = report.quality_gate(allure_tools, out, [out / "allure-results"], out / "gate.json")
    assert gate.returncode == 1, gate.stdout + gate.stderr
    html, single = report.build(allure_tools, out, [out / "allure-results"], out / "gate.json")
    verdict_results = [r for r in (out / "allure-results").glob("*-result.json") if "gonogo#verdict" in r.read_text()]
    assert len(verdict_results) == 1  # the runs' own verdicts left out: one decision
    assert single.is_file() and html.is_file()


def test_a_required_check_judged_in_one_run_is_not_missing(run_gate, allure_tools, tmp_path):
    profiles = {"host1": profile(required='["tls"]'), "host2": profile(tls=True, required='["tls"]')}
    run1 = keep(run_gate(CHECKS.replace('!= "host2"', '!= "none"'), "-m", "postdeploy", profile=profiles, env="host1"),
                tmp_path, "host1")
    run2 = keep(run_gate(None, "-m", "postdeploy", profile=None, env="host2"), tmp_path, "host2")
    assert json.loads((run1 / "gate.json").read_text())["missing"][0]["status"] == "not-configured"

    out = tmp_path / "merged"
    code = merge.main([str(run1 / "gate.json"), str(run2 / "gate.json"), "-o", str(out / "gate.json"),
                       f"--results={run1 / 'allure-results'}", f"--results={run2 / 'allure-results'}"])

    merged = json.loads((out / "gate.json").read_text())
    assert (code, merged["verdict"], merged["missing"]) == (0, "GO-WITH-WARNINGS", []), merged["reasons"]
    gate = report.quality_gate(allure_tools, out, [out / "allure-results"], out / "gate.json")
    assert gate.returncode == 0, gate.stdout + gate.stderr  # Allure's gate agrees with the merged verdict


def test_required_missing_from_every_run_and_different_versions(run_gate, tmp_path):
    profiles = {"host1": profile(required='["tls"]'), "host2": profile(release="1.4.3", required='["tls"]')}
    run1 = keep(run_gate(CHECKS, "-m", "postdeploy", profile=profiles, env="host1"), tmp_path, "host1")
    run2 = keep(run_gate(None, "-m", "postdeploy", profile=None, env="host2"), tmp_path, "host2")

    merged = merge.merge([(p, merge.load(p)) for p in (run1 / "gate.json", run2 / "gate.json")])

    assert merged["verdict"] == "NO-GO"
    assert [m["id"] for m in merged["missing"]] == ["app.tls"]
    assert "required tls: app.tls not-configured in every run of shop" in merged["reasons"]
    assert "the runs judged different target versions (1.4.2, 1.4.3): one decision needs one release" in merged["reasons"]


def test_required_is_judged_per_stack(run_gate, tmp_path):
    """Staging having judged a required check does not excuse prod (issue 20, item 16)."""
    profiles = {"prod": profile(required='["tls"]', stack="prod"),
                "staging": profile(tls=True, required='["tls"]', stack="staging")}
    prod = keep(run_gate(CHECKS.replace('!= "host2"', '!= "none"'), "-m", "postdeploy", profile=profiles, env="prod"),
                tmp_path, "prod")
    staging = keep(run_gate(None, "-m", "postdeploy", profile=None, env="staging"), tmp_path, "staging")

    merged = merge.merge([(p, merge.load(p)) for p in (prod / "gate.json", staging / "gate.json")])

    assert merged["verdict"] == "NO-GO", merged["reasons"]
    assert [(m["id"], m["environment"]) for m in merged["missing"]] == [("app.tls", "prod")]
    assert "required tls: app.tls not-configured in every run of prod" in merged["reasons"]


def test_a_partial_run_never_turns_a_required_check_into_go(run_gate, tmp_path):
    """--partial judges the selection, but a required check it left out is missing, also after a merge (item 16)."""
    profiles = {"host1": profile(required='["ready"]')}
    run = run_gate(CHECKS.replace('!= "host2"', '!= "none"'), "-m", "postdeploy", "-k", "logs", "--partial",
                   profile=profiles, env="host1")
    assert run.gate["verdict"] == "NO-GO" and run.gate["partial"] is True, run.log
    assert [(m["id"], m["status"]) for m in run.gate["missing"]] == [("app.ready", "deselected")]
    kept = keep(run, tmp_path, "partial")

    merged = merge.merge([(kept / "gate.json", merge.load(kept / "gate.json"))])

    assert merged["verdict"] == "NO-GO" and [m["id"] for m in merged["missing"]] == ["app.ready"]


def test_a_file_that_is_not_a_verdict_is_bad_input(tmp_path, capsys):
    bad = tmp_path / "gate.json"
    bad.write_text('{"verdict": "GO"}')

    assert merge.main([str(bad), "-o", str(tmp_path / "out.json")]) == 4
    assert "not a gonogo verdict file" in capsys.readouterr().err
