"""Before and after on the real sandbox, as a release night runs it (issue 13's three moments).

1. predeploy records the baseline -> ``python -m sandbox deploy`` -> postdeploy compares: GO, with the release
   diff attached (the tags that changed, the migration added). The sandbox is rolled back to its previous
   release first, so the deploy is a real one (new images, a new migration), and ends on the newest again.
2. The watch window (shorter than a release night's 15 minutes): GO on the healthy stack, NO-GO under
   ``flapping`` (one request in five answers 502), its progress printed and its timeline attached.

3. A critical log line during the window (log-errors, /reports/ asked meanwhile) is NO-GO, and a migration
   removed after the baseline is NO-GO by diff.migrations_only_added.

The faults against a baseline (slow-api, rows-lost, flapping, mixed-tags) are rows of the fault matrix.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]


def gate(sb: "Sandbox", tmp_path: Path, name: str, *args: str) -> tuple[str, dict[str, Any]]:
    """One gate run of ours (its own gate file and Allure folder; the baseline shared by the test's runs)."""
    folder = tmp_path / name
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--env", "sandbox", "-p", "no:cacheprovider", *args,
         f"--gate-file={folder / 'gate.json'}", f"--alluredir={folder / 'allure'}", f"--baseline={tmp_path / 'baseline.json'}"],
        cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    gate_file = folder / "gate.json"
    assert gate_file.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(gate_file.read_text())


def attachments(tmp_path: Path, name: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in (tmp_path / name / "allure").glob("*-attachment*"))


def test_baseline_deploy_then_postdeploy_is_go_with_the_release_diff(sandbox: "Sandbox", tmp_path: Path) -> None:
    newest = sandbox.state["releases"][sandbox.state["current"]]
    sandbox.cli("rollback", label="rollback (so that the deploy below is a real one)")
    old, new = sandbox.values["RELEASE"], None
    try:
        sandbox.assert_healthy()
        out, before = gate(sandbox, tmp_path, "predeploy", "-m", "predeploy", "-n", "2")
        assert before["verdict"] == "GO", out[-3000:]
        assert "diff.baseline_recorded" in before["passed"], before
        assert json.loads((tmp_path / "baseline.json").read_text())["release"] == old

        sandbox.cli("deploy", newest, label=f"deploy {newest}")
        new = sandbox.values["RELEASE"]
        out, after = gate(sandbox, tmp_path, "postdeploy", "-m", "postdeploy and not smoke", "--partial", "-n", "2")
        assert after["verdict"] == "GO", out[-3000:]
        diff_checks = {"diff.rows_kept[shop_sale]", "diff.latency_not_degraded[ready]", "diff.migrations_only_added",
                       "diff.services_on_target", "diff.error_rate"}
        assert diff_checks <= set(after["passed"]), after["passed"]
        shown = attachments(tmp_path, "postdeploy")
        assert "release diff of sandbox: baseline taken " in shown and f"(release {old}), now " in shown, shown[:2000]
        assert f"web: {old} -> {new}" in shown and "+1: promotions.0001_initial" in shown, shown[:3000]
        # the seeded history (and whatever earlier tests sold) counted exactly, the same before and after
        assert re.search(r"rows of shop_sale +(\d+) \(exact\) +\1 \(exact\) +\+0 ", shown), shown[:3000]
    finally:
        if sandbox.state["releases"][sandbox.state["current"]] != newest:
            sandbox.cli("deploy", newest, label=f"deploy {newest} (back to the newest)")
    sandbox.assert_healthy()


#: the watch window with the health checks: a --partial run still judges its required subject ([gate] required = health)
WINDOW = ("-m", "postdeploy", "-k", "watch or health", "--partial", "--watch", "16s", "--every", "2s")


