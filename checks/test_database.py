"""The stack's database accepts gonogo's connection, and that session is read-only and bounded.

Runbook step SMK-12 (its second half: the database accepts a connection), before the deploy and
after it. The session is the one every database read of gonogo uses (``stack.db``): opened within
``[database] connect_timeout_s``, read-only (``default_transaction_read_only=on``, verified with
``SHOW transaction_read_only``), every statement bounded by ``statement_timeout_ms``. A database
that does not give gonogo a read-only session fails: gonogo reads production and must not be able
to write there.
"""

from __future__ import annotations

import pytest

from gonogo import dependent, judge
from gonogo.probes.database import ConnectionFact
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
