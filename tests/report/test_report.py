"""The report of a real run: the verdict first, runbook coverage, categories, history, no secrets.

Each test runs gonogo on tiny checks (pytester, a subprocess), some of them the real
checks/test_health.py against a real loopback HTTP server, then renders the report with the real
Allure Report 3 (``python -m gonogo.report``'s functions) and reads what it produced.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from gonogo import report
from gonogo.steps import load_steps

CHECKS = """
import pytest
from gonogo import judge

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-6.1")
def test_live():
    '''The live endpoint answers.'''

@pytest.mark.postdeploy
@pytest.mark.severity("{severity}")
@pytest.mark.runbook("SMK-6.2")
def test_ready():
    '''The ready endpoint answers 200.'''
    judge("ready status", False, expected="200", actual="503", where="http://127.0.0.1:1/health/ready/")

@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("BTQ-2.1")
def test_dump():
    '''A dump exists.'''
"""


def build(run, tools: report.Tools) -> tuple[Path, Path]:
    return report.build(tools, run.reports, [run.allure_dir], run.reports / "gate.json")


def test_the_verdict_is_the_first_result_and_names_what_decided_it(run_gate):
    run = run_gate(CHECKS.format(severity="blocker"), profile="""
        [environment]
        release = "1.4.2"
        [gate]
        waivers = [{ check = "app.nothing", reason = "old", until = 2020-01-01 }]
    """)
    assert run.gate["verdict"] == "NO-GO", run.log

    result = run.verdict_result()
    assert result["name"] == "NO-GO · dev · release 1.4.2"
    assert result["status"] == "failed"
    assert result["start"] <= min(r["start"] for r in run.allure_results())  # listed first
    assert "| app.ready | blocker | failed | ready status: expected 200, got 503 | SMK-6.2 |" in result["description"]
    assert "## Expired waivers (ignored)" in result["description"]
    names = {a["name"]: a for a in result["attachments"]}
    assert sorted(names) == ["deciding checks", "gate.json", "runbook coverage"]
    gate_copy = json.loads((run.allure_dir / names["gate.json"]["source"]).read_text())
    assert gate_copy["verdict"] == "NO-GO"

    properties = dict(line.split("=", 1) for line in (run.allure_dir / "environment.properties").read_text().splitlines())
    assert list(properties)[:3] == ["verdict", "environment", "target.version"]  # the report's metadata, first
    assert properties["decided.by.blocking.checks"] == "app.ready"
    assert properties["expired.waivers"] == "app.nothing"


def test_verdict_status_per_verdict(run_gate):
    warned = run_gate(CHECKS.format(severity="warning"))
    assert (warned.gate["verdict"], warned.verdict_result()["status"]) == ("GO-WITH-WARNINGS", "broken")
    fine = run_gate(CHECKS.replace("False,", "True,").format(severity="blocker"))
    assert (fine.gate["verdict"], fine.verdict_result()["status"]) == ("GO", "passed")


def test_coverage_lists_every_step_with_its_state(run_gate):
    run = run_gate(CHECKS.format(severity="blocker"), "-m", "postdeploy")

    text = (run.reports / "coverage.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if re.match(r"^\| [A-Z]+-\d", line)}
    assert sorted(rows) == sorted(load_steps())  # every step id of STEPS.md, once
    assert "| automated, passed |" in rows["SMK-6.1"] and "`app.live` passed" in rows["SMK-6.1"]
    assert "| automated, failed |" in rows["SMK-6.2"] and "`app.ready` failed" in rows["SMK-6.2"]
    assert "| automated, not run in this run |" in rows["BTQ-2.1"] and "`app.dump` deselected" in rows["BTQ-2.1"]
    assert "| manual |" in rows["SMK-13"]
    assert "| not automated yet |" in rows["BTQ-4.3"]
    coverage_attachment = next(a for a in run.verdict_result()["attachments"] if a["name"] == "runbook coverage")
    assert (run.allure_dir / coverage_attachment["source"]).read_text() == text


def test_report_single_file_and_history_per_environment(run_gate, allure_tools):
    profiles = {"dev": '[environment]\nrelease = "1.4.2"\n', "staging": '[environment]\nrelease = "1.5.0"\n'}
    run = run_gate(CHECKS.format(severity="warning"), profile=profiles)
    html, single = build(run, allure_tools)
    run_gate(None, profile=None)
    build(run, allure_tools)
    run_gate(None, profile=None, env="staging")
    build(run, allure_tools)

    assert html.is_file() and single.is_file()
    assert single.name == "gonogo-report.html" and single.stat().st_size > 100_000  # everything inside one file
    for page in (html, single):
        assert "googletagmanager" not in page.read_text()  # no analytics call when the report is opened
    history = run.reports / "history"
    assert sorted(p.name for p in history.iterdir()) == ["dev.jsonl", "staging.jsonl"]
    assert len((history / "dev.jsonl").read_text().splitlines()) == 2
    assert len((history / "staging.jsonl").read_text().splitlines()) == 1


def embedded_data(single: Path) -> str:
    """The data files the single-file report carries (base64 in its ``d("name", "...")`` calls), decoded."""
    payloads = re.findall(r'd\("([^"]+)","([A-Za-z0-9+/=]*)"\)', single.read_text())
    assert payloads, "no embedded data found: has Allure changed how the single file carries its data?"
    return "\n".join(base64.b64decode(data).decode("utf-8", "replace") for _, data in payloads)


CATEGORIES = """
import socket
import pytest
from gonogo import judge, section