def test_the_watch_window_is_go_when_healthy_and_no_go_when_flapping(sandbox: "Sandbox", faults: Any, tmp_path: Path) -> None:
    sandbox.assert_healthy()
    out, healthy = gate(sandbox, tmp_path, "healthy", *WINDOW)
    assert healthy["verdict"] == "GO", out[-3000:]
    assert sorted(p for p in healthy["passed"] if p.startswith("watch.")) == [
        "watch.available", "watch.error_rate", "watch.no_critical_log", "watch.window_complete"], healthy
    assert "[watch] " in out and " left, round 9: 0 failed probe(s) so far" in out, out[-3000:]

    faults(("flapping",))
    out, flapping = gate(sandbox, tmp_path, "flapping", *WINDOW)
    failed = {e["id"]: e["reason"] for e in flapping["failed"]}
    assert flapping["verdict"] == "NO-GO", out[-3000:]
    assert {"watch.available", "watch.error_rate"} <= set(failed), failed
    assert ": 502" in failed["watch.available"] and "boutique-web@file" in failed["watch.error_rate"], failed
    shown = attachments(tmp_path, "flapping")
    assert "watch window of sandbox: " in shown and "of 16s, 9 round(s) every 2s" in shown and "FAIL" in shown, shown[:2000]
    assert "<table" in shown and "#c62828" in shown  # the timeline, a failed round in red




def test_a_critical_log_line_during_the_window_is_no_go(sandbox: "Sandbox", faults: Any, tmp_path: Path) -> None:
    """log-errors sets the flag that makes /reports/ raise; three requests a few seconds into the window leave
    their tracebacks and 500s in the web log, which the window's rounds read (watch.no_critical_log)."""
    sys.path.insert(0, str(REPO))
    from sandbox import probes

    sandbox.assert_healthy()
    faults(("log-errors",))
    session = probes.Session(sandbox.values)
    assert session.login(), "could not log in as the demo user"
    codes: list[int] = []

    def users_during_the_window() -> None:
        time.sleep(6)
        codes.extend(session.get("/reports/").status for _ in range(3))

    users = threading.Thread(target=users_during_the_window)
    users.start()
    out, seen = gate(sandbox, tmp_path, "log-errors", *WINDOW)
    users.join()

    assert 500 in codes, codes
    failed = {e["id"]: e["reason"] for e in seen["failed"]}
    assert seen["verdict"] == "NO-GO", out[-3000:]
    assert "watch.no_critical_log" in failed, failed
    assert "web" in failed["watch.no_critical_log"], failed["watch.no_critical_log"]
    assert "watch.available" in seen["passed"], seen  # the health endpoints stayed green


def test_a_migration_removed_after_the_baseline_is_no_go(sandbox: "Sandbox", tmp_path: Path) -> None:
    """diff.migrations_only_added against the real migrations table: the baseline holds
    promotions.0001_initial; the row is deleted (as a botched rollback of the schema would), then put back."""
    import psycopg

    sandbox.assert_healthy()
    out, before = gate(sandbox, tmp_path, "baseline", "-m", "predeploy", "-k", "baseline_recorded", "--partial")
    assert before["verdict"] == "GO", out[-3000:]
    with psycopg.connect(sandbox.values["DATABASE_URL"], connect_timeout=5, autocommit=True) as owner:
        removed = owner.execute("DELETE FROM django_migrations WHERE app = 'promotions' AND name = '0001_initial' "
                                "RETURNING id, app, name, applied").fetchall()
        assert len(removed) == 1, removed
        try:
            out, after = gate(sandbox, tmp_path, "after", "-m", "postdeploy", "-k", "diff.", "--partial")
        finally:
            owner.execute("INSERT INTO django_migrations (id, app, name, applied) VALUES (%s, %s, %s, %s)", removed[0])

    failed = {e["id"]: e["reason"] for e in after["failed"]}
    assert after["verdict"] == "NO-GO", out[-3000:]
    assert "diff.migrations_only_added" in failed and "promotions.0001_initial" in failed["diff.migrations_only_added"], failed
    assert {"diff.rows_kept[shop_sale]", "diff.services_on_target"} <= set(after["passed"]), after["passed"]
