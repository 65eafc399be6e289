"""Several runs, one decision: gate files of real runs merged by ``python -m gonogo.merge``.

The runs are real gonogo runs (pytester, subprocesses) of one tiny project under several profiles
(hosts of a CI matrix) and phases; the merged results are gated and rendered by the real Allure.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest

from gonogo import merge, report
from gonogo.probes.host import bounded

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


# -- bad input: one line naming the file and the key, exit 4, nothing written (issue 21, item 7) ------------------
def verdict_document() -> dict:
    """A valid verdict file as gonogo writes it (a usage error's NO-GO: no run needed)."""
    from gonogo import verdict_file

    return verdict_file.document(verdict=None, exit_code=4, env=None, phases=[], started=dt.datetime.now(dt.timezone.utc),
                                 selection={"markexpr": "", "keyword": "", "args": [], "workers": 0}, duration_s=0.0,
                                 usage_error="x")


def changed(**keys: object) -> str:
    return json.dumps({**verdict_document(), **keys})


def merged_in_process(capsys, *args: str) -> tuple[int, str]:
    """merge.main within a time bound (a FIFO would block it: TimeoutError), and what it printed on stderr."""
    code = bounded(lambda: merge.main(list(args)), 10)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("write", "expected"), [
    pytest.param(lambda p: p.write_text('{"schema": "gonogo.gate/1"}'),
                 "not a gonogo verdict file (schema gonogo.gate/1): top level: 'verdict' is a required property",
                 id="schema-alone"),
    pytest.param(lambda p: p.write_text(changed(phases=None)), "phases: None is not of type 'array'", id="phases-null"),
    pytest.param(lambda p: p.write_text(changed(missing=[{"required": "tls", "id": "tls.x", "nodeid": "n", "reason": "r"}])),
                 "missing[0]: 'status' is a required property", id="missing-without-status"),
    pytest.param(lambda p: p.write_text(changed(started_at="yesterday")), "started_at: 'yesterday' is not a 'date-time'",
                 id="started-yesterday"),
    pytest.param(lambda p: p.write_text(changed(finished_at="2026-12-07T10:00:00")),
                 "finished_at: '2026-12-07T10:00:00' is not a 'date-time'", id="a-moment-without-offset"),
    pytest.param(lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested more than 20 levels deep", id="deep-json"),
    pytest.param(lambda p: p.write_text(changed(environment={"name": "prod", "source": "--env", "profile": "p",
                                                             "x": json.loads("[" * 30 + "]" * 30)})),
                 "environment.x: nested more than 20 levels deep", id="deep-inside"),
    pytest.param(lambda p: p.write_text('{"schema": ' + "9" * 5000 + "}"), "cannot read it as JSON (Exceeds the limit",
                 id="5000-digits"),
    pytest.param(lambda p: p.write_text("{not json"), "cannot read it as JSON", id="not-json"),
    pytest.param(os.mkfifo, "cannot read it: it is a FIFO, not a regular file", id="fifo"),
    pytest.param(lambda p: p.mkdir(), "cannot read it: it is a directory, not a regular file", id="directory"),
])
def test_a_gate_file_that_is_not_a_verdict_is_one_line_naming_file_and_key(tmp_path, capsys, write, expected):
    bad = tmp_path / "gate.json"
    write(bad)
    out = tmp_path / "merged" / "gate.json"

    code, err = merged_in_process(capsys, str(bad), "-o", str(out))

    assert code == 4 and err.count("\n") == 1, err  # before: a traceback (KeyError, TypeError, ValueError), exit 1
    assert err.startswith(f"gonogo merge: {bad}: ") and expected in err, err
    assert not out.parent.exists()  # nothing written


@pytest.fixture
def one_run(tmp_path):
    """A folder with a valid gate.json and a results folder with one result and its attachment."""
    run = tmp_path / "run"
    (run / "allure-results").mkdir(parents=True)
    (run / "gate.json").write_text(json.dumps(verdict_document()))
    (run / "allure-results" / "a-result.json").write_text(json.dumps(
        {"fullName": "checks.test_app#test_up", "attachments": [{"name": "x", "source": "b-attachment.txt"}]}))
    (run / "allure-results" / "b-attachment.txt").write_text("evidence")
    return run


@pytest.mark.parametrize(("write", "expected"), [
    pytest.param(lambda p: p.write_text("{truncated"), "cannot read it as JSON", id="not-json"),
    pytest.param(lambda p: p.write_text("[1]"), "not an Allure result: top level: [1] is not of type 'object'", id="a-list"),
    pytest.param(lambda p: p.write_text('{"attachments": [{"name": "x"}]}'),
                 "not an Allure result: attachments[0]: 'source' is a required property", id="attachment-without-source"),
    pytest.param(lambda p: p.write_text('{"fullName": 7}'), "not an Allure result: fullName: 7 is not of type 'string'",
                 id="name-not-a-string"),
    pytest.param(os.mkfifo, "is a FIFO, not a regular file", id="fifo"),
])
def test_a_corrupt_allure_result_is_one_line_and_the_merged_results_stay(one_run, tmp_path, capsys, write, expected):
    corrupt = one_run / "allure-results" / "c-result.json"
    write(corrupt)
    out = tmp_path / "merged"
    (out / "allure-results").mkdir(parents=True)
    (out / "allure-results" / "earlier-result.json").write_text("{}")

    code, err = merged_in_process(capsys, str(one_run / "gate.json"), "-o", str(out / "gate.json"),
                                  f"--results={one_run / 'allure-results'}")

    assert code == 4 and err.count("\n") == 1, err  # before: a JSONDecodeError or AttributeError traceback, exit 1
    assert err.startswith(f"gonogo merge: {corrupt}: ") and expected in err, err
    assert [p.name for p in (out / "allure-results").iterdir()] == ["earlier-result.json"]
    assert not (out / "gate.json").exists()


def test_a_corrupt_quality_gate_file_beside_a_gate_file_names_it(one_run, tmp_path, capsys):
    (one_run / "quality-gate.json").write_text('{"schema": "gonogo.quality-gate/1", "required": 3}')

    code, err = merged_in_process(capsys, str(one_run / "gate.json"), "-o", str(tmp_path / "out" / "gate.json"))

    assert code == 4 and err.startswith(f"gonogo merge: {one_run / 'quality-gate.json'}: not a gonogo quality-gate.json: "), err


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["-o", "{tmp}"], "-o {tmp}: {tmp} is a directory: name a file, e.g. {tmp}/gate.json", id="o-a-directory"),
    pytest.param(["-o", "{tmp}/afile/gate.json"], "-o {tmp}/afile/gate.json: {tmp}/afile is a file, not a folder",
                 id="o-under-a-file"),
    pytest.param(["-o", "/proc/gonogo/gate.json"], "-o /proc/gonogo/gate.json: cannot write in /proc", id="o-under-proc"),
    pytest.param(["-o", "{tmp}/out/gate.json", "--results={run}/allure-results", "--results-out={tmp}/afile"],
                 "--results-out {tmp}/afile: {tmp}/afile is a file, not a folder", id="results-out-a-file"),
    pytest.param(["-o", "{tmp}/out/gate.json", "--results={run}/allure-results", "--results-out={run}/allure-results"],
                 "--results-out {run}/allure-results: is also a --results folder", id="results-out-is-an-input"),
])
def test_an_unusable_output_is_one_line_before_anything_is_written(one_run, tmp_path, capsys, args, expected):
    (tmp_path / "afile").write_text("a file")
    args = [a.format(tmp=tmp_path, run=one_run) for a in args]

    code, err = merged_in_process(capsys, str(one_run / "gate.json"), *args)

    assert code == 4 and err.startswith(f"gonogo merge: {expected.format(tmp=tmp_path, run=one_run)}"), err
    assert err.count("\n") == 1, err  # before: IsADirectoryError, FileExistsError or PermissionError tracebacks
    assert (tmp_path / "afile").read_text() == "a file" and not (tmp_path / "out").exists()
    assert sorted(p.name for p in (one_run / "allure-results").iterdir()) == ["a-result.json", "b-attachment.txt"]


