"""The fault matrix: every sandbox fault ends NO-GO through the check that exists to catch it.

One table (``MATRIX``): a row applies one or more faults (faults that do not interfere are grouped
into one row, to keep the matrix inside CI's time), runs a phase as a user would (a pytest
subprocess with ``--env sandbox -m PHASE``, the whole phase, pointed at this session's sandbox by
SANDBOX_STATE_DIR), asserts the verdict and that every check it names is among the failures in
gate.json, and heals. The first row that applies a fault also observes it with a direct probe
(fault_effects.py) before the gate runs and after the heal: one fault and one heal serve both proofs
(test_faults.py observes the few whose probe another fault of their row would contradict). The healthy rows say each phase is GO on the
healthy stack. Every checks issue extends this table with its subjects.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fault_effects import apply_and_observe

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Row:
    """One line of the matrix: faults -> phase -> the checks that must fail, and the verdict.

    Check ids may be globs (``tls.certificate_valid_long_enough[*]``): ids that hold the sandbox's
    ports differ from one sandbox to the next.
    """

    faults: tuple[str, ...]
    phase: str
    must_fail: frozenset[str]
    verdict: str = "NO-GO"
    #: checks that must NOT fail in this row (the fault is not theirs to catch)
    must_pass: frozenset[str] = frozenset()
    #: record a baseline on the healthy stack before the faults (the diff checks compare with it); without one
    #: they are not configured
    baseline: bool = False
    #: requests to /health/ready/ through Traefik after the faults, before the phase: the users' traffic since
    #: the baseline that the error rate judges
    traffic: int = 0

    @property
    def id(self) -> str:
        return f"{'+'.join(self.faults) or 'healthy'}->{self.phase}" + ("+baseline" if self.baseline else "")


def row(faults: str, phase: str, *must_fail: str, verdict: str = "NO-GO", must_pass: tuple[str, ...] = (),
        baseline: bool = False, traffic: int = 0) -> Row:
    return Row(tuple(f for f in faults.split("+") if f), phase, frozenset(must_fail), verdict, frozenset(must_pass),
               baseline, traffic)


#: backend-down, seen by Traefik: both routers' service (the web container) DOWN, 503 through the entrypoint
TRAEFIK_BACKEND_DOWN = ("traefik.service_up[boutique-web@file]", "traefik.service_up[boutique-ws@file]",
                        "traefik.route_reaches_backend[boutique-web@file]", "traefik.route_reaches_backend[boutique-ws@file]")
#: what stays right when only the backend is down: Traefik, its routers, the containers' labels, its configuration (a
#: server DOWN is service_up's, no configuration error)
TRAEFIK_CONFIGURED = ("traefik.api_answers", "traefik.router_enabled[*]", "traefik.router_as_expected[*]",
                      "traefik.router_labels[*]", "traefik.http_redirects_to_https[*]",
                      "traefik.configuration_without_errors", "traefik.configuration_without_warnings")
#: router-wrong-host: the app router differs from the profile and from the web container's labels, 404 for shop.localhost
TRAEFIK_WRONG_HOST = ("traefik.router_as_expected[boutique-web@file]", "traefik.route_reaches_backend[boutique-web@file]",
                      "traefik.router_labels[boutique-web@file]")
#: ...while its service, the websocket router and the redirect (the entrypoint's own) are not at fault
TRAEFIK_NOT_WRONG_HOST = ("traefik.api_answers", "traefik.router_enabled[boutique-web@file]",
                          "traefik.service_up[boutique-web@file]", "traefik.http_redirects_to_https[boutique-web@file]",
                          "traefik.route_reaches_backend[boutique-ws@file]", "traefik.router_labels[boutique-ws@file]")
#: router-orphan: what the orphan router is not: the stack's routers, services and routes, and a warning
TRAEFIK_ORPHAN_NOT = ("traefik.api_answers", "traefik.router_enabled[*]", "traefik.service_up[*]",
                      "traefik.route_reaches_backend[*]", "traefik.configuration_without_warnings")

MATRIX = [
    # the healthy stack: every phase that has checks is GO
    row("", "predeploy", verdict="GO"),
    row("", "postdeploy", verdict="GO", baseline=True),
    row("", "rollback", verdict="GO"),
    # the slow API alone is GO-WITH-WARNINGS: every other check passes. The row comes right after the healthy ones:
    # a fault that makes the app log errors (db-down, a 503) would be read by the logs checks for log_since_s after
    # its heal, and the rows that follow such a fault are NO-GO rows whose must_pass holds no log check
    row("slow-api", "postdeploy", "health.endpoint_fast[ready]", "health.endpoint_fast[csrf]", verdict="GO-WITH-WARNINGS"),
    # Faults on different subjects share a row (a phase run each costs seconds): each fault's own checks must fail
    # with a severity that alone makes the NO-GO (checked for every row), and what each fault must not touch is
    # in must_pass. Faults that break what another fault's must_pass holds (health through Traefik, the same
    # file or container) get rows of their own.
    #
    # health (SMK-6, RCY-4.3, BTQ-4.2): checks/test_health.py
    # commands (SMK-5 after a deploy or a rollback: the web container is gone): checks/test_commands.py
    # (and traefik: the servers DOWN, 503 through the entrypoint; the routers and labels are not at fault)
    row("backend-down", "postdeploy", "health.endpoint_healthy[live]", "health.endpoint_healthy[ready]",
        "commands.command_passes[django-check]", *TRAEFIK_BACKEND_DOWN, must_pass=TRAEFIK_CONFIGURED),
    row("backend-down", "rollback", "health.endpoint_healthy[ready]", "commands.command_passes[django-check]"),
    # rollback (RBK-3.1, RBK-3.2, NPR-6), before the rollback: checks/test_rollback.py; the after moment (a
    # rollback that left the worker on the newer release, a missing metrics record): test_rollback_moments.py
    row("previous-release-missing", "rollback", "rollback.target_complete",
        must_pass=("rollback.moment", "rollback.current_version")),
    row("health-body-unhealthy", "postdeploy", "health.endpoint_healthy[ready]", "health.endpoint_healthy[detailed]",
        must_pass=("health.endpoint_healthy[live]",)),
    # the database and the broker down together: each has its own check (the ready endpoint fails for both)
    row("db-down+redis-down", "postdeploy", "health.endpoint_healthy[ready]", "health.endpoint_healthy[detailed]",
        "database.accepts_connection", "workers.redis_answers"),
    # before and after (diff): against a baseline recorded on the healthy stack, the slow API is a degradation
    # (RBK-2), old sales deleted by a deploy step are rows lost, one request in five answering 502 is an error rate
    # (RBK-5.3), while the health endpoints stay green
    row("slow-api", "postdeploy", "diff.latency_not_degraded[ready]", "diff.latency_not_degraded[csrf]",
        must_pass=("diff.latency_not_degraded[live]", "diff.rows_kept[*]"), baseline=True),
    # rows lost (diff); the running beat without the backup task (scheduled-backup-off: the workers' subject after
    # the deploy, the backups' before it); staging mounting prod's media dir (isolation, RCY-6: staging is brought
    # up for this row by conftest's NEEDS_STAGING, then kept up for the rest of the session)
    row("rows-lost+scheduled-backup-off+shared-volume", "postdeploy", "diff.rows_kept[shop_sale]",
        "diff.rows_kept[shop_saleline]", "workers.beat_schedules", "isolation.no_shared_volume",
        must_pass=("health.endpoint_healthy[*]", "diff.rows_kept[shop_product]", "diff.migrations_only_added",
                   "workers.workers_answer_ping", "workers.queues_consumed", "workers.redis_answers",
                   "isolation.no_shared_network"),
        baseline=True),
    # one request in five answering 502 (the error rate), beside a service off the target release since the baseline
    # (BTQ-3.5, RBK-1): the worker back on the previous tag; neither touches the rows or the migrations
    row("flapping+mixed-tags", "postdeploy", "diff.error_rate", "diff.services_on_target", "containers.same_release_tag",
        must_pass=("diff.migrations_only_added", "diff.rows_kept[*]"), baseline=True, traffic=20),
    # before the deploy, on five subjects: tls (RCY-4.5, NPR-1.3: checks/test_tls.py), config (BTQ-1.1,
    # RCY-0.1/0.2/0.3, NPR-5: checks/test_config.py), host DNS (RCY-0.7: checks/test_host.py), Traefik's
    # dashboard (a router no profile entry names, whose service does not exist, is in error; the stack's routers,
    # services and routes are not at fault: checks/test_traefik.py) and the frontend (a broken site on disk is
    # seen by `nginx -t` alone: checks/test_frontend.py)
    row("cert-expiring+env-placeholder+dns-wrong-address+router-orphan+nginx-config-broken", "predeploy",
        "tls.certificate_valid_long_enough[*]", "config.no_placeholders", "host.dns_resolves[shop.localhost]",
        "traefik.configuration_without_errors", "frontend.config_valid",
        must_pass=("tls.certificate_trusted[*]", "tls.certificate_names_the_host[*]", "config.required_variables",
                   "config.debug_off", "config.env_file_readable", "host.port_as_expected[spare]",
                   "host.docker_daemon_reachable", *TRAEFIK_ORPHAN_NOT)),
    # ...and after it: the short-lived certificate; the broken site on disk (the running nginx still serves every
    # page and asset); an unapplied migration, which before a deploy is what the deploy will apply (GO, below) and
    # once deployed is a NO-GO (BTQ-3.3, SMK-2.2: checks/test_migrations.py)
    row("cert-expiring+nginx-config-broken+pending-migration", "postdeploy", "tls.certificate_valid_long_enough[*]",
        "frontend.config_valid", "migrations.all_applied[postdeploy]",
        must_pass=("frontend.page_served[*]", "frontend.assets_served[*]", "migrations.readable[postdeploy]",
                   "migrations.none_unknown[postdeploy]", "health.endpoint_healthy[ready]")),
    # commands (BTQ-1.2/1.3/1.4, SMK-12, NPR-1.1: checks/test_commands.py) beside two backup faults (RCY-0.8,
    # SMK-2.1, NPR-2.2, RCY-1.1, BTQ-2.1, SMK-3.1, SMK-3.2: checks/test_backups.py): the sidecar of the
    # uncompressed dump, the beat schedule without its backup task. The four file faults change the newest set
    # each its own way: one per row
    row("deploy-check-fails+checksum-of-uncompressed+scheduled-backup-off", "predeploy",
        "commands.command_passes[deploy-check]", "backups.checksum_matches", "backups.backup_scheduled",
        must_pass=("commands.command_passes[migrations-check]", "commands.command_passes[app-tests]",
                   "commands.command_passes[ci-check]", "backups.dump_complete", "backups.backup_recent")),
    row("backend-down", "predeploy", "commands.command_passes[deploy-check]", "commands.command_passes[migrations-check]",
        "commands.command_passes[app-tests]", *TRAEFIK_BACKEND_DOWN,
        must_pass=("commands.command_passes[ci-check]", *TRAEFIK_CONFIGURED)),
    # DEBUG on (config), the spare port taken (host, RCY-0.9), the newest backup 30 hours old, and the database a
    # deploy would wait on (NPR-7: checks/test_database.py): a session idle in its transaction holding a lock on
    # shop_sale, and connections held open until a few slots are left
    row("debug-on+port-taken+stale-backup+lock-held+connections-exhausted", "predeploy", "config.debug_off",
        "host.port_as_expected[spare]", "backups.backup_recent", "database.no_idle_transaction",
        "database.no_lock_held", "database.connection_headroom",
        must_pass=("config.no_placeholders", "config.required_variables", "host.dns_resolves[shop.localhost]",
                   "host.port_as_expected[https]", "backups.checksum_matches", "backups.dump_complete",
                   "backups.manifest_matches", "database.accepts_connection", "database.session_read_only",
                   "database.no_long_query")),
    # a truncated dump beside a crash-looping worker (containers, RCY-3: checks/test_containers.py)
    row("truncated-backup+restart-loop", "predeploy", "backups.dump_complete", "containers.service_healthy[worker]",
        "containers.not_restarting[worker]", must_pass=("backups.checksum_matches",)),
    # and the restore of it (RCY-1.3, NPR-2.3, BTQ-6.B: checks/test_restore.py) fails too; the guard refusing the
    # stack's own database is tests/probes/test_restore.py (a profile, not a sandbox fault)
    row("truncated-backup", "rollback", "backups.dump_complete", "restore.backup_restores",
        must_pass=("restore.scratch_emptied",)),
    # the manifest listing a missing archive, beside staging sharing prod's media dir (isolation, RCY-6)
    row("manifest-lies+shared-volume", "predeploy", "backups.manifest_matches", "isolation.no_shared_volume",
        must_pass=("backups.dump_complete", "isolation.no_shared_network")),
    # database (SMK-12): checks/test_database.py
    row("db-down", "predeploy", "database.accepts_connection", must_pass=("host.docker_daemon_reachable",)),
    # migrations (BTQ-3.3, SMK-2.2): before a deploy an unapplied migration is listed, GO. migrations-failed has
    # no row of its own: the one-shot could not log in and applied nothing, the migration state is intact
    # (tests/sandbox/test_probe_migrations.py); its exit code is the containers subject's ([docker] one_shot)
    row("pending-migration", "predeploy", verdict="GO"),
    # websocket (SMK-10): checks/test_websocket.py; webhooks (NPR-4): checks/test_webhooks.py; the frontend's
    # uncollected static files (BTQ-3.4: every page's assets break, the app's pages too, while the pages answer).
    # None touches another's checks (nor health). The webhook's endpoint is judged after the deploy only (before
    # it, the release being replaced answers)
    row("ws-broken+webhook-unverified+static-missing", "postdeploy", "websocket.upgrades[orders]",
        "webhooks.rejects_unsigned[payments]", "webhooks.rejects_wrong_signature[payments]",
        "frontend.assets_served[home]", "frontend.assets_served[login]",
        must_pass=("webhooks.secrets_set[payments]", "health.endpoint_healthy[ready]", "health.endpoint_healthy[live]",
                   "frontend.page_served[*]", "frontend.config_valid")),
    # traefik (RCY-0.5, RCY-4.2, RCY-4.3): checks/test_traefik.py (backend-down: above). The wrong host breaks every
    # route to the app: a row of its own before the deploy; after it the orphan shares it (neither touches the
    # other's checks)
    row("router-wrong-host", "predeploy", *TRAEFIK_WRONG_HOST, must_pass=TRAEFIK_NOT_WRONG_HOST),
    row("router-wrong-host+router-orphan", "postdeploy", *TRAEFIK_WRONG_HOST, "traefik.configuration_without_errors",
        must_pass=(*TRAEFIK_NOT_WRONG_HOST, "traefik.configuration_without_warnings")),
    # frontend (RCY-4.3, SMK-9): the frontend stopped: its pages fail, the app's pages are not its
    row("frontend-down", "postdeploy", "frontend.page_served[home]", "frontend.assets_served[login]",
        "frontend.config_valid", must_pass=("frontend.page_served[login]", "health.endpoint_healthy[*]")),
    # workers (SMK-7, SMK-8, SMK-3.1): checks/test_workers.py (redis-down: above). A stopped beat and a frozen worker
    # do not touch each other's checks: one row; the broker answers all along
    row("beat-down+worker-not-ready", "postdeploy", "workers.beat_schedules", "workers.workers_answer_ping",
        must_pass=("workers.redis_answers", "health.endpoint_healthy[live]")),
    # isolation before and after the deploy: above, beside other faults.
    # containers (RCY-3, SMK-1, BTQ-3.5, RCY-4.1, RBK-1): checks/test_containers.py; logs (BTQ-4.1, RCY-4.4, SMK-11,
    # RBK-2): checks/test_logs.py. Faults on different containers share a row: the worker on the previous release's
    # image (and healthy), the one-shot exited 1, 500s and tracebacks in web's log (log-errors logs in through
    # Traefik: not beside unhealthy-container, whose new web container Traefik may not route to yet)
    row("mixed-tags+migrations-failed+log-errors", "postdeploy", "containers.same_release_tag",
        "containers.one_shot_exited[migrations]", "logs.free_of_errors[web]", "logs.no_rollback_trigger[web]",
        must_pass=("containers.service_healthy[*]", "containers.not_restarting[*]", "logs.free_of_errors[worker]",
                   "logs.no_rollback_trigger[worker]")),
    # a crash-looping worker (never healthy, its restart count climbs while watched) and an unhealthy web
    row("restart-loop+unhealthy-container", "postdeploy", "containers.service_healthy[worker]",
        "containers.not_restarting[worker]", "containers.service_healthy[web]",
        must_pass=("containers.not_restarting[web]", "containers.service_healthy[frontend]", "containers.same_release_tag")),
    # around a rollback: the stack not on one release (so no one current version to roll back from, and not on
    # the target), the one-shot failed, a service unhealthy
    row("mixed-tags+migrations-failed+unhealthy-container", "rollback", "containers.same_release_tag",
        "containers.one_shot_exited[migrations]", "containers.service_healthy[web]", "rollback.current_version",
        "rollback.runs_target",
        must_pass=("containers.service_healthy[worker]", "containers.not_restarting[*]")),
    # smoke (BTQ-4.3 to 4.7, RCY-7, SMK-10's message half): smoke/test_smoke.py, the browser flows, while every health
    # endpoint stays green. A sale the shop refuses fails the paid sale and the credit sale (the invoice is skipped as
    # dependent: no sale to invoice); a broken invoice and a dropped credit payment do not touch each other's flows
    row("sale-broken", "postdeploy", "smoke.sale_paid", "smoke.credit",
        must_pass=("health.endpoint_healthy[*]", "smoke.login", "smoke.reports")),
    row("invoice-broken+credit-broken", "postdeploy", "smoke.invoice", "smoke.credit",
        must_pass=("health.endpoint_healthy[*]", "smoke.login", "smoke.sale_paid", "smoke.reports")),
]


#: faults whose direct probe asserts what another fault of their row changes (beat-down's: the worker healthy,
#: beside worker-not-ready's frozen worker): test_faults.py observes them alone
OBSERVED_ALONE = frozenset({"beat-down"})


def _observed_in_matrix() -> dict[str, str]:
    """Fault -> the id of the first row that applies it: there its effect is also observed with a direct probe
    (fault_effects.py) before the gate runs, and its heal after it (one fault and one heal serve both proofs)."""
    first: dict[str, str] = {}
    for case in MATRIX:
        for name in case.faults:
            if name not in OBSERVED_ALONE:
                first.setdefault(name, case.id)
    return first


#: faults whose effect the matrix observes (test_faults.py observes the others)
OBSERVED_IN_MATRIX = _observed_in_matrix()


def matching(patterns: frozenset[str], ids: set[str]) -> set[str]:
    """The patterns (ids or globs) that match none of ``ids``."""
    return {p for p in patterns if not fnmatch.filter(ids, p.replace("[", "[[]"))}


def record_baseline(sb: "Sandbox", tmp_path: Path) -> None:
    """Only the predeploy check that records the baseline (beside this row's gate file), on the stack as it is."""
    gate_file = tmp_path / "baseline" / "gate.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/test_diff.py", "-m", "predeploy", "--partial", "--env", "sandbox",
         "-p", "no:cacheprovider", f"--gate-file={gate_file}", f"--baseline={tmp_path / 'baseline.json'}",
         f"--alluredir={tmp_path / 'baseline' / 'allure'}"],
        cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    gate = json.loads(gate_file.read_text()) if gate_file.is_file() else {}
    assert gate.get("passed") == ["diff.baseline_recorded"], proc.stdout[-3000:] + proc.stderr[-2000:]


