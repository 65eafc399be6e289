"""Marker validation: a bad severity or runbook step id is a collection error that says what is allowed."""

from __future__ import annotations

import re

import pytest


BAD_MARKERS = [
    pytest.param('severity("fatal")', ["unknown severity 'fatal'; allowed: blocker, critical, warning"],
                 id="unknown-severity"),
    pytest.param('runbook("btq 2.1")', ["malformed runbook step id 'btq 2.1'; allowed form: PREFIX-N or PREFIX-N.M"],
                 id="malformed-step"),
    pytest.param('runbook("BTQ-2.9")', ["unknown runbook step id 'BTQ-2.9' (not in STEPS.md); did you mean", "BTQ-2.1"],
                 id="unknown-step"),
]


def backups_with(marker: str) -> dict[str, str]:
    return {"test_backups.py": f"""
        import pytest

        @pytest.mark.{marker}
        def test_dump_fresh():
            pass

        def test_dump_readable():
            pass
    """}


def assert_collection_error(run, expected: list[str]) -> None:
    assert run.ret == 1, run.log  # every NO-GO exits 1, serially and under xdist
    assert "ERROR collecting test_backups.py" in run.out, run.log
    assert "test_backups.py::test_dump_fresh: " + expected[0] in run.out, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["exit_code"] == run.ret
    assert gate["counts"]["collection_errors"] == 1, gate["reasons"]
    reasons = [r for r in gate["reasons"] if r.startswith("collection error in test_backups.py")]
    assert len(reasons) == 1, gate["reasons"]
    for fragment in expected:
        assert fragment in reasons[0]
    assert not any("by the user" in r for r in gate["reasons"]), gate["reasons"]  # nobody pressed Ctrl-C
    assert "During handling of the above exception" not in run.out, run.log


@pytest.mark.parametrize(("marker", "expected"), BAD_MARKERS)
def test_bad_marker_is_a_collection_error_and_no_go(run_gate, marker, expected):
    assert_collection_error(run_gate(backups_with(marker)), expected)


def test_bad_marker_under_xdist_is_one_collection_error(run_gate):
    run = run_gate(backups_with('severity("fatal")'), "-n", "2")
    assert_collection_error(run, ["unknown severity 'fatal'; allowed: blocker, critical, warning"])


def test_good_markers_are_recorded(run_gate, pytester):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ngonogo_runbook_steps = ["OURSTEPS.md"]\n')
    steps = "| id | phase | step |\n|---|---|---|\n| OPS-7.2 | post | the CDN is purged |\n"
    (pytester.path / "OURSTEPS.md").write_text(steps)
    run = run_gate({"test_backups.py": """
        import pytest

        pytestmark = pytest.mark.predeploy

        @pytest.mark.severity("warning")
        @pytest.mark.runbook("BTQ-2.1", "SMK-3.2")
        @pytest.mark.runbook("OPS-7.2")
        @pytest.mark.subject("backup")
        def test_dump_fresh():
            assert False, "the newest dump is 31 h old"
    """})

    assert run.gate["verdict"] == "GO-WITH-WARNINGS", run.log
    [failed] = run.gate["failed"]
    assert failed["id"] == "backup.dump_fresh"
    assert (failed["subject"], failed["severity"], failed["phases"]) == ("backup", "warning", ["predeploy"])
    assert sorted(failed["runbook"]) == ["BTQ-2.1", "OPS-7.2", "SMK-3.2"]  # OPS-7.2: from gonogo_runbook_steps
    assert re.search(r"FAILED +warning +backup\.dump_fresh \[[A-Z0-9 .-]+\]: .*31 h old", run.out), run.log


EACH_NAMES = {"test_containers.py": """
    import pytest

    @pytest.mark.postdeploy
    @pytest.mark.each("docker.services", "service")
    def test_up(service):
        assert service in ("web", "worker")

    @pytest.mark.postdeploy
    @pytest.mark.each("docker.one_shot", "one_shot")
    def test_exited(one_shot):
        assert one_shot == ("migrations", 0)
"""}


@pytest.mark.parametrize("one_shot, passed, skipped", [
    ("{ migrations = 0 }", ["test_up[web]", "test_up[worker]", "test_exited[migrations]"], []),
    ("{}", ["test_up[web]", "test_up[worker]"], ["containers.exited[not-configured]"]),
], ids=["table", "empty-table"])
def test_each_over_a_list_of_names_and_a_table(run_gate, one_shot, passed, skipped):
    """A list of names gives one check per name, a table of name = value one per (name, value); empty: not configured."""
    profile = f"""
        [environment]
        release = "1.0"

        [docker]
        compose_project = "shop"
        services = ["web", "worker"]
        one_shot = {one_shot}
    """
    run = run_gate(EACH_NAMES, "-m", "postdeploy", "-v", profile=profile)

    assert run.gate["counts"]["passed"] == len(passed), run.log
    for check in passed:
        assert f"test_containers.py::{check} PASSED" in run.out, run.log
    assert [(e["id"], e["status"]) for e in run.gate["skipped"]] == [(s, "not-configured") for s in skipped], run.log
