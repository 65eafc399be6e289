"""Restore probe: the newest backup restored into a scratch database, with PostgreSQL's own tools.

``stack.restore`` is a :class:`RestoreProbe` built from ``[backups]`` (``restore_into``,
``expect_tables``, ``restore_timeout_s``; the keys live on :class:`~gonogo.probes.backups.BackupsSection`)
and ``[database] dsn``. :meth:`RestoreProbe.run`, in this order:

1. **the guard**: refuse, before anything is written, a scratch target that is the stack's own
   database: the same database name on the same server in the DSNs (``localhost``, ``127.0.0.1``,
   ``::1`` and a local socket are one server; ports compared too), or, asked over a session each,
   the same server process (start time, port) and database oid (another name for it: a pooler's
   alias, a DNS name). It refuses too when it cannot compare: no ``[database]``, or a side that
   does not answer;
2. the newest dump matching ``[backups] pattern`` (:func:`~gonogo.probes.backups.list_backups`);
3. the scratch database emptied (a leftover of a killed run);
4. the dump restored in one transaction: a plain dump (``.sql``, ``.sql.gz``, streamed and
   gunzipped here) into ``psql -X -v ON_ERROR_STOP=1 --single-transaction``, a custom one with
   ``pg_restore --no-owner --no-privileges --exit-on-error --single-transaction``; a plain dump
   that ends early (truncated gzip, no ``dump complete`` footer) is never committed: the tool is
   killed before its transaction ends; so is a tool still running at ``restore_timeout_s``;
5. the expected tables looked up and counted (at most ``ROW_SAMPLE`` rows each), the migration
   table's state read (``django_migrations``, ``alembic_version``, ``_prisma_migrations``);
6. the scratch database emptied again, whatever happened in 3-5 (``finally``).

Only steps 3, 4 and 6 write, and only to the scratch database, in sessions named
``gonogo-restore``. Facts only: every step's outcome is in the :class:`RestoreFact`.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from gonogo.environment import not_configured
from gonogo import skips
from gonogo import lazy
from gonogo.fact import Observed, Stopwatch
from gonogo.probes.backups import CHUNK, PLAIN_FOOTER, TAIL, BackupFile, dump_format, list_backups
from gonogo.sections.backups import BackupsSection
from gonogo.probes.database import Deadline, QueryFact, Session, Target, open_session
from gonogo.secrets import masker

if TYPE_CHECKING:
    from psycopg import conninfo

    from gonogo.stack import Stack
else:  # psycopg is imported when a restore first runs
    conninfo = lazy.module("psycopg.conninfo")

#: the application_name of the restore's sessions and tools (the statement log tells them apart)
APPLICATION_NAME = "gonogo-restore"
#: rows counted per expected table: "holds rows" needs one, the evidence shows up to this many
ROW_SAMPLE = 1000
#: statements of the restore's own sessions (guard, emptying, inspection)
STATEMENT_TIMEOUT_MS = 60_000
#: output of psql / pg_restore kept for the evidence
OUTPUT_TAIL = 8 * 1024
#: the same machine, whatever the DSN calls it
_THIS_MACHINE = {"localhost", "127.0.0.1", "::1", "local socket", ""}
#: the migration tables whose state a restore records, and how it is summed up
MIGRATION_TABLES = {
    "django_migrations": "SELECT count(*) AS applied, max(applied) AS last_applied, "
                         "(SELECT app || '.' || name FROM django_migrations ORDER BY id DESC LIMIT 1) AS last "
                         "FROM django_migrations",
    "alembic_version": "SELECT version_num FROM alembic_version ORDER BY version_num",
    "_prisma_migrations": "SELECT count(*) AS migrations, count(*) FILTER (WHERE finished_at IS NULL) AS unfinished, "
                          "count(*) FILTER (WHERE rolled_back_at IS NOT NULL) AS rolled_back, "
                          "max(migration_name) AS last FROM _prisma_migrations",
}
#: the schemas of a database that are not PostgreSQL's own (run without parameters: % is literal)
_SCHEMAS = ("SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%' ORDER BY nspname")
#: relations in those schemas
_LEFT = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
         "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
         "AND n.nspname NOT LIKE 'pg\\_temp\\_%'")
#: the restore's sessions still open on the scratch database (a tool killed mid-restore, a killed run):
#: their uncommitted transactions hold locks the emptying needs
_END_LEFTOVER_SESSIONS = ("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = current_database() "
                          f"AND application_name = '{APPLICATION_NAME}' AND pid <> pg_backend_pid()")
_IDENTITY = ("SELECT pg_postmaster_start_time()::text, current_setting('port'), d.oid::bigint "
             "FROM pg_database d WHERE d.datname = current_database()")


# ---------------------------------------------------------------------------------------- the guard

class GuardFact(Observed):
    """Whether the scratch target may be written: refused when it is the stack's own database (part of a RestoreFact)."""

    scratch: str
    stack: str | None
    refused: bool
    reason: str

    def one_line(self) -> str:
        return f"<restore guard {self.scratch}: {'refused' if self.refused else 'allowed'}: {self.reason}>"


