"""Allure results: where they land, their labels, environment.properties and executor.json."""

from __future__ import annotations

import json
import pytest

from gonogo import __version__

PROFILE = """
[environment]
release = "1.4.2"
public_domain = "shop.example.test"
"""

HEALTH = """
import pytest

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-6.1", "SMK-6.2")
def test_live():
    '''The live endpoint answers.'''

@pytest.mark.predeploy
@pytest.mark.rollback
@pytest.mark.severity("warning")
def test_dump():
    assert False, "no dump"

@pytest.mark.subject("proxy")
def test_routes():
    pass
"""


def labels(result: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for label in result["labels"]:
        found.setdefault(label["name"], []).append(label["value"])
    return found


def test_results_labels_and_environment_by_default(run_gate):
    run = run_gate({"test_health.py": HEALTH}, profile=PROFILE)

    assert run.gate["verdict"] == "GO-WITH-WARNINGS", run.log
    results = {r["fullName"].rsplit("#", 1)[-1]: r for r in run.allure_results()}
    assert sorted(results) == ["test_dump", "test_live", "test_routes"]
    assert results["test_live"]["name"] == "The live endpoint answers."  # titled by the check's docstring

    live = labels(results["test_live"])
    assert live["epic"] == ["postdeploy"]
    assert live["feature"] == ["health"]
    assert live["story"] == ["health.live"]
    assert live["severity"] == ["blocker"]
    assert {"SMK-6.1", "SMK-6.2", "gonogo-severity:blocker"} <= set(live["tag"])
    assert results["test_live"]["status"] == "passed"

    dump = labels(results["test_dump"])
    assert sorted(dump["epic"]) == ["predeploy", "rollback"]
    assert dump["story"] == ["health.dump"]
    assert dump["severity"] == ["minor"]  # Allure has no "warning"
    assert "gonogo-severity:warning" in dump["tag"]
    assert results["test_dump"]["status"] == "failed"
    assert "no dump" in results["test_dump"]["statusDetails"]["message"]

    routes = labels(results["test_routes"])
    assert (routes["epic"], routes["feature"], routes["story"], routes["severity"]) == (
        ["unphased"], ["proxy"], ["proxy.routes"], ["critical"])

    lines = (run.allure_dir / "environment.properties").read_text().splitlines()
    properties = dict(line.split("=", 1) for line in lines)
    assert properties["environment"] == "dev"
    assert properties["environment.source"] == "--env"
    assert properties["target.version"] == "1.4.2"
    assert properties["host"] == "shop.example.test"
    assert properties["gonogo.version"] == __version__
    assert properties["verdict"] == "GO-WITH-WARNINGS"
    assert not (run.allure_dir / "executor.json").exists()  # no CI variables, no executor


def test_executor_from_github_actions_in_an_explicit_alluredir(run_gate):
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "4242",
               "GITHUB_RUN_NUMBER": "17", "GITHUB_WORKFLOW": "release gate"}
    run = run_gate({"test_health.py": HEALTH}, "--alluredir", "elsewhere", profile=PROFILE, environ=environ)

    results = run.root / "elsewhere"  # an explicit --alluredir is respected
    assert len(list(results.glob("*-result.json"))) == 3 + 1, run.log  # the checks and the verdict
    assert (results / "environment.properties").is_file()
    assert not run.allure_dir.exists()
    executor = json.loads((results / "executor.json").read_text())
    assert executor["name"] == "GitHub Actions", run.log
    assert executor["type"] == "github"
    assert executor["buildName"] == "release gate #17"
    assert executor["buildOrder"] == 17
    assert executor["buildUrl"] == "https://github.com/acme/shop/actions/runs/4242"


@pytest.mark.parametrize(
    ("environ", "name", "url"),
    [
        ({"GITLAB_CI": "true", "CI_JOB_NAME": "gate", "CI_PIPELINE_IID": "9", "CI_JOB_URL": "https://gl/job/1"},
         "GitLab CI", "https://gl/job/1"),
        ({"JENKINS_URL": "https://ci", "BUILD_TAG": "jenkins-gate-3", "BUILD_NUMBER": "3", "BUILD_URL": "https://ci/3"},
         "Jenkins", "https://ci/3"),
        ({"CI": "true"}, "CI", None),
        ({}, None, None),
    ],
)
def test_executor_from_other_ci(environ, name, url):
    from gonogo.allure_results import executor_from_ci

    executor = executor_from_ci(environ)
    assert (executor or {}).get("name") == name
    assert (executor or {}).get("buildUrl") == url
