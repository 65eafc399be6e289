"""The other sessions on the database (NPR-7) against a real PostgreSQL 15 of this module's own.

A cluster of its own (``max_connections = 40``: 37 for ordinary roles) so that sessions held open here, up to the
limit, touch no other test. The states: a quiet server; a second session idle in a transaction holding a lock on
``shop_sale``; a statement running (``pg_sleep``); connections opened up to two slots short of the limit; the same
seen by a role without ``pg_read_all_stats`` (its sessions hidden) and by ``watcher`` (``pg_monitor``). Each check
of checks/test_database.py is also run end to end, failing on its fault and passing on the quiet server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from pydantic import SecretStr

from gonogo.probes.database import DatabaseProbe
from gonogo.probes.db_sessions import SessionsFact
from gonogo.sections.database import DatabaseSection

if TYPE_CHECKING:
    from pg import Postgres

from pg import throwaway_postgres


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    """A cluster for this module: database ``shop`` (owned by ``owner``, tables ``shop_sale`` and
    ``shop_product``) and the role ``watcher`` with ``pg_monitor``."""
    with throwaway_postgres() as server:
        server.admin("CREATE DATABASE shop OWNER owner")
        server.admin(f"CREATE ROLE watcher LOGIN PASSWORD '{server.password}' IN ROLE pg_monitor")
        server.admin("GRANT pg_read_all_data TO watcher")
        with psycopg.connect(server.dsn("owner", "shop"), autocommit=True) as conn:
            conn.execute("CREATE TABLE shop_product (id serial PRIMARY KEY, name text)")
            conn.execute("CREATE TABLE shop_sale (id serial PRIMARY KEY, total numeric)")
            conn.execute("INSERT INTO shop_sale (total) VALUES (1), (2)")
        yield server


def probe(pg: Postgres, user: str = "watcher", **sessions: Any) -> DatabaseProbe:
    return DatabaseProbe(DatabaseSection(dsn=SecretStr(pg.dsn(user, "shop")), connect_timeout_s=2,
                                         statement_timeout_ms=3000, sessions=sessions))


def seen(observe: Callable[[], SessionsFact], found: Callable[[SessionsFact], bool], timeout_s: float = 10) -> SessionsFact:
    """Observe until ``found`` holds (an age has to pass), at most ``timeout_s``; the last observation."""
    deadline = time.monotonic() + timeout_s
    while True:
        fact = observe()
        if found(fact) or time.monotonic() > deadline:
            return fact
        time.sleep(0.2)


@pytest.fixture
def idle_holder(pg: Postgres) -> Iterator[int]:
    """``owner`` reads shop_sale inside a transaction and stays idle in it (an ACCESS SHARE lock held); its pid."""
    with psycopg.connect(pg.dsn("owner", "shop"), application_name="report-tool") as conn:
        conn.execute("SELECT count(*) FROM shop_sale")  # psycopg opens the transaction: idle in transaction after
        yield conn.info.backend_pid


def test_a_quiet_server_holds_nothing_and_has_headroom(pg: Postgres) -> None:
    fact = probe(pg).sessions()

    assert fact.ok, fact
    assert fact.role == "watcher" and (fact.max_connections, fact.reserved, fact.limit) == (40, 3, 37), fact
    assert fact.in_use >= 1 and fact.in_use == sum(count for _, count in fact.by_kind), fact
    assert fact.idle_in_transaction(0) == [] and fact.long_queries(0) == [] and fact.locks_held(0, [], []) == []
    assert all(s.own for s in fact.sessions if s.database == "shop"), fact.sessions  # only gonogo's own session
    assert "connections: " in fact.evidence() and "of 37 (40 minus 3 reserved)" in fact.evidence()


def test_a_session_idle_in_a_transaction_holding_a_lock_is_found(pg: Postgres, idle_holder: int) -> None:
    db = probe(pg)
    fact = seen(db.sessions, lambda f: bool(f.idle_in_transaction(0.5)))

    [idle] = fact.idle_in_transaction(0.5)
    assert (idle.pid, idle.user, idle.application) == (idle_holder, "owner", "report-tool"), idle
    assert idle.state == "idle in transaction" and (idle.transaction_age_s or 0) > 0.5, idle
    assert [(lock.mode, lock.qualified, lock.granted) for lock in idle.locks] == [
        ("AccessShareLock", "public.shop_sale", True)], idle.locks
    assert fact.locks_held(0.5, ["shop_sale"], []) == [idle]
    assert fact.locks_held(0.5, ["public.shop_sale"], []) == [idle]
    assert fact.locks_held(0.5, [], ["public"]) == [idle] and fact.locks_held(0.5, [], []) == [idle]
    assert fact.locks_held(0.5, ["shop_product"], []) == [] and fact.locks_held(0.5, [], ["audit"]) == []
    assert fact.locks_held(3600, ["shop_sale"], []) == [] and fact.idle_in_transaction(3600) == []
    evidence = fact.evidence()
    assert f"pid {idle_holder}: user owner, application report-tool, database shop, idle in transaction" in evidence
    assert "AccessShareLock on public.shop_sale" in evidence and "SELECT count(*) FROM shop_sale" in evidence


def test_gonogos_own_sessions_are_never_holders(pg: Postgres) -> None:
    """A session named like gonogo's (another worker's) idle in a transaction: counted as a connection only."""
    with psycopg.connect(pg.dsn("owner", "shop"), application_name="gonogo") as conn:
        conn.execute("SELECT count(*) FROM shop_sale")
        pid = conn.info.backend_pid
        fact = seen(probe(pg).sessions, lambda f: any(s.pid == pid and (s.state_age_s or 0) > 0.5 for s in f.sessions))

    [mine] = [s for s in fact.sessions if s.pid == pid]
    assert mine.own and mine.idle_in_transaction and (mine.state_age_s or 0) > 0.5, mine
    assert fact.idle_in_transaction(0.5) == [] and fact.locks_held(0.5, [], []) == [], fact.sessions


def test_a_long_statement_is_found(pg: Postgres) -> None:
    with psycopg.connect(pg.dsn("owner", "shop"), autocommit=True, application_name="nightly-report") as conn:
        pid = conn.info.backend_pid
        runner = threading.Thread(target=lambda: conn.execute("SELECT pg_sleep(4)"), daemon=True)
        runner.start()
        fact = seen(probe(pg).sessions, lambda f: bool(f.long_queries(0.5)))
        runner.join(timeout=10)

    [long] = fact.long_queries(0.5)
    assert (long.pid, long.state, long.application) == (pid, "active", "nightly-report"), long
    assert "SELECT pg_sleep(4)" in (long.query or ""), long


def test_a_role_without_pg_read_all_stats_sees_other_sessions_hidden(pg: Postgres, idle_holder: int) -> None:
    """``reader`` (pg_read_all_data, no pg_read_all_stats) sees owner's session but not its state or statement."""
    fact = probe(pg, "reader").sessions()

    [hidden] = fact.hidden()
    assert hidden.pid == idle_holder and hidden.state is None and hidden.query is None, hidden
    assert fact.idle_in_transaction(0) == [] and fact.locks_held(0, [], []) == []  # nothing judged: hidden
    assert "1 of them hidden from reader: grant it pg_monitor" in fact.evidence()
    assert "SELECT count(*)" not in fact.evidence()


