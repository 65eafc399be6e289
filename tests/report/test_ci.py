"""The example CI gate jobs (ci/github-release-gate.yml, ci/gitlab-release-gate.yml).

Both parse as YAML and validate against the schemas check-jsonschema vendors and keeps current
(GitHub's workflow schema, GitLab's CI schema, from SchemaStore); their stages come in the gate's
order; and every command they run is one the README documents.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
FILES = {"github": ROOT / "ci" / "github-release-gate.yml", "gitlab": ROOT / "ci" / "gitlab-release-gate.yml"}
SCHEMAS = {"github": "github-workflows.json", "gitlab": "gitlab-ci.json"}


def load(name: str) -> dict:
    return YAML(typ="safe").load(FILES[name].read_text())


def schema(name: str) -> dict:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / SCHEMAS[name]
    return json.loads(vendored.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(FILES))
def test_valid_against_the_ci_schema(name):
    jsonschema.validate(load(name), schema(name))


def test_github_jobs_run_in_the_gate_order_and_publish_everything():
    jobs = load("github")["jobs"]
    assert list(jobs) == ["predeploy", "deploy", "postdeploy", "report"]
    assert (jobs["deploy"]["needs"], jobs["postdeploy"]["needs"]) == ("predeploy", "deploy")
    assert jobs["report"]["if"] == "always()"
    uploaded = next(s for s in jobs["report"]["steps"] if s.get("with", {}).get("name") == "release-gate-report")
    for artefact in ("gate.json", "gonogo-report.html", "allure-report/", "junit.xml"):
        assert artefact in uploaded["with"]["path"]
    assert jobs["report"]["steps"][-1]["run"] == 'test "$GATE_EXIT" = 0'  # NO-GO fails the workflow


def test_gitlab_stages_run_in_the_gate_order_and_publish_everything():
    pipeline = load("gitlab")
    assert pipeline["stages"] == ["predeploy", "deploy", "postdeploy", "report"]
    for job in ("predeploy", "postdeploy"):
        assert pipeline[job]["artifacts"]["reports"]["junit"].endswith("junit.xml")
        assert pipeline[job]["artifacts"]["when"] == "always"
    report = pipeline["report"]
    assert report["when"] == "always"
    assert {"gonogo/reports/gate.json", "gonogo/reports/gonogo-report.html"} <= set(report["artifacts"]["paths"])
    assert report["script"][-1].startswith("exit $status")  # NO-GO (gonogo.merge's exit 1) fails the pipeline


def commands(text: str) -> set[str]:
    """What the files run: ``python -m MODULE [subcommand]``, npm installs and the pytest options used."""
    found = {m.group(0) for m in re.finditer(r"python -m gonogo\.\w+( (build|gate))?|npm install --prefix reports", text)}
    found |= set(re.findall(r"--(?:gate-file|alluredir|junitxml|baseline)=|--(?:watch|every) ", text))
    return found | {f"-m {phase}" for phase in re.findall(r"-m \"?(predeploy|postdeploy)", text)}


def test_every_command_they_run_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    used = set().union(*(commands(path.read_text()) for path in FILES.values()))
    assert {"python -m gonogo.merge", "python -m gonogo.report build", "python -m gonogo.report gate",
            "npm install --prefix reports", "--junitxml="} <= used
    assert sorted(c for c in used if c not in readme) == []
