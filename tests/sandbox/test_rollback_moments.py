"""The rollback subject's two moments on the real sandbox, as a user runs them (``pytest -m rollback``).

One sequence, so the sandbox rolls back once: before the rollback the subject is GO (moment inferred
"before", the after-checks not applicable; the faults of that moment are rows of the fault matrix);
``python -m sandbox rollback`` then makes
the subject GO "after" (every service on the target, its record in ``rollbacks.jsonl``), with the API,
the frontend and ``manage.py check`` answering; a rollback that left the worker on the newer release
(``mixed-tags`` after the rollback: the worker runs the release rolled back from) and a missing metrics
record are NO-GOs; ``--rollback-moment=before`` after the rollback is a NO-GO (the run contradicts the
stack). The before and after runs are the whole phase (the rollback migrates the database back first);
the sandbox is deployed back to the newest release at the end. The whole phase after an application-only
rollback is NO-GO by ``migrations.none_unknown[rollback]`` (tests/sandbox/test_probe_migrations.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
#: the whole phase, as a user runs it
WHOLE_PHASE = ""


def gate(sb: "Sandbox", tmp_path: Path, name: str, select: str = "test_rollback", *options: str) -> dict[str, Any]:
    gate_file = tmp_path / f"{name}.json"
    narrowed = ["-k", select, "--partial"] if select else ["-n", "2"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "rollback", *narrowed, "--env", "sandbox",
                           "-p", "no:cacheprovider", "-rp", f"--gate-file={gate_file}", f"--alluredir={tmp_path / name}",
                           *options], cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert gate_file.is_file(), proc.stdout + proc.stderr
    result = dict(json.loads(gate_file.read_text()))
    result["stdout"] = proc.stdout
    return result


def failed(result: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["reason"] for f in result["failed"]}


def statuses(result: dict[str, Any], subject: str = "rollback") -> dict[str, str]:
    skipped = {s["id"]: s["status"] for s in result["skipped"] if s["subject"] == subject}
    return {**skipped, **{f["id"]: "failed" for f in result["failed"]}}


def test_before_and_after_a_rollback(sandbox: "Sandbox", faults: Any, tmp_path: Path) -> None:
    state = sandbox.state
    current, previous = state["current"], state["previous"]
    newest = state["releases"][current]
    timings: dict[str, float] = {}

    def timed(what: str, call: Any) -> Any:
        t0 = time.monotonic()
        result = call()
        timings[what] = round(time.monotonic() - t0, 1)
        return result

    sandbox.assert_healthy()  # an earlier test may have restarted the worker: the before run judges a settled stack
    before = timed("gate before", lambda: gate(sandbox, tmp_path, "before", WHOLE_PHASE))
    assert before["verdict"] == "GO", before["reasons"]
    assert statuses(before) == {"rollback.runs_target": "not-applicable", "rollback.metrics_recorded": "not-applicable"}
    # the two after-checks say the same reason: one note with their count (issue 22, item 8)
    [note] = [line for line in before["stdout"].splitlines()
              if f"note: 2 checks not applicable before the rollback (inferred: every service runs {current}, "
                 f"not the target {previous})" in line]
    assert "rollback.runs_target" in note and "rollback.metrics_recorded" in note, note

    metrics = sandbox.values["SANDBOX_STATE_DIR"] + "/rollbacks.jsonl"
    records_before = Path(metrics).read_text().count("\n") if Path(metrics).exists() else 0
    try:
        timed("rollback", lambda: sandbox.cli("rollback", label="rollback (database migrated back)"))
        record = json.loads(Path(metrics).read_text().splitlines()[-1])
        assert Path(metrics).read_text().count("\n") == records_before + 1
        assert (record["from"], record["version"], record["status"]) == (current, previous, "success"), record
        assert record["duration_seconds"] > 0 and record["timestamp"].endswith("Z")

        after = timed("gate after", lambda: gate(sandbox, tmp_path, "after", WHOLE_PHASE))
        assert after["verdict"] == "GO", after["reasons"]
        assert statuses(after) == {"rollback.target_complete": "not-applicable"}
        assert "not applicable after the rollback (inferred: every service runs the target" in after["stdout"]
        for passed in ("test_health.py::test_endpoint_healthy[ready]", "test_frontend.py::test_page_served[home]",
                       "test_commands.py::test_command_passes[django-check]", "test_rollback.py::test_runs_target",
                       "test_rollback.py::test_metrics_recorded"):
            assert f"PASSED checks/{passed}" in after["stdout"], after["stdout"]

        wrong_moment = timed("gate wrong moment", lambda: gate(sandbox, tmp_path, "wrong", "test_rollback",
                                                               "--rollback-moment=before"))
        assert wrong_moment["verdict"] == "NO-GO"
        assert failed(wrong_moment)["rollback.moment"].startswith(
            "rollback moment: expected no service on the target"), wrong_moment["failed"]

        Path(metrics).rename(metrics + ".aside")
        try:
            no_record = timed("gate no record", lambda: gate(sandbox, tmp_path, "no-record"))
        finally:
            Path(metrics + ".aside").rename(metrics)
        assert no_record["verdict"] == "NO-GO"
        assert list(failed(no_record)) == ["rollback.metrics_recorded"], no_record["failed"]
        assert "the file does not exist" in failed(no_record)["rollback.metrics_recorded"]

        faults(("mixed-tags",))  # after the rollback, "previous" is the newer release: the worker stayed on it
        assert sandbox.image_tag("worker") == current and sandbox.image_tag("web") == previous
        partial = timed("gate partial rollback", lambda: gate(sandbox, tmp_path, "partial"))
        sandbox.cli("heal", "mixed-tags")
        assert partial["verdict"] == "NO-GO"
        assert set(failed(partial)) == {"rollback.current_version", "rollback.runs_target"}, partial["failed"]
        assert failed(partial)["rollback.runs_target"] == (
            f"services on {previous}: expected every service on {previous}, got not on {previous}: worker {current}")
    finally:
        timed("deploy back", lambda: sandbox.cli("deploy", newest, label=f"deploy {newest} (back to the newest)"))
    assert sandbox.state["current"] == current and sandbox.values["ROLLBACK_TARGET"] == previous
    sandbox.assert_healthy()
    print(f"rollback moments: {timings}")