def _endpoints(dsn: str) -> set[tuple[str, str]]:
    """(server, port) pairs a DSN may reach (a DSN may list several hosts); this machine is one server."""
    target = Target.of(dsn)
    hosts = target.host.split(",")
    ports = target.port.split(",")
    ports = ports * len(hosts) if len(ports) == 1 else ports
    return {("this machine" if (h.strip().lower() in _THIS_MACHINE or h.strip().startswith("/")) else h.strip().lower(),
             p.strip() or "5432") for h, p in zip(hosts, ports)}


def same_database(scratch_dsn: str, stack_dsn: str) -> bool:
    """Do two DSNs name the same database on the same server (by name, port and database)?"""
    return Target.of(scratch_dsn).dbname == Target.of(stack_dsn).dbname and bool(
        _endpoints(scratch_dsn) & _endpoints(stack_dsn))


def guard(scratch_dsn: str, stack_dsn: str | None, *, connect_timeout_s: int) -> GuardFact:
    """Allow the scratch target only when it is provably not the stack's database: another name or
    server in the DSNs, and, asked over a session each, another server process or database oid."""
    scratch = str(Target.of(scratch_dsn))
    if stack_dsn is None:
        return GuardFact(scratch, None, True, "no [database] dsn to compare with: the guard cannot tell the scratch "
                                              "database from the stack's, so nothing is restored")
    stack = str(Target.of(stack_dsn))
    if same_database(scratch_dsn, stack_dsn):
        return GuardFact(scratch, stack, True, "the scratch target is the stack's own database (same server, port "
                                               "and database name): nothing is restored")
    # the scratch side is asked the way the restore will connect (a pooler may drop read-only options)
    ours = _identity(scratch_dsn, connect_timeout_s, read_only=False, application_name=APPLICATION_NAME)
    if not ours.ok:
        return GuardFact(scratch, stack, True, f"the scratch database could not be asked which database it is "
                                               f"({ours.error}): nothing is restored")
    theirs = _identity(stack_dsn, connect_timeout_s, read_only=True, application_name="gonogo")
    if not theirs.ok:
        return GuardFact(scratch, stack, True, f"the stack's database could not be asked which database it is "
                                               f"({theirs.error}): the guard cannot prove the scratch target is "
                                               "another database, so nothing is restored")
    started, port, oid = ours.rows[0]
    if ours.rows == theirs.rows:
        return GuardFact(scratch, stack, True, "the scratch target is the stack's own database under another name "
                                               f"(the same server, started at {started}, port {port}, and the same "
                                               f"database, oid {oid}): nothing is restored")
    return GuardFact(scratch, stack, False, "another database than [database] dsn: by name and server, and by the "
                                            f"servers' own answers (scratch: server started at {started}, port {port}, "
                                            f"database oid {oid})")


def _identity(dsn: str, connect_timeout_s: int, *, read_only: bool, application_name: str) -> QueryFact:
    """The server's start time and port and the database's oid (one SELECT)."""
    with open_session(dsn, connect_timeout_s=connect_timeout_s, statement_timeout_ms=STATEMENT_TIMEOUT_MS,
                      read_only=read_only, application_name=application_name) as session:
        fact = session.query(_IDENTITY)
    if not session.connected:
        return replace(fact, error=session.connection.error)
    return fact if not fact.ok or fact.rows else replace(fact, error="no answer row")


# ---------------------------------------------------------------------------------------- the facts

@dataclass(frozen=True)
class EmptyingFact:
    """The scratch database emptied: what was there, and what is left (nothing, when it worked)."""

    when: str
    schemas_dropped: tuple[str, ...] = ()
    relations_before: int | None = None
    relations_left: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.relations_left == 0

    @property
    def status_text(self) -> str:
        if self.error:
            return masker.mask(f"not emptied: {self.error}")
        return (f"{self.relations_before} relation(s) found, schema(s) {', '.join(self.schemas_dropped) or 'none'} "
                f"dropped, {self.relations_left} relation(s) left")


