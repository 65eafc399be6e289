"""The other sessions on the stack's database: what they hold, how long, and how many connections are left (NPR-7).

``stack.db.sessions()`` reads, in one read-only session of :mod:`gonogo.probes.database` (bounded like every
query), PostgreSQL's own views: ``pg_stat_activity`` (each client session: role, application, state, how long its
transaction and its statement have run), ``pg_locks`` (the table locks each session holds or waits for, in the
database gonogo reads) and the server's connection limit (``max_connections`` minus the reserved slots).

A role sees the state, ages and statement of other roles' sessions only with ``pg_read_all_stats`` (or
``pg_monitor``, which holds it); without it those sessions are listed as ``hidden``: the checks say what they could
not read rather than pass. Connections are counted whatever the role (every session has a row; another role's
is told from a background process by its role and database, which every client session has). gonogo's own
sessions (``application_name = gonogo``, every worker's) are counted as connections and never as holders.

A statement's text is kept (first :data:`QUERY_CHARS` characters) only where the role may read it; evidence is
masked like every other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import field
from typing import TYPE_CHECKING, Any

from gonogo.fact import Observed, Stopwatch
from gonogo.secrets import masker

if TYPE_CHECKING:
    from gonogo.probes.database import DatabaseProbe

#: characters of a session's statement the evidence keeps
QUERY_CHARS = 200
#: sessions the evidence lists (the rest are counted)
EVIDENCE_SESSIONS = 40
#: sessions read (every one, on any server short of this many connections) and table locks read
MAX_SESSIONS, MAX_LOCKS = 100_000, 10_000

#: every client session; another role's, hidden from a role without pg_read_all_stats, has no backend_type but
#: has its role and database (a background process lacks one of them)
_SESSIONS = f"""
SELECT a.pid, a.usename, a.application_name, a.datname, a.state,
       extract(epoch FROM now() - a.xact_start)::float8,
       extract(epoch FROM now() - a.query_start)::float8,
       extract(epoch FROM now() - a.state_change)::float8,
       a.wait_event_type, left(a.query, {QUERY_CHARS}),
       a.pid = pg_backend_pid(), a.datname = current_database()
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend'
   OR (a.backend_type IS NULL AND a.usename IS NOT NULL AND a.datname IS NOT NULL)
ORDER BY a.pid
"""
_LOCKS = """
SELECT l.pid, l.mode, l.granted, n.nspname, c.relname
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
ORDER BY l.pid, n.nspname, c.relname, l.mode
"""
_LIMITS = ("SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int, "
           "coalesce(current_setting('reserved_connections', true), '0')::int, current_user")


class Lock(Observed):
    """One table lock a session holds (``granted``) or waits for."""

    mode: str
    granted: bool
    schema: str
    table: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    def one_line(self) -> str:
        return f"{self.mode} on {self.qualified}{'' if self.granted else ' (waiting)'}"


class SessionRow(Observed):
    """One client session of the server, as the role may see it."""

    pid: int
    user: str | None
    application: str | None
    database: str | None
    #: 'active', 'idle', 'idle in transaction'...; None when the role may not see it (``hidden``)
    state: str | None
    #: seconds since its transaction began (None outside a transaction, or hidden)
    transaction_age_s: float | None
    #: seconds since its current (or last) statement began
    query_age_s: float | None
    #: seconds in its current state (how long it has been idle in its transaction)
    state_age_s: float | None
    wait_event_type: str | None
    #: its statement's first characters, None when hidden
    query: str | None
    #: gonogo's own session (any worker's): counted as a connection, never as a holder
    own: bool
    #: on the database gonogo reads (locks are read there only)
    same_database: bool
    locks: tuple[Lock, ...] = ()

    @property
    def hidden(self) -> bool:
        """The role may not see this session's state (it needs ``pg_read_all_stats``)."""
        return self.state is None

    @property
    def idle_in_transaction(self) -> bool:
        return (self.state or "").startswith("idle in transaction")

    def line(self) -> str:
        """pid, role, application, state, ages, locks and statement in one line (unmasked: evidence masks)."""
        if self.hidden:
            return (f"pid {self.pid}: user {self.user}, application {self.application or '-'}, database "
                    f"{self.database}: state not visible to this role")
        ages = [f"{name} {value:.0f} s" for name, value in (("transaction", self.transaction_age_s),
                                                              ("statement", self.query_age_s),
                                                              ("in state", self.state_age_s)) if value is not None]
        locks = f"; locks: {', '.join(lock.one_line() for lock in self.locks)}" if self.locks else ""
        query = " ".join((self.query or "").split())
        return (f"pid {self.pid}: user {self.user}, application {self.application or '-'}, database {self.database}, "
                f"{self.state}{', waiting on ' + self.wait_event_type if self.wait_event_type else ''} "
                f"({', '.join(ages) or 'no transaction'}){locks}; statement: {query or '-'}")

    def one_line(self) -> str:
        return f"<session {self.line()}>"


