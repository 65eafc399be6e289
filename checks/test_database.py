"""The stack's database accepts gonogo's connection, that session is read-only and bounded, and nothing on the
database will hold a deploy up.

Runbook step SMK-12 (its second half: the database accepts a connection), before the deploy and
after it. The session is the one every database read of gonogo uses (``stack.db``): opened within
``[database] connect_timeout_s``, read-only (``default_transaction_read_only=on``, verified with
``SHOW transaction_read_only``), every statement bounded by ``statement_timeout_ms``. A database
that does not give gonogo a read-only session fails: gonogo reads production and must not be able
to write there.

Runbook step NPR-7 (the database a deploy will migrate is not held up): before the deploy, no other session idle
inside a transaction, running a statement, or holding a lock on the tables the migrations alter for longer than
``[database.sessions]`` allows (a migration's ACCESS EXCLUSIVE lock would wait on it, and every request behind
the migration would wait too); before and after it, the connections in use stay under the share of the server's
limit the profile allows (a release that leaks connections fails at its first burst of traffic). The evidence
lists each session (pid, role, application, state, ages, locks, statement where the role may read it), so the
operator knows whom to ask or what to cancel. A role that may not see other roles' sessions (it needs
``pg_read_all_stats``, or ``pg_monitor``) does not pass: the check says what it could not read.
"""

from __future__ import annotations

import pytest

from gonogo import dependent, judge
from gonogo.probes.database import ConnectionFact
from gonogo.probes.db_sessions import SessionRow, SessionsFact
from gonogo.stack import Stack


@pytest.fixture(scope="module")
def connection(stack: Stack) -> ConnectionFact:
    """One session opened and described for the checks of this module."""
    return stack.db.connect()


def _where(stack: Stack) -> str:
    return f"the database {stack.db.target} ([database] dsn in {stack.env.display_path})"


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-12")
def test_accepts_connection(connection: ConnectionFact, stack: Stack) -> None:
    """The database accepts a connection within its connect timeout and answers it."""
    timeout = stack.db.section.connect_timeout_s
    judge("database connection", connection.connected, expected=f"a session within {timeout:g} s",
          actual=connection.status_text, where=_where(stack), fact=connection)


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-12")
def test_session_read_only(connection: ConnectionFact, stack: Stack) -> None:
    """gonogo's database session is read-only and bounded by the statement timeout."""
    if not connection.connected:
        dependent("database.accepts_connection", connection.status_text)
    judge("database session read-only", connection.read_only, expected="transaction_read_only = on",
          actual=f"transaction_read_only = {connection.transaction_read_only}: {connection.error}",
          where=_where(stack), fact=connection)
    expected = stack.db.section.statement_timeout_ms
    judge("database statement timeout", connection.statement_timeout_ms == expected,
          expected=f"statement_timeout = {expected} ms", actual=f"statement_timeout = {connection.statement_timeout_ms} ms",
          where=_where(stack), fact=connection)


@pytest.fixture(scope="module")
def sessions(stack: Stack) -> SessionsFact:
    """The server's client sessions, the locks on the stack's database and the connection limit, read once."""
    return stack.db.sessions()


def _sessions_read(sessions: SessionsFact, connection: ConnectionFact, stack: Stack) -> None:
    """Other sessions that could not be read: the connection check's failure when gonogo had no (read-only) session,
    else a failure of its own (the views could not be read)."""
    if sessions.ok:
        return
    if not connection.connected:
        dependent("database.accepts_connection", sessions.status_text)
    if not connection.read_only:
        dependent("database.session_read_only", sessions.status_text)
    judge("database sessions", False, expected="pg_stat_activity, pg_locks and the connection limit read",
          actual=sessions.status_text, where=_where(stack), fact=sessions)


def _judge_sessions(what: str, found: list[SessionRow], sessions: SessionsFact, *, expected: str,
                    stack: Stack) -> None:
    """None found, and none hidden from the role: the sessions found (or hidden) are the failure's reason."""
    hidden = sessions.hidden()
    actual = "; ".join(s.line() for s in found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else "")
    if not found and hidden:
        actual = (f"{len(hidden)} session(s) of other roles not visible to {sessions.role}: grant it pg_monitor "
                  "(or pg_read_all_stats) so it can see their state, ages and statements")
    judge(what, not found and not hidden, expected=expected, actual=actual, where=_where(stack), fact=sessions)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-7")
def test_no_idle_transaction(sessions: SessionsFact, connection: ConnectionFact, stack: Stack) -> None:
    """No other session sits idle inside a transaction longer than ``idle_in_transaction_max_s``: its locks would
    make the deploy's migrations wait."""
    _sessions_read(sessions, connection, stack)
    limit = stack.db.section.sessions.idle_in_transaction_max_s
    _judge_sessions("sessions idle in a transaction", sessions.idle_in_transaction(limit), sessions, stack=stack,
                    expected=f"no session idle in a transaction for more than {limit:g} s")


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-7")
def test_no_long_query(sessions: SessionsFact, connection: ConnectionFact, stack: Stack) -> None:
    """No other session's statement has run longer than ``query_max_s``: a migration's lock would queue behind it."""
    _sessions_read(sessions, connection, stack)
    limit = stack.db.section.sessions.query_max_s
    _judge_sessions("long-running statements", sessions.long_queries(limit), sessions, stack=stack,
                    expected=f"no statement running for more than {limit:g} s")


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-7")
def test_no_lock_held(sessions: SessionsFact, connection: ConnectionFact, stack: Stack) -> None:
    """No other session's transaction older than ``lock_max_s`` holds a lock on the tables the release's migrations
    alter (``tables``; without them, any table of ``schemas``, or of the application)."""
    _sessions_read(sessions, connection, stack)
    config = stack.db.section.sessions
    watched = ", ".join(config.tables) or (f"the tables of schema(s) {', '.join(config.schemas)}" if config.schemas
                                           else "the application's tables")
    _judge_sessions("locks held", sessions.locks_held(config.lock_max_s, config.tables, config.schemas), sessions,
                    stack=stack, expected=f"no lock on {watched} held by a transaction older than {config.lock_max_s:g} s")


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-7")
def test_connection_headroom(sessions: SessionsFact, connection: ConnectionFact, stack: Stack) -> None:
    """The connections in use stay under ``max_connections_used_percent`` of those ordinary roles may open
    (``max_connections`` minus the reserved slots); after a deploy the same, so a release that leaks connections
    shows."""
    _sessions_read(sessions, connection, stack)
    percent = stack.db.section.sessions.max_connections_used_percent
    limit = sessions.limit or 0
    allowed = int(limit * percent / 100)
    judge("connections in use", sessions.in_use <= allowed,
          expected=f"at most {allowed} ({percent:g}% of {limit})",
          actual=f"{sessions.status_text}: " + ", ".join(f"{count} {kind}" for kind, count in sessions.by_kind[:5]),
          where=_where(stack), fact=sessions)
