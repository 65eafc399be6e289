"""Database probe: read-only, time-bounded PostgreSQL sessions with psycopg 3 (``[database]``:
:mod:`gonogo.sections.database`).

``stack.db`` is a :class:`DatabaseProbe` built from ``[database]``. Every session it opens:

- connects within ``connect_timeout_s`` (libpq's ``connect_timeout``, enforced by psycopg);
- asks for read-only transactions and a statement timeout in its startup packet
  (``options='-c default_transaction_read_only=on -c statement_timeout=<ms>'``), after any
  options the DSN carries, so gonogo's settings win;
- names itself ``application_name=gonogo``, so the server's statement log tells its sessions apart;
- is verified: ``SHOW transaction_read_only`` must say ``on`` (a pooler that drops the options, say),
  or the session runs nothing and says why;
- bounds every statement on the client side too: a statement still unanswered
  ``connect_timeout_s`` after its statement timeout (a server that stopped answering) has its
  socket shut down;
- is not tried again in the run once a session could not start within ``connect_timeout_s`` on the same
  ``host:port`` (:mod:`gonogo.probes.silence`): a silent server costs one connect timeout, not one per check.

Facts only: refused, timed out, wrong password, not read-only are :class:`ConnectionFact` and
:class:`QueryFact` values with an ``error``, never exceptions. The DSN is a secret: facts name the
target as ``user@host:port/dbname`` (masked anyway), never the DSN.

The migrations subject reads its tables through this probe::

    fact = stack.db.query("SELECT app, name FROM django_migrations ORDER BY id")
    if fact.ok: ... fact.rows ...                      # else fact.error says what happened

    with stack.db.session() as session:                # several statements, one connection
        if session.connected: ...
        version = session.query("SELECT version_num FROM alembic_version")
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gonogo import lazy
from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.probes import db_sessions, silence
from gonogo.secrets import masker
from gonogo.sections.database import DatabaseSection, dsn_problem

if TYPE_CHECKING:
    import psycopg
    from psycopg import conninfo

    from gonogo.stack import Stack
else:  # psycopg (and libpq) is imported when a probe first talks to a database
    psycopg = lazy.module("psycopg")
    conninfo = lazy.module("psycopg.conninfo")

#: the application_name of every session gonogo opens on the stack's database
APPLICATION_NAME = "gonogo"
#: rows a query keeps (the rest are counted, not kept)
MAX_ROWS = 1000
#: rows an evidence text shows
EVIDENCE_ROWS = 50


@dataclass(frozen=True)
class Target:
    """Where a DSN points: ``user@host:port/dbname`` (libpq's defaults filled in), never its password."""

    host: str
    port: str
    dbname: str
    user: str

    @classmethod
    def of(cls, dsn: str) -> Target:
        """The target of a DSN (URL or ``key=value``); libpq's environment variables and defaults apply."""
        try:
            params = conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            params = {}
        user = str(params.get("user") or os.environ.get("PGUSER") or getpass.getuser())
        host = str(params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "local socket")
        return cls(host=host, port=str(params.get("port") or os.environ.get("PGPORT") or "5432"),
                   dbname=str(params.get("dbname") or os.environ.get("PGDATABASE") or user), user=user)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return masker.mask(f"{self.user}@{host}:{self.port}/{self.dbname}")


class ConnectionFact(Observed):
    """One session's opening: whether the server accepted it, and what the session is."""

    EVIDENCE_NAME = "database {target}"

    target: str
    connected: bool
    elapsed_ms: float
    error: str | None = None
    server_version: str | None = None
    user: str | None = None
    database: str | None = None
    application_name: str | None = None
    #: ``SHOW transaction_read_only`` in the session: "on" for a read-only session
    transaction_read_only: str | None = None
    #: the session's ``statement_timeout``, in milliseconds (0: none)
    statement_timeout_ms: int | None = None

    @property
    def read_only(self) -> bool:
        return self.connected and self.transaction_read_only == "on"

    @property
    def status_text(self) -> str:
        """'connected in 12 ms', or what happened instead ('no connection after 5003 ms: ...')."""
        if not self.connected:
            return masker.mask(no_answer(self.elapsed_ms, self.error, "no connection"))
        return f"connected in {self.elapsed_ms:.0f} ms"

    def evidence(self) -> str:
        lines = [f"target: {self.target}", f"elapsed: {self.elapsed_ms:.1f} ms"]
        if not self.connected:
            lines.append(f"no connection: {self.error}")
        else:
            lines += [f"server: PostgreSQL {self.server_version}", f"current_user: {self.user}",
                      f"current_database: {self.database}", f"application_name: {self.application_name}",
                      f"transaction_read_only: {self.transaction_read_only}",
                      f"statement_timeout: {self.statement_timeout_ms} ms"]
            if self.error:
                lines.append(f"refused to run statements: {self.error}")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if not self.connected:
            return f"<database {self.target}: {self.status_text}>"
        mode = "read-only" if self.read_only else f"NOT read-only (transaction_read_only={self.transaction_read_only})"
        return (f"<database {self.target}: PostgreSQL {self.server_version}, {mode}, "
                f"statement_timeout={self.statement_timeout_ms} ms>")


class QueryFact(Observed):
    """One statement's result: its columns and rows (at most ``MAX_ROWS``), or what happened instead."""

    target: str
    sql: str
    params: tuple[Any, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    elapsed_ms: float = 0
    error: str | None = None
    #: more rows than ``MAX_ROWS`` came back: ``rows`` holds the first ones
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def value(self) -> Any:
        """The first column of the first row (None without rows)."""
        return self.rows[0][0] if self.rows and self.rows[0] else None

    def column(self, name: str) -> list[Any]:
        """The values of one column, by name."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    @property
    def status_text(self) -> str:
        if self.error:
            return masker.mask(no_answer(self.elapsed_ms, self.error, "failed"))
        return f"{len(self.rows)}{'+' if self.truncated else ''} row(s) in {self.elapsed_ms:.0f} ms"

    def evidence_title(self) -> str:
        return f"SQL on {self.target}: {' '.join(self.sql.split())[:60]}"

    def evidence(self) -> str:
        lines = [f"target: {self.target}", f"sql: {self.sql.strip()}"]
        if self.params:
            lines.append(f"params: {self.params!r}")
        lines.append(f"result: {self.status_text}")
        if self.ok and self.columns:
            lines.append(" | ".join(self.columns))
            lines += [" | ".join(map(str, row)) for row in self.rows[:EVIDENCE_ROWS]]
            if len(self.rows) > EVIDENCE_ROWS or self.truncated:
                lines.append("...")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<query {' '.join(self.sql.split())[:80]!r} on {self.target}: {self.status_text}>"


class Deadline:
    """Runs ``action`` (from a timer thread) when the ``with`` block outlives ``seconds``; ``fired`` says so."""

    def __init__(self, seconds: float, action: Callable[[], None]) -> None:
        self.fired = False
        self._action = action
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._action()

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _shut_down(connection: psycopg.Connection[Any]) -> None:
    """Shut a connection's socket down under a call blocked on it: the call ends with an error."""
    try:
        with socket.socket(fileno=os.dup(connection.pgconn.socket)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        pass  # already closed: the call has ended anyway


class Session:
    """One open session (from :meth:`DatabaseProbe.session`): its :class:`ConnectionFact` and queries.

    A session that should be read-only and is not runs nothing: each query returns a fact whose
    error says so.
    """

    def __init__(self, target: str, connection: psycopg.Connection[Any] | None, fact: ConnectionFact,
                 deadline_s: float) -> None:
        self.target = target
        self.connection = fact
        self._conn = connection
        self._deadline_s = deadline_s

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def __repr__(self) -> str:
        return repr(self.connection)

    def query(self, sql: str, params: Sequence[Any] = (), *, max_rows: int = MAX_ROWS) -> QueryFact:
        """Run one statement (``%s`` placeholders) and fetch its rows; never raises."""
        params = tuple(params)
        if self._conn is None or self.connection.error:
            why = self.connection.error or "no connection"
            return QueryFact(self.target, sql, params, error=f"not run: {why}")
        return run_query(self._conn, self.target, sql, params, deadline_s=self._deadline_s, max_rows=max_rows)


def run_query(conn: psycopg.Connection[Any], target: str, sql: str, params: tuple[Any, ...] = (), *,
              deadline_s: float, max_rows: int = MAX_ROWS) -> QueryFact:
    """Run one statement on an open connection, bounded by ``deadline_s`` on the client side."""
    watch = Stopwatch()
    watchdog = Deadline(deadline_s, lambda: _shut_down(conn))
    try:
        with watchdog, conn.cursor() as cursor:
            cursor.execute(sql, params or None)
            columns = tuple(c.name for c in cursor.description or ())
            rows = cursor.fetchmany(max_rows + 1) if cursor.description else []
    except Exception as exc:  # the server's error, a timeout, a broken connection: a fact
        error = f"no answer within {deadline_s:g} s (the connection was closed)" if watchdog.fired else error_text(exc)
        return QueryFact(target, sql, params, elapsed_ms=watch.ms(), error=error)
    return QueryFact(target, sql, params, columns, tuple(tuple(r) for r in rows[:max_rows]), watch.ms(),
                     truncated=len(rows) > max_rows)


def connection_string(dsn: str, *, application_name: str, statement_timeout_ms: int, read_only: bool) -> str:
    """The DSN with gonogo's session settings added: its own ``options`` first, gonogo's after (they win)."""
    params = conninfo.conninfo_to_dict(dsn)
    settings = [str(params.get("options") or "").strip()]
    if read_only:
        settings.append("-c default_transaction_read_only=on")
    settings.append(f"-c statement_timeout={statement_timeout_ms}")
    return conninfo.make_conninfo(dsn, options=" ".join(s for s in settings if s), application_name=application_name)


@contextmanager
def open_session(dsn: str, *, connect_timeout_s: int, statement_timeout_ms: int, read_only: bool = True,
                 application_name: str = APPLICATION_NAME) -> Iterator[Session]:
    """Open one session on ``dsn`` and describe it; closed on exit. Never raises for the database's sake.

    ``read_only`` sessions are verified with ``SHOW transaction_read_only``; one that is not
    read-only runs nothing. Only the restore opens a writing session, and only on its scratch database.
    """
    where = Target.of(dsn)
    target, address = str(where), f"{where.host}:{where.port}"
    deadline_s = statement_timeout_ms / 1000 + connect_timeout_s
    watch = Stopwatch()
    conn: psycopg.Connection[Any] | None = None
    try:
        if (problem := dsn_problem(dsn)) is not None:
            raise psycopg.ProgrammingError(f"the DSN is malformed: {problem}")
        silence.refuse(address)  # it did not start a session earlier in this run: not asked again
        conn = psycopg.connect(connection_string(dsn, application_name=application_name,
                                                 statement_timeout_ms=statement_timeout_ms, read_only=read_only),
                               connect_timeout=connect_timeout_s, autocommit=True)
    except Exception as exc:  # refused, timed out, authentication, bad DSN: a fact
        fact = ConnectionFact(target, False, watch.ms(), error=error_text(exc))
        if silence.timed_out(exc):
            silence.record(address, "a session", fact.error or "", at_once=True)
    else:
        fact = _describe(conn, target, watch, deadline_s, read_only)
    try:
        yield Session(target, conn if fact.connected else None, fact, deadline_s)
    finally:
        if conn is not None:
            conn.close()


_DESCRIBE = ("SELECT current_setting('server_version'), current_user, current_database(), "
             "current_setting('application_name'), current_setting('transaction_read_only'), "
             "(SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout')")


def _describe(conn: psycopg.Connection[Any], target: str, watch: Stopwatch, deadline_s: float,
              read_only: bool) -> ConnectionFact:
    answer = run_query(conn, target, _DESCRIBE, deadline_s=deadline_s)
    if not answer.ok or not answer.rows:
        return ConnectionFact(target, False, watch.ms(), error=f"the server accepted the connection but "
                                                                f"did not describe the session: {answer.error}")
    version, user, database, application, transaction_read_only, statement_timeout_ms = answer.rows[0]
    error = None
    if read_only and transaction_read_only != "on":
        error = (f"the session is not read-only (transaction_read_only={transaction_read_only}): the server, "
                 "or a pooler in front of it, ignored default_transaction_read_only=on")
    return ConnectionFact(target, True, watch.ms(), error=error, server_version=version, user=user,
                          database=database, application_name=application,
                          transaction_read_only=transaction_read_only, statement_timeout_ms=statement_timeout_ms)


@dataclass(frozen=True)
class DatabaseProbe:
    """The stack's database (``stack.db``): read-only sessions bounded by ``[database]``'s timeouts."""

    section: DatabaseSection
    application_name: str = field(default=APPLICATION_NAME)

    def __repr__(self) -> str:
        return f"<database probe {self.target}>"

    @property
    def target(self) -> str:
        """``user@host:port/dbname`` of the DSN (masked)."""
        return str(Target.of(self.section.dsn.get_secret_value()))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One read-only session for several statements: ``with stack.db.session() as s: s.query(...)``."""
        with open_session(self.section.dsn.get_secret_value(), connect_timeout_s=self.section.connect_timeout_s,
                          statement_timeout_ms=self.section.statement_timeout_ms,
                          application_name=self.application_name) as session:
            yield session

    def connect(self) -> ConnectionFact:
        """Open a session, describe it, close it."""
        with self.session() as session:
            return session.connection

    def query(self, sql: str, params: Sequence[Any] = (), *, max_rows: int = MAX_ROWS) -> QueryFact:
        """One statement in its own read-only session."""
        with self.session() as session:
            return session.query(sql, params, max_rows=max_rows)

    def sessions(self) -> db_sessions.SessionsFact:
        """The server's client sessions (what each holds, for how long) and its connection limit (NPR-7)."""
        return db_sessions.observe(self)


def quoted_name(name: str) -> str:
    """A table name as written (``table`` or ``schema.table``, validated: no quote in it), quoted part by part."""
    return ".".join(f'"{part}"' for part in name.split("."))



def error_text(exc: BaseException) -> str:
    """psycopg's message in one line (the server's primary message, and its detail when it has one)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return masker.mask(f"{type(exc).__name__}: {text}"[:400])


def from_stack(stack: Stack) -> DatabaseProbe:
    """``stack.db``: the stack's database of ``[database]``: read-only sessions bounded by its connect and statement
    timeouts."""
    return DatabaseProbe(stack.section("database"))