class SessionsFact(Observed):
    """The server's client sessions and its connection limit, as one read-only session saw them."""

    EVIDENCE_NAME = "database sessions on {target}"

    target: str
    elapsed_ms: float
    error: str | None = None
    #: the role that looked (what it may see depends on it)
    role: str | None = None
    sessions: tuple[SessionRow, ...] = ()
    max_connections: int | None = None
    #: ``superuser_reserved_connections`` plus ``reserved_connections`` (PostgreSQL 16+)
    reserved: int | None = None
    #: how the connections in use split (database, user, application, state), most first
    by_kind: tuple[tuple[str, int], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def limit(self) -> int | None:
        """The connections ordinary roles may open: ``max_connections`` minus the reserved slots."""
        if self.max_connections is None or self.reserved is None:
            return None
        return self.max_connections - self.reserved

    @property
    def in_use(self) -> int:
        return len(self.sessions)

    def others(self) -> list[SessionRow]:
        """The sessions on gonogo's database that are not gonogo's own."""
        return [s for s in self.sessions if s.same_database and not s.own]

    def hidden(self) -> list[SessionRow]:
        """Other sessions on gonogo's database whose state the role may not see."""
        return [s for s in self.others() if s.hidden]

    def visible(self) -> list[SessionRow]:
        """Other sessions on gonogo's database whose state and ages the role sees: the only ones judged (a hidden
        one is reported as hidden, whatever locks pg_locks shows for it)."""
        return [s for s in self.others() if not s.hidden]

    def idle_in_transaction(self, max_s: float) -> list[SessionRow]:
        """Sessions idle inside a transaction for more than ``max_s``."""
        return [s for s in self.visible() if s.idle_in_transaction and (s.state_age_s or 0) > max_s]

    def long_queries(self, max_s: float) -> list[SessionRow]:
        """Sessions whose statement has been running for more than ``max_s``."""
        return [s for s in self.visible() if s.state == "active" and (s.query_age_s or 0) > max_s]

    def locks_held(self, max_s: float, tables: list[str], schemas: list[str]) -> list[SessionRow]:
        """Sessions whose transaction, older than ``max_s``, holds a lock on a watched table: one of ``tables``
        (``table`` or ``schema.table``), else any table of ``schemas``, else any table outside PostgreSQL's own."""
        def watched(lock: Lock) -> bool:
            if tables:
                return lock.table in tables or lock.qualified in tables
            return lock.schema in schemas if schemas else True

        return [s for s in self.visible()
                if (s.transaction_age_s or 0) > max_s and any(lock.granted and watched(lock) for lock in s.locks)]

    @property
    def status_text(self) -> str:
        if self.error:
            return masker.mask(f"not read: {self.error}")
        return f"{self.in_use} connection(s) in use of {self.limit} ({self.max_connections} minus {self.reserved} reserved)"

    def evidence(self) -> str:
        lines = [f"target: {self.target}", f"read as: {self.role}", f"elapsed: {self.elapsed_ms:.1f} ms"]
        if self.error:
            lines.append(f"not read: {self.error}")
            return masker.mask("\n".join(lines))
        lines.append(f"connections: {self.status_text}")
        lines += ["by database, user, application, state:", *(f"  {count:4d}  {kind}" for kind, count in self.by_kind)]
        others = self.others()
        lines.append(f"sessions on this database other than gonogo's: {len(others)}")
        lines += [f"  {s.line()}" for s in others[:EVIDENCE_SESSIONS]]
        if len(others) > EVIDENCE_SESSIONS:
            lines.append(f"  ... and {len(others) - EVIDENCE_SESSIONS} more")
        if hidden := self.hidden():
            lines.append(f"{len(hidden)} of them hidden from {self.role}: grant it pg_monitor (or pg_read_all_stats) "
                         "to see their state, ages and statements")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<database sessions on {self.target}: {self.status_text}>"


def observe(db: DatabaseProbe) -> SessionsFact:
    """Read the server's sessions, the table locks on gonogo's database and the connection limit, in one session."""
    watch = Stopwatch()
    with db.session() as session:
        if not session.connected or session.connection.error:
            return SessionsFact(db.target, watch.ms(), error=session.connection.status_text
                                if not session.connected else session.connection.error)
        # every session is kept (connections are counted from them: max_connections is rarely above a few
        # thousand); locks are many in a large transaction, the first MAX_LOCKS are enough to name a holder
        rows = session.query(_SESSIONS, max_rows=MAX_SESSIONS)
        locks, limits = session.query(_LOCKS, max_rows=MAX_LOCKS), session.query(_LIMITS)
    for answer in (rows, locks, limits):
        if not answer.ok:
            return SessionsFact(db.target, watch.ms(), error=answer.error)
    held: dict[int, list[Lock]] = {}
    for pid, mode, granted, schema, table in locks.rows:
        held.setdefault(pid, []).append(Lock(mode, bool(granted), schema, table))
    sessions = tuple(_session(row, tuple(held.get(row[0], ())), db.application_name) for row in rows.rows)
    max_connections, superuser_reserved, reserved, role = limits.rows[0]
    kinds = Counter(f"{s.database}, {s.user}, {s.application or '-'}, {s.state or 'not visible'}" for s in sessions)
    return SessionsFact(db.target, watch.ms(), role=role, sessions=sessions, max_connections=max_connections,
                        reserved=superuser_reserved + reserved, by_kind=tuple(kinds.most_common()))


def _session(row: tuple[Any, ...], locks: tuple[Lock, ...], own_application: str) -> SessionRow:
    pid, user, application, database, state, xact_age, query_age, state_age, wait, query, mine, same = row
    return SessionRow(pid, user, application, database, state, xact_age, query_age, state_age, wait,
                      None if state is None else query, bool(mine) or application == own_application, bool(same),
                      locks)