def run_phase(sb: "Sandbox", tmp_path: Path, phase: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run one whole phase against the sandbox, as a user would; return the process and its gate.json. The
    baseline is this row's own (tmp_path/baseline.json): none unless the row recorded one."""
    gate_file = tmp_path / "gate.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", phase, "--env", "sandbox", "-n", "2", "-p", "no:cacheprovider",
         f"--gate-file={gate_file}", f"--alluredir={tmp_path / 'allure'}", f"--baseline={tmp_path / 'baseline.json'}"],
        cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert gate_file.is_file(), proc.stdout + proc.stderr
    return proc, json.loads(gate_file.read_text())


@pytest.mark.parametrize("case", MATRIX, ids=lambda r: r.id)
def test_fault_matrix(sandbox: "Sandbox", faults: Any, tmp_path: Path, case: Row) -> None:
    if case.baseline:
        record_baseline(sandbox, tmp_path)
    # the faults are real: each seen directly the first time a row applies it, and gone once healed
    apply_and_observe(sandbox, faults, case.faults,
                      tuple(name for name in case.faults if OBSERVED_IN_MATRIX.get(name) == case.id))
    for _ in range(case.traffic):
        sandbox.ready()
    proc, gate = run_phase(sandbox, tmp_path, case.phase)

    failed = {entry["id"]: entry["reason"] for entry in gate["failed"] + gate["errored"]}
    assert gate["verdict"] == case.verdict, f"{case.id}: {gate['reasons']}\n{proc.stdout[-3000:]}"
    assert proc.returncode == (1 if case.verdict == "NO-GO" else 0), proc.stdout[-3000:]
    missed = matching(case.must_fail, set(failed))
    assert not missed, f"{case.id}: expected {sorted(missed)} among the failures {sorted(failed)}"
    wrongly = case.must_pass - matching(case.must_pass, set(failed))
    assert not wrongly, f"{case.id}: {sorted(wrongly)} failed too: {failed}"
    if case.verdict == "NO-GO":  # each fault's check alone makes the NO-GO, whatever else its row broke
        blocking = {e["id"] for e in gate["failed"] + gate["errored"] if e.get("severity") != "warning"}
        weak = matching(case.must_fail, blocking)
        assert not weak, f"{case.id}: {sorted(weak)} failed only as warnings: alone they would not be a NO-GO"
    assert gate["partial"] is False and gate["not_run"] == [], gate
    if case.verdict == "GO":  # every check passed, or is an optional one that applies to nothing here
        counts = gate["counts"]
        assert counts["passed"] + counts["not_applicable"] == counts["selected"] > counts["not_applicable"], counts