def test_connections_are_counted_against_the_limit(pg: Postgres) -> None:
    before = probe(pg).sessions().in_use
    with ExitStack() as stack:
        for _ in range(10):
            stack.enter_context(psycopg.connect(pg.dsn("owner", "shop"), application_name="leaky-release"))
        fact = probe(pg).sessions()

    assert fact.in_use == before + 10, fact
    assert ("shop, owner, leaky-release, idle", 10) in fact.by_kind, fact.by_kind


# ---------------------------------------------------------------------------------------- end to end

CHECKS = (Path(__file__).resolve().parents[2] / "checks" / "test_database.py").read_text()
PROFILE = """
[environment]
release = "1.4.2"

[database]
dsn = "${STACK_DSN}"
connect_timeout_s = 2
statement_timeout_ms = 3000

[database.sessions]
idle_in_transaction_max_s = 0.5
query_max_s = 0.5
lock_max_s = 0.5
tables = ["shop_sale"]
max_connections_used_percent = 80
"""
SESSION_CHECKS = ("no_idle_transaction", "no_long_query", "no_lock_held", "connection_headroom")


def gate_run(run_gate: Any, pg: Postgres, user: str = "watcher", phase: str = "predeploy") -> Any:
    return run_gate({"test_database.py": CHECKS}, "-m", phase, profile=PROFILE,
                    environ={"STACK_DSN": pg.dsn(user, "shop")})