@pytest.mark.parametrize("args", [["{bad}", "-o", "{tmp}/out.json"], ["{good}", "-o", "{tmp}"]], ids=["bad-gate", "o-dir"])
def test_python_m_gonogo_merge_says_one_line_and_exit_4(one_run, tmp_path, args):
    (tmp_path / "bad.json").write_text('{"schema": "gonogo.gate/1", "phases": null}')
    argv = [a.format(bad=tmp_path / "bad.json", good=one_run / "gate.json", tmp=tmp_path) for a in args]

    done = subprocess.run([sys.executable, "-m", "gonogo.merge", *argv], capture_output=True, text=True, timeout=60)

    assert done.returncode == 4 and done.stdout == "" and done.stderr.count("\n") == 1, done
    assert done.stderr.startswith("gonogo merge: ") and "Traceback" not in done.stderr, done.stderr


def test_a_merged_verdict_merges_again(one_run, tmp_path, capsys):
    """What the merge writes is a verdict file of the schema: merging it again is fine."""
    first = tmp_path / "first" / "gate.json"
    assert merged_in_process(capsys, str(one_run / "gate.json"), "-o", str(first))[0] == 1
    code, err = merged_in_process(capsys, str(first), str(one_run / "gate.json"), "-o", str(tmp_path / "again.json"))

    assert code == 1 and err == "", err
    jsonschema.validate(json.loads((tmp_path / "again.json").read_text()), merge.gate_schema())


# -- [[gate.not_applicable]] (issue 22, item 3) ---------------------------------------------------------------------
DECIDED = """
[[gate.not_applicable]]
check = "app.logs"
reason = "this host ships its logs elsewhere by design"
"""


def test_checks_decided_not_applicable_are_carried_by_their_run(run_gate, allure_tools, tmp_path):
    profiles = {"host1": profile() + DECIDED, "host2": profile()}
    post1 = keep(run_gate(CHECKS, "-m", "postdeploy", profile=profiles, env="host1"), tmp_path, "post1")
    post2 = keep(run_gate(None, "-m", "postdeploy", profile=None, env="host2"), tmp_path, "post2")
    older = json.loads((post2 / "gate.json").read_text())
    del older["decided_not_applicable"]  # a gate file of a gonogo before the key: still merged
    (post2 / "gate.json").write_text(json.dumps(older))

    out = tmp_path / "merged"
    code = merge.main([str(post1 / "gate.json"), str(post2 / "gate.json"), "-o", str(out / "gate.json"),
                       f"--results={post1 / 'allure-results'}", f"--results={post2 / 'allure-results'}"])

    merged = json.loads((out / "gate.json").read_text())
    jsonschema.validate(merged, merge.gate_schema())
    assert code == 1 and merged["verdict"] == "NO-GO"  # host2's ready check failed
    [entry] = merged["decided_not_applicable"]
    assert (entry["id"], entry["decision"]["reason"]) == ("app.logs", "this host ships its logs elsewhere by design")
    assert entry["run"] == "postdeploy@host1 (gate.json)" and merged["counts"]["decided_not_applicable"] == 1
    assert sorted(e["id"] for e in merged["failed"]) == ["app.logs", "app.ready"]  # host2 judged its logs: a warning
    properties = (out / "allure-results" / "environment.properties").read_text()
    assert "decided.not.applicable=app.logs (this host ships its logs elsewhere by design)" in properties.splitlines()