def test_failures_explain_themselves(sandbox: "Sandbox", faults: Any, tmp_path: Path) -> None:
    """A failure says what was checked, expected, actual and where to look, with the evidence attached."""
    faults(("backend-down",))
    proc, gate = run_phase(sandbox, tmp_path, "postdeploy")

    ready = next(e for e in gate["failed"] if e["id"] == "health.endpoint_healthy[ready]")
    assert ready["reason"].startswith("ready status: expected 200, got "), ready
    assert "look at: https://shop.localhost:" in proc.stdout
    attachments = " ".join(p.read_text(errors="replace") for p in (tmp_path / "allure").glob("*-attachment*"))
    assert "GET https://shop.localhost:" in attachments and "status:" in attachments


def test_a_failing_command_explains_itself(sandbox: "Sandbox", faults: Any, tmp_path: Path) -> None:
    """The reason quotes the command's last words; the evidence has the command, where it ran and its output."""
    faults(("deploy-check-fails",))
    proc, gate = run_phase(sandbox, tmp_path, "predeploy")

    check = next(e for e in gate["failed"] if e["id"] == "commands.command_passes[deploy-check]")
    assert check["reason"].startswith("deploy-check exit code: expected exit code 0, got exit code 1: "), check
    assert "(security.W004)" in check["reason"], check
    assert (check["severity"], check["phases"], check["runbook"]) == ("blocker", ["predeploy"], ["BTQ-1.2", "SMK-12"])
    assert "look at: container boutique-sandbox-web-1 (service web, image boutique/web:" in proc.stdout
    attachments = " ".join(p.read_text(errors="replace") for p in (tmp_path / "allure").glob("*-attachment*"))
    assert "command: python manage.py check --deploy --fail-level WARNING" in attachments
    assert "result: exit code 1" in attachments and "SECURE_HSTS_SECONDS" in attachments