def reasons(run: Any) -> dict[str, str]:
    return {e["id"]: e["reason"] for e in run.gate["failed"] + run.gate["errored"]}


def test_the_gate_is_go_on_a_quiet_server(run_gate: Any, pg: Postgres) -> None:
    run = gate_run(run_gate, pg)

    assert run.gate["verdict"] == "GO", run.out
    assert {f"database.{name}" for name in SESSION_CHECKS} <= set(run.gate["passed"]), run.gate["passed"]


def test_an_idle_transaction_holding_a_lock_is_no_go(run_gate: Any, pg: Postgres, idle_holder: int) -> None:
    seen(probe(pg).sessions, lambda f: bool(f.idle_in_transaction(1)))
    run = gate_run(run_gate, pg)

    failed = reasons(run)
    assert run.gate["verdict"] == "NO-GO" and run.ret == 1, run.out
    assert set(failed) == {"database.no_idle_transaction", "database.no_lock_held"}, failed
    assert failed["database.no_lock_held"].startswith(
        "locks held: expected no lock on shop_sale held by a transaction older than 0.5 s, got "
        f"pid {idle_holder}: user owner, application report-tool, database shop, idle in transaction"), failed
    assert "AccessShareLock on public.shop_sale" in failed["database.no_lock_held"], failed


def test_a_long_statement_is_no_go(run_gate: Any, pg: Postgres) -> None:
    """A report query running (pg_sleep) while the gate looks: no_long_query fails and names it; it holds no lock on
    shop_sale and is not idle, so the other session checks pass."""
    with psycopg.connect(pg.dsn("owner", "shop"), autocommit=True, application_name="nightly-report") as conn:
        runner = threading.Thread(target=lambda: conn.execute("SELECT pg_sleep(8)"), daemon=True)
        runner.start()
        seen(probe(pg).sessions, lambda f: bool(f.long_queries(1)))
        run = gate_run(run_gate, pg)
        runner.join(timeout=15)

    failed = reasons(run)
    assert run.gate["verdict"] == "NO-GO" and set(failed) == {"database.no_long_query"}, run.out
    assert failed["database.no_long_query"].startswith(
        "long-running statements: expected no statement running for more than 0.5 s, got pid "), failed
    assert "application nightly-report" in failed["database.no_long_query"], failed
    assert "SELECT pg_sleep(8)" in failed["database.no_long_query"], failed


def test_hidden_sessions_are_not_a_pass(run_gate: Any, pg: Postgres, idle_holder: int) -> None:
    """The role may not see the holder: the checks on sessions fail and say what the role needs."""
    run = gate_run(run_gate, pg, user="reader")

    failed = reasons(run)
    assert {"database.no_idle_transaction", "database.no_long_query", "database.no_lock_held"} <= set(failed), failed
    assert "1 session(s) of other roles not visible to reader: grant it pg_monitor" in \
        failed["database.no_idle_transaction"], failed
    assert "database.connection_headroom" in run.gate["passed"], run.out  # counted whatever the role


@pytest.mark.parametrize("phase", ["predeploy", "postdeploy"])
def test_connections_near_the_limit_are_no_go(run_gate: Any, pg: Postgres, phase: str) -> None:
    """Connections opened until 31 of 37 are in use (80 % allows 29): NO-GO before and after a deploy."""
    with ExitStack() as stack:
        in_use = probe(pg).sessions().in_use - 1  # without the probe's own, closed since
        for _ in range(31 - in_use - 1):  # the gate's own session makes the 31st
            stack.enter_context(psycopg.connect(pg.dsn("owner", "shop"), application_name="leaky-release"))
        run = gate_run(run_gate, pg, phase=phase)

    failed = reasons(run)
    assert "database.connection_headroom" in failed, run.out
    assert failed["database.connection_headroom"].startswith(
        "connections in use: expected at most 29 (80% of 37), got 31 connection(s) in use of 37 (40 minus 3 reserved)"), failed
    assert "owner, leaky-release, idle" in failed["database.connection_headroom"], failed
