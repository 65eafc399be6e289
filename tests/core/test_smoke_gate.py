"""The smoke flows (smoke/) before any browser opens: where they are not allowed they are reported as
not run, never passed, and a required one is a NO-GO; a missing Chromium is an error that says so.

The inner runs use the repository's own smoke/ and fixtures/smoke.toml, copied next to the profile.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLOWS = {"smoke.login", "smoke.sale_paid", "smoke.invoice", "smoke.credit", "smoke.reports"}

#: another postdeploy check, so a run has something that judges
OTHER = """
import pytest

@pytest.mark.postdeploy
def test_ok():
    '''Something else of the phase passes.'''
"""


def _profile(smoke: str, gate: str = "") -> str:
    return f"""
[environment]
release = "1.4.2"

[smoke]
base_url = "https://shop.example.test"
user = "demo"
password = "s3cret-smoke-pass"
{smoke}

[gate]
{gate}
"""


@pytest.fixture
def with_flows(pytester: pytest.Pytester) -> Path:
    shutil.copytree(REPO / "smoke", pytester.path / "smoke", ignore=shutil.ignore_patterns("__pycache__"))
    (pytester.path / "fixtures").mkdir()
    shutil.copy(REPO / "fixtures" / "smoke.toml", pytester.path / "fixtures" / "smoke.toml")
    return pytester.path


@pytest.mark.parametrize("allowed", ["", "allowed = false"], ids=["default", "false"])
def test_flows_not_allowed_are_not_run_and_never_pass(run_gate, with_flows, allowed):
    run = run_gate({"test_app.py": OTHER}, "-m", "postdeploy", profile=_profile(allowed))
    gate = run.gate
    assert gate["verdict"] == "GO", run.log
    skipped = {entry["id"]: entry for entry in gate["skipped"]}
    assert set(skipped) == FLOWS, gate["skipped"]
    for entry in skipped.values():
        assert entry["status"] == "not-configured"
        assert "[smoke] allowed = false" in entry["reason"] and "not run" in entry["reason"]
    assert gate["counts"]["passed"] == 1


def test_a_required_flow_that_is_not_allowed_is_a_no_go(run_gate, with_flows):
    run = run_gate({"test_app.py": OTHER}, "-m", "postdeploy",
                   profile=_profile("allowed = false", 'required = ["smoke.sale_paid"]'))
    gate = run.gate
    assert gate["verdict"] == "NO-GO" and run.ret == 1, run.log
    [missing] = gate["missing"]
    assert missing["id"] == "smoke.sale_paid" and missing["status"] == "not-configured"
    assert any("required smoke.sale_paid" in reason for reason in gate["reasons"]), gate["reasons"]


def test_postdeploy_without_smoke_is_a_partial_run(run_gate, with_flows):
    """The flows are postdeploy checks too: -m "postdeploy and not smoke" leaves part of the phase out."""
    run = run_gate({"test_app.py": OTHER}, "-m", "postdeploy and not smoke", profile=_profile("allowed = true"))
    gate = run.gate
    assert gate["verdict"] == "NO-GO" and gate["partial"] is False, run.log
    assert sorted(c.rpartition("::")[2] for c in gate["left_out"]["checks"]) == sorted(
        f"test_{flow.removeprefix('smoke.')}" for flow in FLOWS)
    run = run_gate(None, "-m", "postdeploy and not smoke", "--partial", profile=_profile("allowed = true"))
    gate = run.gate
    assert gate["verdict"] == "GO" and gate["partial"] is True, run.log
    assert gate["counts"]["selected"] == 1 and gate["skipped"] == []


def test_a_missing_chromium_is_an_error_that_says_so(run_gate, with_flows, tmp_path):
    chromium = tmp_path / "no-chromium-here"
    run = run_gate({"test_app.py": OTHER}, "-m", "smoke",
                   profile=_profile(f'allowed = true\nchromium = "{chromium}"'))
    gate = run.gate
    assert gate["verdict"] == "NO-GO", run.log
    errored = {entry["id"]: entry["reason"] for entry in gate["errored"]}
    assert set(errored) == FLOWS, gate
    for reason in errored.values():
        assert f"Chromium not found at {chromium} ([smoke] chromium)" in reason
        assert "apt-get install chromium" in reason
    assert "s3cret-smoke-pass" not in run.out + run.err


def test_a_profile_outside_the_project_uses_the_suite_defaults(run_gate, with_flows, tmp_path_factory):
    """Issue 22, item 9: a profile in /etc/gonogo (a tmp dir outside the project, --environments-dir): the flows'
    defaults are the suite's fixtures/smoke.toml (under the rootdir), not a fixtures/ beside the profile. Not
    allowed here, so no browser opens: the flows are "not run" for that reason, not errored on a missing file."""
    outside = tmp_path_factory.mktemp("etc") / "gonogo"
    outside.mkdir()
    (outside / "prod.toml").write_text(_profile("allowed = false"))

    run = run_gate({"test_app.py": OTHER}, "-m", "postdeploy", f"--environments-dir={outside}", profile=None,
                   env="prod")

    gate = run.gate
    assert gate["errored"] == [] and gate["verdict"] == "GO", run.log
    skipped = {entry["id"]: entry for entry in gate["skipped"]}
    assert set(skipped) == FLOWS, gate["skipped"]
    assert all("[smoke] allowed = false" in entry["reason"] for entry in skipped.values()), gate["skipped"]