@pytest.mark.severity("warning")
def test_refused(stack):
    '''Connection refused.'''
    fact = stack.http.get("http://127.0.0.1:9/", timeout_s=2)
    judge("api status", fact.status == 200, expected="200", actual=fact.status_text, where="http://127.0.0.1:9/", fact=fact)

@pytest.mark.severity("warning")
def test_wrong_answer():
    '''The answer is wrong.'''
    judge("api status", False, expected="200", actual="500", where="http://api/")

@pytest.mark.severity("warning")
def test_not_configured(gonogo_env):
    '''Docker.'''
    section(gonogo_env, "docker")

@pytest.mark.severity("warning")
def test_errored():
    '''Errors.'''
    raise KeyError("status")

@pytest.mark.severity("warning")
def test_retried(converge):
    '''Passes on the third try.'''
    tries = iter([False, False, True])
    converge(lambda: next(tries), timeout_s=10, interval_s=0.01, what="three tries")
"""


def test_categories_sort_failures(run_gate, allure_tools):
    run = run_gate(CATEGORIES)
    assert run.gate["verdict"] == "GO-WITH-WARNINGS", run.log
    html, _ = build(run, allure_tools)

    tree = json.loads((html.parent / "widgets" / "categories.json").read_text())
    nodes = tree["nodes"]
    placed: dict[str, str] = {}

    def walk(node_id: str, category: str) -> None:
        node = nodes[node_id]
        if node["type"] == "tr":
            placed[node["name"]] = category
        for child in node.get("childrenIds", []):
            walk(child, category)

    for root in tree["roots"]:
        walk(root, nodes[root]["name"])
    assert placed["Connection refused."].startswith("Infrastructure unreachable")
    assert placed["The answer is wrong."].startswith("Application misbehaves")
    assert placed["Docker."].startswith("Configuration")
    assert placed["Errors."].startswith("Could not judge")
    assert placed["Passes on the third try."] == "Passed only after retries"
    assert placed["GO-WITH-WARNINGS · dev · release 1.4.2"] == "Release verdict"


def test_no_secret_in_the_report(run_gate, allure_tools, stub_server):
    secret, token = "s3cr3t-Pa55word-42", "tok-9f8e7d6c5b4a"
    stub_server.routes["/health"] = (503, json.dumps({"status": "error", "echo": secret}))
    checks = f"""
        import os
        import pytest
        from gonogo import judge
        from gonogo.evidence import attach

        @pytest.mark.severity("blocker")
        @pytest.mark.parametrize("value", [os.environ["DB_PASSWORD"]])
        def test_leaky(stack, value):
            '''Leaks {{value}} everywhere.'''
            fact = stack.http.get("{stub_server.url('/health')}?token=" + os.environ["API_TOKEN"], timeout_s=5)
            attach("the password " + value, {{"password": value, "body": fact.body}}, "json")
            print("stdout", value, os.environ["API_TOKEN"])
            judge("leak " + value, False, expected=value, actual=fact.status_text, where=fact.url, fact=fact)
    """
    profile = """
        [environment]
        release = "1.4.2"
        public_domain = "${API_TOKEN}.example.test"
        [database]
        dsn = "postgresql://gate:${DB_PASSWORD}@127.0.0.1:1/shop"
    """
    run = run_gate(checks, profile=profile, environ={"DB_PASSWORD": secret, "API_TOKEN": token})
    assert run.gate["verdict"] == "NO-GO", run.log
    html, single = build(run, allure_tools)

    assert "***" in embedded_data(single)  # masked, and shown masked
    texts = [p.read_text(errors="replace") for p in run.reports.rglob("*") if p.is_file()]
    texts.append(embedded_data(single))
    for value in (secret, token):
        encoded = base64.b64encode(value.encode()).decode()[:12]
        leaks = [t[max(0, t.find(value) - 80):t.find(value) + 80] for t in texts if value in t or encoded in t]
        assert not leaks, leaks


def test_a_profile_error_still_gives_a_no_go_report(run_gate, allure_tools):
    run = run_gate(CHECKS.format(severity="blocker"), profile='[environment]\nrelease = "${NOT_SET_ANYWHERE}"\n')
    assert run.ret == 4, run.log

    result = run.verdict_result()
    assert (result["name"], result["status"]) == ("NO-GO · no environment · release not set", "failed")
    assert "usage error: environments/dev.toml: [environment] release uses ${NOT_SET_ANYWHERE}" in result["statusDetails"]["message"]
    html, _ = report.build(allure_tools, run.reports, [run.allure_dir], run.reports / "gate.json")
    assert html.is_file()