@dataclass(frozen=True)
class ToolRun:
    """psql or pg_restore run on one dump: exit code, its messages' tail, and whether the dump was read whole."""

    command: str
    exit_code: int | None
    elapsed_ms: float
    output: str = ""
    #: why the run does not count even if the tool said 0 (truncated stream, no footer, timeout...)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0

    @property
    def last_words(self) -> str:
        """The tool's last error line (``psql:<stdin>:42: ERROR: ...``, ``pg_restore: error: ...``), or its last line."""
        lines = [line.strip() for line in self.output.strip().splitlines() if line.strip()]
        errors = [line for line in lines if re.search(r"\b(ERROR|FATAL|PANIC|error):", line)]
        return masker.mask((errors or lines or ["(no output)"])[-1][:300])

    @property
    def status_text(self) -> str:
        took = f"after {self.elapsed_ms / 1000:.1f} s"
        if self.error:
            return masker.mask(f"{self.error} ({took}; {self.command} exit code {self.exit_code}: {self.last_words})")
        if self.exit_code != 0:
            return masker.mask(f"{self.command} exit code {self.exit_code} {took}: {self.last_words}")
        return f"restored {took}"


@dataclass(frozen=True)
class TableFact:
    """One expected table in the restored database: found or not, and how many rows (up to ``ROW_SAMPLE``)."""

    name: str
    found: bool
    rows: int | None = None
    error: str | None = None

    @property
    def problem(self) -> str | None:
        if self.error:
            return f"{self.name}: {self.error}"
        if not self.found:
            return f"{self.name}: missing"
        return f"{self.name}: no rows" if not self.rows else None

    def describe(self) -> str:
        return self.problem or f"{self.name}: {self.rows}{'+' if self.rows == ROW_SAMPLE else ''} row(s)"


class RestoreFact(Observed):
    """The whole restore test: the guard, the dump, the emptying before and after, the tool, the tables."""

    EVIDENCE_NAME = "restore into {scratch}"

    scratch: str
    guard: GuardFact
    folder: str
    pattern: str
    backup: BackupFile | None = None
    format: str | None = None
    listing_error: str | None = None
    emptied_before: EmptyingFact | None = None
    run: ToolRun | None = None
    tables: tuple[TableFact, ...] = ()
    inspect_error: str | None = None
    migrations: tuple[QueryFact, ...] = ()
    emptied_after: EmptyingFact | None = None
    elapsed_ms: float = 0

    @property
    def backup_path(self) -> str:
        return f"{self.folder}/{self.backup.name}" if self.backup else f"{self.folder}/{self.pattern}"

    @property
    def restored(self) -> bool:
        """The dump went into the scratch database whole (its tables are then worth looking at)."""
        return bool(not self.guard.refused and self.emptied_before and self.emptied_before.ok
                    and self.run and self.run.ok)

    @property
    def table_problems(self) -> list[str]:
        problems = [p for p in (t.problem for t in self.tables) if p]
        return ([f"cannot look: {self.inspect_error}"] if self.inspect_error else []) + problems

    def evidence(self) -> str:
        lines = [f"scratch database: {self.scratch}", f"guard: {'REFUSED' if self.guard.refused else 'allowed'}: "
                 f"{self.guard.reason}"]
        if self.guard.refused:
            lines.append("nothing was written")
            return masker.mask("\n".join(lines))
        if self.backup is None:
            lines.append(f"newest backup: none in {self.folder} matching {self.pattern}"
                         + (f" ({self.listing_error})" if self.listing_error else ""))
        else:
            lines.append(f"newest backup: {self.backup_path} ({self.format} format, {self.backup.size} bytes, "
                         f"modified {self.backup.modified:%Y-%m-%d %H:%M:%S} UTC)")
        if self.emptied_before is not None:
            lines.append(f"scratch emptied before the restore: {self.emptied_before.status_text}")
        if self.run is not None:
            lines += [f"restore: {self.run.command}: {self.run.status_text}",
                      f"its messages (tail): {self.run.output.strip() or '(none)'}"]
        if self.tables or self.inspect_error:
            lines.append("expected tables:" + (f" cannot look: {self.inspect_error}" if self.inspect_error else ""))
            lines += [f"  {t.describe()}" for t in self.tables]
        for state in self.migrations:
            lines += ["migration state:", *(f"  {line}" for line in state.evidence().splitlines())]
        if self.emptied_after is not None:
            lines.append(f"scratch emptied after the restore: {self.emptied_after.status_text}")
        lines.append(f"took {self.elapsed_ms / 1000:.1f} s")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if self.guard.refused:
            return self.guard.one_line()
        run = self.run.status_text if self.run else "not run"
        return f"<restore {self.backup.name if self.backup else 'no backup'} into {self.scratch}: {run}>"


