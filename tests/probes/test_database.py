"""The database probe against a real PostgreSQL 15 (the ``postgres`` fixture, tests/probes/conftest.py).

Each test says which state of the component it uses: accepting; refusing (a port nothing listens
on); hanging (a socket that accepts and never answers; a backend stopped with SIGSTOP mid-session);
misconfigured (a wrong password, a role whose default is NOT read-only, a DSN whose own options
ask for writes, a real PgBouncer in front that drops the read-only option). In every case the
probe returns a fact in bounded time.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from gonogo.probes.database import APPLICATION_NAME, DatabaseProbe, Target
from gonogo.sections.database import DatabaseSection
from gonogo.secrets import masker

if TYPE_CHECKING:
    from conftest import Postgres


def free_port() -> int:
    """A loopback TCP port nothing listens on (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def probe(dsn: str, connect_timeout_s: int = 2, statement_timeout_ms: int = 1000) -> DatabaseProbe:
    return DatabaseProbe(DatabaseSection(dsn=SecretStr(dsn), connect_timeout_s=connect_timeout_s,
                                         statement_timeout_ms=statement_timeout_ms))


def test_a_session_is_read_only_even_for_a_role_whose_default_is_not(postgres: Postgres) -> None:
    """Accepting server; role ``reader`` has ``default_transaction_read_only = off``: gonogo's session is read-only."""
    assert postgres.admin("SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                          "WHERE r.rolname = 'reader'") == [(["default_transaction_read_only=off"],)]
    fact = probe(postgres.dsn("reader"), statement_timeout_ms=1500).connect()

    assert fact.connected and fact.error is None, fact
    assert fact.read_only and fact.transaction_read_only == "on", fact
    assert (fact.user, fact.database, fact.application_name) == ("reader", "shop", APPLICATION_NAME)
    assert fact.statement_timeout_ms == 1500
    assert fact.server_version and fact.server_version.startswith("15.")
    assert "read-only" in repr(fact) and "transaction_read_only: on" in fact.evidence()


def test_a_write_is_refused_by_the_server(postgres: Postgres) -> None:
    """Accepting server, a role that owns the table (``owner``): the session still cannot write."""
    before = postgres.admin("SELECT count(*) FROM shop_product")
    with probe(postgres.dsn("owner")).session() as session:
        assert session.connected, session
        inserted = session.query("INSERT INTO shop_product (name) VALUES (%s)", ("gonogo",))
        created = session.query("CREATE TABLE gonogo_was_here (id int)")

    assert not inserted.ok and "read-only transaction" in (inserted.error or ""), inserted
    assert not created.ok and "read-only transaction" in (created.error or ""), created
    assert postgres.admin("SELECT count(*) FROM shop_product") == before
    assert postgres.admin("SELECT to_regclass('gonogo_was_here')") == [(None,)]


def test_the_dsn_cannot_turn_read_only_off(postgres: Postgres) -> None:
    """Misconfigured DSN: its own ``options`` ask for writes and its own ``application_name``; gonogo's win."""
    dsn = postgres.dsn("owner") + "?options=-c%20default_transaction_read_only%3Doff&application_name=psql"
    fact = probe(dsn).connect()

    assert fact.read_only and fact.application_name == APPLICATION_NAME, fact


def test_a_query_returns_rows_and_evidence(postgres: Postgres) -> None:
    """Accepting server: rows, columns, the first value; the evidence shows the SQL and the rows."""
    fact = probe(postgres.dsn()).query("SELECT id, name FROM shop_product WHERE id >= %s ORDER BY id", (1,))

    assert fact.ok and fact.columns == ("id", "name") and fact.rows == ((1, "tea"), (2, "coffee")), fact
    assert fact.value == 1 and fact.column("name") == ["tea", "coffee"]
    evidence = fact.evidence()
    assert "sql: SELECT id, name FROM shop_product" in evidence and "1 | tea" in evidence and "params: (1,)" in evidence


def test_a_query_keeps_at_most_max_rows(postgres: Postgres) -> None:
    fact = probe(postgres.dsn()).query("SELECT generate_series(1, 10)", max_rows=3)

    assert fact.ok and fact.rows == ((1,), (2,), (3,)) and fact.truncated, fact
    assert "3+ row(s)" in fact.status_text


def test_several_statements_share_one_session(postgres: Postgres) -> None:
    with probe(postgres.dsn()).session() as session:
        pids = {session.query("SELECT pg_backend_pid()").value for _ in range(3)}
        missing = session.query("SELECT * FROM no_such_table")
        after = session.query("SELECT 1")

    assert len(pids) == 1
    assert not missing.ok and 'relation "no_such_table" does not exist' in (missing.error or ""), missing
    assert after.ok and after.value == 1  # autocommit: an error does not poison the session


def test_refused(postgres: Postgres) -> None:
    """Refusing: a loopback port nothing listens on."""
    port = free_port()
    start = time.monotonic()
    fact = probe(postgres.dsn(port=port)).connect()

    assert time.monotonic() - start < 2
    assert not fact.connected and "refused" in (fact.error or ""), fact
    assert fact.status_text.startswith("no connection after ") and f"127.0.0.1:{port}/shop" in fact.target
    query = probe(postgres.dsn(port=port)).query("SELECT 1")
    assert not query.ok and query.error and query.error.startswith("not run: ") and "refused" in query.error


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Hanging: a socket that accepts TCP connections (the kernel completes the handshake) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_a_server_that_never_answers_is_bounded_by_the_connect_timeout(postgres: Postgres, silent_listener: int) -> None:
    start = time.monotonic()
    fact = probe(postgres.dsn(port=silent_listener), connect_timeout_s=2).connect()
    elapsed = time.monotonic() - start

    assert not fact.connected and "timeout" in (fact.error or "").lower(), fact
    assert 1.5 < elapsed < 4, elapsed


def test_wrong_password(postgres: Postgres) -> None:
    """Misconfigured: the password is wrong; the fact says so and never shows a password."""
    wrong = "not-the-password-31d7"
    masker.add(wrong)
    try:
        fact = probe(postgres.dsn(password=wrong)).connect()
    finally:
        masker.clear()

    assert not fact.connected and 'password authentication failed for user "reader"' in (fact.error or ""), fact
    for text in (repr(fact), fact.evidence(), fact.status_text, fact.target):
        assert wrong not in text and postgres.password not in text


def test_a_statement_longer_than_the_statement_timeout_is_cancelled(postgres: Postgres) -> None:
    """Accepting server, a slow statement: the server cancels it at ``statement_timeout_ms``."""
    start = time.monotonic()
    fact = probe(postgres.dsn(), statement_timeout_ms=300).query("SELECT pg_sleep(5)")

    assert time.monotonic() - start < 2
    assert not fact.ok and "canceling statement due to statement timeout" in (fact.error or ""), fact
    assert "QueryCanceled" in (fact.error or "")


def test_a_frozen_backend_is_bounded_on_the_client_side(postgres: Postgres) -> None:
    """Hanging: the session's server process is stopped (SIGSTOP) mid-session, so the server's own
    statement timeout cannot fire; the probe gives up after statement timeout + connect timeout."""
    with probe(postgres.dsn(), connect_timeout_s=2, statement_timeout_ms=500).session() as session:
        backend = int(session.query("SELECT pg_backend_pid()").value)
        os.kill(backend, signal.SIGSTOP)
        try:
            start = time.monotonic()
            fact = session.query("SELECT 1")
            elapsed = time.monotonic() - start
        finally:
            os.kill(backend, signal.SIGCONT)

    assert not fact.ok and fact.error == "no answer within 2.5 s (the connection was closed)", fact
    assert 2.3 < elapsed < 4, elapsed


def test_a_bad_dsn_is_a_fact(postgres: Postgres) -> None:
    fact = probe("postgresql://reader@127.0.0.1:notaport/shop").connect()

    assert not fact.connected and fact.error, fact


def test_target_names_host_port_dbname_and_user_but_no_password() -> None:
    assert str(Target.of("postgresql://ro:s3cret-pw@db.internal:6543/shop?sslmode=require")) == "ro@db.internal:6543/shop"
    assert str(Target.of("host=/run/pg port=5433 dbname=shop user=ro password=s3cret-pw")) == "ro@/run/pg:5433/shop"
    assert str(Target.of("postgresql://ro@[::1]/shop")) == "ro@[::1]:5432/shop"


# ---------------------------------------------------------------------------------------- PgBouncer

def test_a_pooler_that_drops_the_read_only_option_gets_no_query_run(postgres: Postgres, pgbouncer: Any) -> None:
    """Misconfigured: a real PgBouncer with ``ignore_startup_parameters = options`` hands over a session
    with the role's default (``reader``: NOT read-only). The probe sees it and runs nothing."""
    port = pgbouncer("options")
    before = postgres.admin("SELECT count(*) FROM shop_product")
    with probe(postgres.dsn("reader", port=port)).session() as session:
        written = session.query("INSERT INTO shop_product (name) VALUES ('through the pooler')")
    fact = session.connection

    assert fact.connected and not fact.read_only and fact.transaction_read_only == "off", fact
    assert fact.error and "the session is not read-only" in fact.error, fact
    assert "NOT read-only" in repr(fact)
    assert not written.ok and (written.error or "").startswith("not run: the session is not read-only"), written
    assert postgres.admin("SELECT count(*) FROM shop_product") == before


def test_a_pooler_that_refuses_the_options_is_no_connection(postgres: Postgres, pgbouncer: Any) -> None:
    """Misconfigured: PgBouncer's default refuses the ``options`` startup parameter: no session, and why."""
    port = pgbouncer("extra_float_digits")
    fact = probe(postgres.dsn("reader", port=port)).connect()

    assert not fact.connected and "unsupported startup parameter: options" in (fact.error or ""), fact


# ---------------------------------------------------------------------------------------- end to end

CHECKS = (Path(__file__).resolve().parents[2] / "checks" / "test_database.py").read_text()
PROFILE = """
[environment]
release = "1.4.2"

[database]
dsn = "${STACK_DSN}"
connect_timeout_s = 2
statement_timeout_ms = 3000
"""


def gate_run(run_gate: Any, dsn: str, phase: str = "predeploy") -> Any:
    """The real checks/test_database.py in a pytest run of its own."""
    return run_gate({"test_database.py": CHECKS}, "-m", phase, profile=PROFILE, environ={"STACK_DSN": dsn})


@pytest.mark.parametrize("phase", ["predeploy", "postdeploy"])
def test_the_gate_is_go_with_a_read_only_session(run_gate: Any, postgres: Postgres, phase: str) -> None:
    """Accepting server, no other session: the connection, its session and (NPR-7) the other sessions' checks pass."""
    run = gate_run(run_gate, postgres.dsn("reader"), phase)

    assert run.gate["verdict"] == "GO" and run.gate["counts"]["passed"] == (6 if phase == "predeploy" else 3), run.out


def test_a_database_that_is_down_is_no_go(run_gate: Any, postgres: Postgres) -> None:
    """Refusing (nothing on the port): accepts_connection fails, session_read_only is dependent on it."""
    run = gate_run(run_gate, postgres.dsn("reader", port=free_port()))

    assert run.gate["verdict"] == "NO-GO" and run.ret == 1, run.out
    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert list(failed) == ["database.accepts_connection"], failed
    assert failed["database.accepts_connection"].startswith("database connection: expected a session within 2 s, "
                                                            "got no connection after "), failed
    assert "Connection refused" in failed["database.accepts_connection"]
    assert sorted((e["id"], e["status"]) for e in run.gate["skipped"]) == [
        (f"database.{name}", "dependent") for name in ("connection_headroom", "no_idle_transaction", "no_lock_held",
                                                       "no_long_query", "session_read_only")]
    assert "look at: the database reader@127.0.0.1:" in run.out and postgres.password not in run.out


def test_a_session_that_is_not_read_only_is_no_go(run_gate: Any, postgres: Postgres, pgbouncer: Any) -> None:
    """Misconfigured: a real PgBouncer drops the options: connected, but the read-only check fails."""
    run = gate_run(run_gate, postgres.dsn("reader", port=pgbouncer("options")))

    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO" and list(failed) == ["database.session_read_only"], run.out
    # the other sessions' checks read nothing either: that session runs no statement
    assert {(e["id"], e["status"]) for e in run.gate["skipped"]} == {
        (f"database.{name}", "dependent") for name in ("connection_headroom", "no_idle_transaction", "no_lock_held",
                                                       "no_long_query")}
    assert failed["database.session_read_only"].startswith(
        "database session read-only: expected transaction_read_only = on, got transaction_read_only = off: "
        "the session is not read-only"), failed
