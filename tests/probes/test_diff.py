"""The release diff and the watch window against real parts: a throwaway PostgreSQL, a local HTTP
server that can be made slow or flapping, and the real check modules in pytest runs of their own.

Traefik's metrics are read from the sandbox's real Traefik in tests/sandbox/test_release_diff.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from gonogo.probes import diff as releasediff
from gonogo.probes.database import DatabaseProbe
from gonogo.sections.database import DatabaseSection
from gonogo.probes.diff import Latency, RowCount, Traffic
from gonogo.sections.diff import DiffSection
from gonogo.probes.http import HttpProbe
from gonogo.sections.watch import parse_duration

if TYPE_CHECKING:
    from conftest import Postgres

CHECKS_DIR = Path(__file__).resolve().parents[2] / "checks"
CHECKS = {name: (CHECKS_DIR / name).read_text() for name in ("test_diff.py", "test_watch.py")}


class App:
    """A stdlib HTTP server answering /health/ with a JSON body: ``delay_s`` slows it, ``fail_every`` makes
    every n-th request a 502."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.fail_every = 0
        self.count = 0
        self.metrics = ""
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/metrics":
                    data = app.metrics.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                app.count += 1
                time.sleep(app.delay_s)
                failing = app.fail_every and app.count % app.fail_every == 0
                body = b'{"status": "bad gateway"}' if failing else b'{"status": "ok"}'
                self.send_response(502 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app() -> Iterator[App]:
    server = App()
    yield server
    server.close()


@pytest.fixture
def shop(postgres: "Postgres") -> str:
    """A database with a small table (20 sales) and a large one (3000 lines), analysed; the reader's DSN."""
    dsn = postgres.database("diffshop")
    postgres.admin("CREATE TABLE sale (id serial PRIMARY KEY, total int); "
                   "INSERT INTO sale (total) SELECT g FROM generate_series(1, 20) g; "
                   "CREATE TABLE line (id serial PRIMARY KEY); INSERT INTO line SELECT FROM generate_series(1, 3000); "
                   "ANALYZE", dbname="diffshop")
    return dsn


def _db(dsn: str) -> DatabaseProbe:
    return DatabaseProbe(DatabaseSection(dsn=SecretStr(dsn), connect_timeout_s=2, statement_timeout_ms=2000))


# ------------------------------------------------------------------------------------ the readings


def test_small_tables_are_counted_exactly_and_large_ones_estimated(shop: str) -> None:
    class Stack:  # only what _row_counts reads
        db = _db(shop)

    counts = releasediff._row_counts(Stack(), DiffSection(tables=["sale", "line", "public.sale", "gone"],  # type: ignore[arg-type]
                                                          exact_count_below=1000))
    assert counts["sale"] == RowCount(20, "exact") and counts["public.sale"] == RowCount(20, "exact"), counts
    assert counts["line"].method == "estimate" and 2500 <= (counts["line"].rows or 0) <= 3500, counts
    assert counts["gone"] == RowCount(error="no table gone"), counts


def test_a_table_never_analysed_is_counted(postgres: "Postgres") -> None:
    dsn = postgres.database("diffnew")
    postgres.admin("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 7)", dbname="diffnew")

    class Stack:
        db = _db(dsn)

    assert releasediff._row_counts(Stack(), DiffSection(tables=["t"], exact_count_below=0))["t"] == RowCount(7, "exact")  # type: ignore[arg-type]


def test_an_unreachable_database_is_a_reading_with_its_error(postgres: "Postgres") -> None:
    class Stack:
        db = _db(postgres.dsn("reader", port=1))

    counts = releasediff._row_counts(Stack(), DiffSection(tables=["sale"]))  # type: ignore[arg-type]
    assert counts["sale"].rows is None and "refused" in (counts["sale"].error or "").lower(), counts


@pytest.mark.parametrize("first_deploy", [False, True])
def test_an_absent_migrations_table_is_no_reading_unless_a_first_deploy(shop: str, first_deploy: bool) -> None:
    """A DSN that names the wrong (empty) database is no "nothing applied": a baseline or an after-reading of it
    would otherwise let diff.migrations_only_added pass on nothing."""
    from gonogo.sections.migrations import MigrationsConfig

    database = DatabaseSection(dsn=SecretStr(shop), migrations=MigrationsConfig(tool="django", first_deploy=first_deploy))
    stack = SimpleNamespace(db=_db(shop), env=SimpleNamespace(profile=SimpleNamespace(database=database)))  # what it reads

    part = releasediff._migrations(stack)  # type: ignore[arg-type]
    if first_deploy:
        assert (part.value, part.error) == ((), None), part
    else:
        assert part.value is None and part.error is not None, part
        assert part.error.startswith("table django_migrations: absent from database diffshop (schemas searched: public)")
        assert "does [database] dsn name the application's database?" in part.error


def test_a_table_name_that_is_not_an_identifier_is_a_profile_error() -> None:
    with pytest.raises(ValueError, match="not a table name"):
        DiffSection(tables=["sale; DROP TABLE sale"])


def test_prometheus_text_gives_requests_and_5xx_per_service() -> None:
    text = ('# HELP traefik_service_requests_total How many HTTP requests processed on a service.\n'
            '# TYPE traefik_service_requests_total counter\n'
            'traefik_service_requests_total{code="200",method="GET",protocol="http",service="web@file"} 95\n'
            'traefik_service_requests_total{code="502",method="GET",protocol="http",service="web@file"} 5\n'
            'traefik_service_requests_total{code="404",method="GET",protocol="http",service="front@file"} 3\n')
    assert releasediff.parse_service_traffic(text) == {"front@file": Traffic(3, 0), "web@file": Traffic(100, 5)}


def test_metrics_larger_than_an_http_body_are_read_whole(app: App) -> None:
    """Traefik's metrics grow with every label combination it has seen: far beyond an HTTP fact's 64 KiB."""
    app.metrics = "".join(f'traefik_service_requests_total{{code="{code}",method="GET",protocol="http",'
                          f'service="service-{i}@file"}} {i}\n' for i in range(4000) for code in (200, 502))
    assert len(app.metrics) > 500_000

    class Stack:
        http = HttpProbe()
        env = SimpleNamespace(profile=SimpleNamespace(traefik=None))

    part = releasediff.traffic_now(Stack(), DiffSection(metrics_url=f"http://127.0.0.1:{app.port}/metrics"))  # type: ignore[arg-type]
    assert part.error is None and len(part.value) == 4000 and part.value["service-3999@file"] == Traffic(7998, 3999), part.error


# --------------------------------------------------------------------------------- the comparison

SECTION = DiffSection(tables=["sale"], latency_ratio=1.5, latency_slack_ms=50)


def test_latency_within_the_ratio_or_the_slack_is_not_degraded() -> None:
    before = Latency("u", 200, (100.0, 110.0, 90.0), (200, 200, 200))
    assert releasediff.compare_latency("api", before, Latency("u", 200, (140.0,) * 3, (200,) * 3), SECTION).ok
    slow = releasediff.compare_latency("api", before, Latency("u", 200, (800.0,) * 3, (200,) * 3), SECTION)
    assert not slow.ok and "800 ms is more than 1.5x the baseline's 100 ms" in slow.why, slow
    fast = Latency("u", 200, (4.0,) * 3, (200,) * 3)
    assert releasediff.compare_latency("api", fast, Latency("u", 200, (9.0,) * 3, (200,) * 3), SECTION).ok  # noise
    down = releasediff.compare_latency("api", before, Latency("u", 200, (5.0,), (None,), "refused"), SECTION)
    assert not down.ok and "refused" in down.why


def test_rows_lost_are_a_failure_unless_the_table_may_shrink() -> None:
    lost = releasediff.compare_rows("sale", RowCount(20, "exact"), RowCount(12, "exact"), SECTION)
    assert not lost.ok and lost.why == "8 row(s) lost of 20: no row may be lost" and lost.change == "-8 (-40.0%)", lost
    assert releasediff.compare_rows("sale", RowCount(20, "exact"), RowCount(25, "exact"), SECTION).ok
    shrink = DiffSection(tables=["sale"], may_shrink=["sale"])
    assert releasediff.compare_rows("sale", RowCount(20, "exact"), RowCount(2, "exact"), shrink).ok
    estimated = releasediff.compare_rows("line", RowCount(100_000, "estimate"), RowCount(98_000, "estimate"), SECTION)
    assert estimated.ok, estimated  # within the estimates' 5 %


def test_a_removed_migration_fails_and_added_ones_are_listed() -> None:
    before = releasediff.Part(("a.0001", "a.0002"))
    added = releasediff.compare_migrations(before, releasediff.Part(("a.0001", "a.0002", "a.0003")))
    assert added.ok and added.change == "+1: a.0003", added
    removed = releasediff.compare_migrations(before, releasediff.Part(("a.0001",)))
    assert not removed.ok and removed.why == "removed since the baseline: a.0002", removed


def test_tags_name_the_service_off_target_and_list_the_changes() -> None:
    before = releasediff.Part({"web": "1.0", "worker": "1.0"})
    change = releasediff.compare_tags(before, releasediff.Part({"web": "1.1", "worker": "1.0"}), "1.1")
    assert not change.ok and change.why == "not on the target release 1.1: worker runs 1.0", change
    assert change.change == "web: 1.0 -> 1.1", change
    none = releasediff.compare_tags(before, releasediff.Part({}), "1.1")  # no service read is no evidence
    assert not none.ok and none.why == "no service to compare: [docker] services and same_release_tag name none", none


def test_error_rate_counts_since_the_baseline_and_survives_a_traefik_restart() -> None:
    before = {"web": Traffic(1000, 50)}
    assert releasediff.error_rates(before, {"web": Traffic(1100, 51)}) == {"web": (100, 1)}
    assert releasediff.error_rates(before, {"web": Traffic(10, 2)}) == {"web": (10, 2)}  # counters reset


def test_durations() -> None:
    assert [parse_duration(t) for t in ("15m", "30s", "1h30m", "90", "0.5s")] == [900, 30, 5400, 90, 0.5]
    for bad in ("", "fast", "0s", "15x"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


# ------------------------------------------------------------------------------------- end to end

def _profile(app: App, shop: str, **diff: Any) -> str:
    keys = "\n".join(f"{k} = {json.dumps(v)}" for k, v in {"tables": ["sale"], **diff}.items())
    return f"""
[environment]
release = "1.4.2"

[database]
dsn = "{shop}"
connect_timeout_s = 2

[[health]]
name = "api"
url = "http://127.0.0.1:{app.port}/health/"
json = {{ status = "ok" }}

[diff]
{keys}

[watch]
min_availability = 0.99
"""


def test_no_baseline_is_not_configured_never_a_pass(run_gate: Any, app: App, shop: str) -> None:
    run = run_gate(CHECKS, "-m", "postdeploy", profile=_profile(app, shop))

    skipped = {e["id"]: (e["status"], e["reason"]) for e in run.gate["skipped"]}
    assert run.gate["counts"]["passed"] == 0, run.out
    assert skipped["diff.rows_kept[sale]"][0] == "not-configured", skipped
    assert "no baseline at " in skipped["diff.rows_kept[sale]"][1], skipped
    assert skipped["watch.available"][0] == "not-applicable", skipped


def test_baseline_then_rows_lost_and_slower_is_no_go_naming_the_table_and_the_endpoint(
        run_gate: Any, app: App, shop: str, postgres: "Postgres") -> None:
    profile = _profile(app, shop)
    recorded = run_gate(CHECKS, "-m", "predeploy", profile=profile)
    assert recorded.gate["verdict"] == "GO" and recorded.gate["passed"] == ["diff.baseline_recorded"], recorded.out
    baseline = json.loads((recorded.root / "reports" / "baseline-dev.json").read_text())
    assert baseline["tables"]["sale"] == {"rows": 20, "method": "exact", "error": None}, baseline
    assert len(baseline["latency"]["api"]["samples_ms"]) == 5, baseline

    same = run_gate(None, "-m", "postdeploy", profile=None)
    assert same.gate["verdict"] == "GO", same.out
    assert {"diff.rows_kept[sale]", "diff.latency_not_degraded[api]"} <= set(same.gate["passed"]), same.gate

    postgres.admin("DELETE FROM sale WHERE id <= 5", dbname="diffshop")
    app.delay_s = 0.3
    after = run_gate(None, "-m", "postdeploy", profile=None)
    failed = {e["id"]: e["reason"] for e in after.gate["failed"]}
    assert after.gate["verdict"] == "NO-GO" and after.ret == 1, after.out
    assert failed["diff.rows_kept[sale]"] == ("rows of sale: expected within [diff]'s limits of the baseline, got "
                                              "20 (exact) -> 15 (exact) (-5 (-25.0%)): 5 row(s) lost of 20: no row may be lost"), failed
    assert "more than 1.5x the baseline's" in failed["diff.latency_not_degraded[api]"], failed
    attachments = " ".join(p.read_text(errors="replace") for p in (after.root / "reports" / "allure-results").glob("*-attachment*"))
    assert "release diff of dev" in attachments and "rows of sale" in attachments and "FAIL: 5 row(s) lost" in attachments


def test_a_baseline_of_another_environment_or_too_old_fails(run_gate: Any, app: App, shop: str) -> None:
    recorded = run_gate(CHECKS, "-m", "predeploy", profile=_profile(app, shop))
    path = recorded.root / "reports" / "baseline-dev.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "taken_at": "2020-01-01T00:00:00+00:00"}))
    old = run_gate(None, "-m", "postdeploy", profile=None)
    failed = {e["id"]: e["reason"] for e in old.gate["failed"]}
    assert old.gate["verdict"] == "NO-GO" and "older than [diff] max_age_h = 24" in failed["diff.rows_kept[sale]"], failed
    path.write_text("{not json")
    broken = run_gate(None, "-m", "postdeploy", profile=None)
    assert "unreadable: not a gonogo baseline" in {e["id"]: e["reason"] for e in broken.gate["failed"]}["diff.rows_kept[sale]"]


def _watch_run(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--env", "dev", "-m", "postdeploy",
                             "-n", "2", *args], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_flapping_endpoint_is_no_go_over_the_window_and_a_healthy_one_go(run_gate: Any, app: App, shop: str) -> None:
    healthy = run_gate(CHECKS, "-m", "postdeploy", "-n", "2", "--watch", "2s", "--every", "0.5s",
                       profile=_profile(app, shop))
    assert healthy.gate["verdict"] == "GO", healthy.out  # the diff checks: not configured (no baseline)
    assert {"watch.available", "watch.window_complete"} <= set(healthy.gate["passed"]), healthy.gate
    assert "[watch] " in healthy.out and " left, round 5: 0 failed probe(s) so far" in healthy.out, healthy.out

    app.fail_every = 5
    flapping = run_gate(None, "-m", "postdeploy", "--watch", "3s", "--every", "0.25s", profile=None)
    failed = {e["id"]: e["reason"] for e in flapping.gate["failed"]}
    assert flapping.gate["verdict"] == "NO-GO", flapping.out
    reason = failed["watch.available"]
    assert reason.startswith("availability: expected at least 99.0% of the probes healthy over the window, got "), failed
    share = float(reason.split(", got ", 1)[1].split("%", 1)[0])
    assert 70 <= share <= 90, reason  # 4 in 5 answered, give or take where the window starts and ends in the cycle
    assert "api: 502" in reason and "every 0.25s" in reason, reason


def test_ctrl_c_ends_the_window_with_a_verdict_on_what_was_seen(run_gate: Any, app: App, shop: str) -> None:
    first = run_gate(CHECKS, "--collect-only", "-q", profile=_profile(app, shop))  # writes the project
    process = _watch_run(first.root, "--watch", "10m", "--every", "0.5s")
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        seen.append(line)
        if "round 3:" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out = "".join(seen) + process.communicate(timeout=60)[0]
    gate = json.loads((first.root / "reports" / "gate.json").read_text())
    assert gate["verdict"] == "GO-WITH-WARNINGS", out
    reasons = {e["id"]: e["reason"] for e in gate["failed"]}
    assert reasons["watch.window_complete"].startswith("watch window: expected 10m00s watched, got cut short after "), reasons
    assert "watch.available" in gate["passed"], gate


def test_a_watch_duration_that_is_not_one_is_a_usage_error(run_gate: Any, app: App, shop: str) -> None:
    run = run_gate(CHECKS, "-m", "postdeploy", "--watch", "fast", profile=_profile(app, shop))

    assert run.ret == 4 and "argument --watch: not a duration: 'fast' (write 15m, 30s, 1h30m or 90)" in run.err, run.err


def test_a_watch_entry_that_names_no_health_endpoint_is_a_profile_error(run_gate: Any, app: App, shop: str) -> None:
    profile = _profile(app, shop).replace("[watch]\n", '[watch]\nhealth = ["api", "redy"]\n')
    run = run_gate(CHECKS, "-m", "postdeploy", profile=profile)

    assert run.ret == 4 and "[watch] health names no [[health]] entry: redy" in run.out + run.err, run.out + run.err


def test_a_baseline_that_cannot_read_the_database_fails(run_gate: Any, app: App, postgres: "Postgres") -> None:
    """Nothing listens where the database should be: the baseline is incomplete, and predeploy says which part."""
    run = run_gate(CHECKS, "-m", "predeploy", profile=_profile(app, postgres.dsn("reader", "diffshop", port=1)))

    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO", run.out
    assert failed["diff.baseline_recorded"].startswith("baseline complete: expected every part of the baseline read, "
                                                       "got not read: rows of sale: "), failed