# ---------------------------------------------------------------------------------------- the probe

@dataclass(frozen=True)
class RestoreProbe:
    """The restore test of ``[backups]`` (``stack.restore``): guard, restore, inspect, empty."""

    section: BackupsSection
    folder: Path
    stack_dsn: SecretStr | None
    connect_timeout_s: int = 5

    @property
    def scratch_dsn(self) -> str:
        assert self.section.restore_into is not None, "[backups] restore_into is required (the stack checks it)"
        return self.section.restore_into.get_secret_value()

    def __repr__(self) -> str:
        return f"<restore probe into {Target.of(self.scratch_dsn)}>"

    def run(self) -> RestoreFact:
        """Guard, then restore the newest backup into the scratch database, look at it, and empty it."""
        watch = Stopwatch()
        scratch = str(Target.of(self.scratch_dsn))
        checked = guard(self.scratch_dsn, self.stack_dsn.get_secret_value() if self.stack_dsn else None,
                        connect_timeout_s=self.connect_timeout_s)
        base = RestoreFact(scratch, checked, str(self.folder), self.section.pattern)
        if checked.refused:
            return base
        listing = list_backups(self.folder, self.section.pattern)
        if listing.newest is None:
            return replace(base, listing_error=listing.error, elapsed_ms=watch.ms())
        dump = self.folder / listing.newest.name
        kind = dump_format(dump, self.section.format)
        return self._restore(replace(base, backup=listing.newest, format=kind), dump, kind, watch)

    def _restore(self, found: RestoreFact, dump: Path, kind: str, watch: Stopwatch) -> RestoreFact:
        before = self._empty("before the restore")
        if not before.ok:
            return replace(found, emptied_before=before, emptied_after=self._empty("after the restore"),
                            elapsed_ms=watch.ms())
        run: ToolRun | None = None
        tables: tuple[TableFact, ...] = ()
        migrations: tuple[QueryFact, ...] = ()
        inspect_error: str | None = None
        try:
            run = self._run_tool(dump, kind)
            if run.ok:
                tables, migrations, inspect_error = self._inspect()
        finally:
            after = self._empty("after the restore")
        return replace(found, emptied_before=before, run=run, tables=tables, migrations=migrations,
                        inspect_error=inspect_error, emptied_after=after, elapsed_ms=watch.ms())

    @contextmanager
    def _session(self, read_only: bool) -> Iterator[Session]:
        with open_session(self.scratch_dsn, connect_timeout_s=self.connect_timeout_s, read_only=read_only,
                          statement_timeout_ms=STATEMENT_TIMEOUT_MS, application_name=APPLICATION_NAME) as session:
            yield session

    def _empty(self, when: str) -> EmptyingFact:
        """End the restore sessions a killed run left, drop every schema of the scratch database (CASCADE)
        and the large objects the role owns, recreate ``public`` as PostgreSQL makes it."""
        with self._session(read_only=False) as session:
            if not session.connected:
                return EmptyingFact(when, error=session.connection.error)
            before = session.query(_LEFT)
            schemas = session.query(_SCHEMAS)
            if not schemas.ok:
                return EmptyingFact(when, error=schemas.error)
            names = tuple(str(name) for name in schemas.column("nspname"))
            for statement in [_END_LEFTOVER_SESSIONS, *(f'DROP SCHEMA "{n.replace(chr(34), chr(34) * 2)}" CASCADE' for n in names),
                              "SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE lomowner = "
                              "(SELECT oid FROM pg_roles WHERE rolname = current_user)",
                              "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
                              "GRANT USAGE ON SCHEMA public TO PUBLIC"]:
                done = session.query(statement)
                if not done.ok:
                    return EmptyingFact(when, names, before.value, error=f"{statement}: {done.error}")
            left = session.query(_LEFT)
            return EmptyingFact(when, names, before.value, left.value, error=left.error)

    def _inspect(self) -> tuple[tuple[TableFact, ...], tuple[QueryFact, ...], str | None]:
        with self._session(read_only=True) as session:
            if not session.connected:
                return (), (), session.connection.error
            tables = tuple(_table(session, name) for name in self.section.expect_tables)
            present = session.query("SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL",
                                    (list(MIGRATION_TABLES),))
            migrations = tuple(session.query(MIGRATION_TABLES[name]) for name in present.column("name")) if present.ok else ()
            return tables, migrations, None

    def _run_tool(self, dump: Path, kind: str) -> ToolRun:
        """psql (a plain dump, fed here) or pg_restore (a custom one), on the scratch database, bounded."""
        tool = "psql" if kind == "plain" else "pg_restore"
        binary = shutil.which(tool)
        options = (["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"] if kind == "plain"
                   else ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"])
        command = f"{tool} {' '.join(options)} -d {Target.of(self.scratch_dsn)}"
        if binary is None:
            return ToolRun(command, None, 0, error=f"{tool} not found (Debian: postgresql-client)")
        params = conninfo.conninfo_to_dict(self.scratch_dsn)
        password = params.pop("password", None)  # in the environment, never on a command line
        target = conninfo.make_conninfo(**{k: str(v) for k, v in params.items()}, application_name=APPLICATION_NAME,
                                        connect_timeout=str(self.connect_timeout_s))
        env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
        argv = [binary, *options, "-d", target, *([] if kind == "plain" else [str(dump)])]
        return _bounded(argv, command, env, self.section.restore_timeout_s, feed=dump if kind == "plain" else None)


def _table(session: Session, name: str) -> TableFact:
    found = session.query("SELECT to_regclass(%s)::text", (name,))
    if not found.ok:
        return TableFact(name, False, error=found.error)
    if found.value is None:
        return TableFact(name, False)
    counted = session.query(f"SELECT count(*) FROM (SELECT 1 FROM {found.value} LIMIT {ROW_SAMPLE}) AS sample")
    return TableFact(name, True, counted.value, counted.error)


# ---------------------------------------------------------------------------------------- running the tool

def _bounded(argv: list[str], command: str, env: dict[str, str], timeout_s: float,
             feed: Path | None = None) -> ToolRun:
    """Run ``argv`` (its messages kept; query results thrown away), feeding it ``feed`` (a plain dump, gunzipped on the way);
    killed, with every process it started, at ``timeout_s``, or as soon as the dump turns out
    incomplete (before its transaction is committed)."""
    watch = Stopwatch()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        return ToolRun(command, None, watch.ms(), error=f"cannot start {argv[0]}: {exc.strerror or exc}")
    output = _Tail(process)
    deadline = Deadline(timeout_s, lambda: _kill(process))
    error = None
    with deadline:
        if feed is not None:
            error = _feed(process, feed)
            if error is not None:
                _kill(process)  # before psql reads the end of its input: its transaction is never committed
        exit_code = process.wait()
    output.join()
    for pipe in (process.stdin, process.stderr):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass  # a stdin the killed tool never read
    if deadline.fired:
        error = f"not done within restore_timeout_s = {timeout_s:g} s: killed"
    return ToolRun(command, exit_code, watch.ms(), masker.mask(output.text), error)


def _feed(process: subprocess.Popen[bytes], dump: Path) -> str | None:
    """Stream a plain dump (gunzipped if ``.gz``) into the tool's stdin; why it is incomplete, or None."""
    assert process.stdin is not None
    tail = b""
    opener = gzip.open if dump.name.endswith(".gz") else open
    try:
        with opener(dump, "rb") as source:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                tail = (tail + chunk)[-TAIL:]
                process.stdin.write(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        return "the gzip stream ends early: the dump is truncated" if isinstance(exc, EOFError) else f"unreadable dump: {exc}"
    except BrokenPipeError:
        return None  # the tool stopped reading: its exit code and output say why
    except OSError as exc:
        return f"cannot read {dump.name}: {exc.strerror or exc}"
    if PLAIN_FOOTER not in tail:
        return "the dump has no '-- PostgreSQL database dump complete' footer: it is incomplete"
    try:
        process.stdin.close()
    except BrokenPipeError:
        pass
    return None


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _Tail(threading.Thread):
    """Reads a process's messages (stderr) to their end in the background, keeping the last ``OUTPUT_TAIL`` bytes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        assert process.stderr is not None
        self._fd = process.stderr.fileno()
        self._data = b""
        self.start()

    def run(self) -> None:
        for chunk in iter(partial(os.read, self._fd, 65536), b""):
            self._data = (self._data + chunk)[-OUTPUT_TAIL:]

    @property
    def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")



def from_stack(stack: Stack) -> RestoreProbe:
    """``stack.restore``: the restore test of ``[backups]``: its newest dump into ``restore_into``, guarded
    against ``[database] dsn`` (a profile without ``[database]`` gets a guard that refuses)."""
    backups = stack.section("backups")
    if backups.restore_into is None:
        skips.not_configured(not_configured(stack.env, "[backups] restore_into"))
    database = stack.env.profile.database
    return RestoreProbe(backups, stack.env.resolve_path(backups.dir), database.dsn if database else None,
                        connect_timeout_s=database.connect_timeout_s if database else 5)
