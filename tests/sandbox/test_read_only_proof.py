"""Proof, from the sandbox PostgreSQL's own statement log, that gonogo writes nothing to the stack's database.

For this test the server logs every statement (``ALTER SYSTEM SET log_statement = 'all'``, reset
afterwards), each line naming its user, database and application (``log_line_prefix`` with ``%u``,
``%d`` and ``%a``: sandbox/postgres.py). A whole ``pytest -m "predeploy or postdeploy or rollback"
--env sandbox`` runs (every subject, not ``--partial``), then the log of that run is read:

- gonogo's sessions (application ``gonogo``, ``gonogo-restore``) sent statements to ``boutique``
  (the stack's database) and the restore wrote to ``boutique_restore_scratch`` (so the log saw them);
- not one statement of theirs that is not a read (``SELECT``/``SHOW``/... without a write word)
  reached any database but the scratch one.

The classification is an allow-list (a statement is a read only if it starts like one and names no
write anywhere), and it is shown to catch writes: the positive controls are a session named
``gonogo`` writing to a throwaway database, and gonogo's own read-only probe trying to INSERT into
``boutique`` (the server refuses it, but the log has the attempt).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from pydantic import SecretStr

from gonogo.probes.database import DatabaseProbe
from gonogo.sections.database import DatabaseSection

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
STACK_DB = "boutique"
SCRATCH_DB = "boutique_restore_scratch"
CONTROL_DB = "gonogo_proof_control"

# -------------------------------------------------------------------------------------- the log

#: ``%m [%p] %u@%d app=%a `` then the message: ``LOG:  statement: ...`` or ``LOG:  execute <name>: ...``
_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] (?P<user>[^@\s]*)@(?P<db>\S*) "
                    r"app=(?P<app>.*?) (?P<level>[A-Z]+):  (?P<text>.*)$")
_STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (?P<sql>.*)$", re.S)
#: how a read starts
_READ_START = re.compile(r"^\s*(SELECT|SHOW|SET|RESET|BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|END|VALUES|TABLE|"
                         r"WITH|EXPLAIN|FETCH|DECLARE|CLOSE|DEALLOCATE|DISCARD)\b", re.I)
#: words that make any statement a (possible) write, wherever they stand outside a string literal
_WRITE_WORD = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|CREATE|ALTER|DROP|GRANT|REVOKE|COMMENT|"
                         r"VACUUM|ANALYZE|REINDEX|CLUSTER|LOCK|REFRESH|CALL|DO|IMPORT|SECURITY\s+LABEL|INTO|"
                         r"nextval|setval|lo_\w+|pg_advisory\w*|pg_terminate_backend|pg_cancel_backend|"
                         r"pg_reload_conf|set_config|pg_switch_wal|txid_current|pg_current_xact_id)\b", re.I)
_LITERAL = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class Statement:
    user: str
    database: str
    application: str
    sql: str

    @property
    def is_write(self) -> bool:
        """Not provably a read: it does not start like one, or names a write outside string literals."""
        bare = _LITERAL.sub("''", self.sql)
        return not _READ_START.match(bare) or bool(_WRITE_WORD.search(bare))

    def __str__(self) -> str:
        return f"{self.user}@{self.database} app={self.application}: {' '.join(self.sql.split())[:200]}"


def statements(log: str) -> list[Statement]:
    """Every statement the server logged (an entry continues on the lines that do not start one)."""
    entries: list[dict[str, str]] = []
    for line in log.splitlines():
        match = _ENTRY.match(line)
        if match:
            entries.append(match.groupdict())
        elif entries:
            entries[-1]["text"] += "\n" + line
    found = []
    for entry in entries:
        statement = _STATEMENT.match(entry["text"]) if entry["level"] == "LOG" else None
        if statement:
            found.append(Statement(entry["user"], entry["db"], entry["app"], statement["sql"]))
    return found


def gonogos(log: str) -> list[Statement]:
    return [s for s in statements(log) if s.application.startswith("gonogo")]


def test_the_classification() -> None:
    """Reads, writes, and writes hidden behind a read's first word."""
    def classify(sql: str) -> bool:
        return Statement("u", "d", "gonogo", sql).is_write

    assert not classify("SELECT current_setting('transaction_read_only'), 'DROP TABLE x'")
    assert not classify("SHOW transaction_read_only") and not classify("SELECT count(*) FROM shop_product")
    for sql in ("INSERT INTO t VALUES (1)", "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
                "SELECT * INTO t2 FROM t", "SELECT nextval('s')", "COPY t FROM stdin", "CREATE TABLE t (id int)",
                "update t set a = 1", "DO $$BEGIN PERFORM 1; END$$", "VACUUM t", "SELECT lo_unlink(1)"):
        assert classify(sql), sql


# -------------------------------------------------------------------------------------- the server

class StatementLog:
    """The sandbox server's log, with every statement logged while the context is open."""

    def __init__(self, sb: Sandbox) -> None:
        from sandbox.state import Paths

        self.paths = Paths(sb.state_dir)
        self.port = sb.values["SANDBOX_PG_PORT"]
        self.file = self.paths.log("postgres")

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host=str(self.paths.pg_socket_dir), port=self.port, user="postgres", dbname=dbname,
                               autocommit=True, connect_timeout=5)

    def _set(self, statement: str, expect: str) -> None:
        with self.superuser() as conn:
            conn.execute(statement.encode())
            conn.execute(b"SELECT pg_reload_conf()")
        # the postmaster re-reads its configuration when signalled: a new session sees it once it has
        for _ in range(200):
            with self.superuser() as conn:
                if conn.execute(b"SHOW log_statement").fetchone() == (expect,):
                    return
        raise AssertionError(f"log_statement never became {expect}")

    def __enter__(self) -> StatementLog:
        self._set("ALTER SYSTEM SET log_statement = 'all'", "all")
        return self

    def __exit__(self, *exc: object) -> None:
        self._set("ALTER SYSTEM RESET log_statement", "none")

    def size(self) -> int:
        return self.file.stat().st_size

    def since(self, offset: int) -> str:
        with self.file.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")


@pytest.fixture
def statement_log(sandbox: Sandbox) -> Iterator[StatementLog]:
    with StatementLog(sandbox) as log:
        yield log


# -------------------------------------------------------------------------------------- the proof

def test_a_whole_run_writes_nothing_to_the_stacks_database(sandbox: Sandbox, statement_log: StatementLog,
                                                          tmp_path: Path) -> None:
    offset = statement_log.size()
    gate_file = tmp_path / "gate.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "predeploy or postdeploy or rollback", "--env", "sandbox", "-n", "2",
         "-p", "no:cacheprovider", f"--gate-file={gate_file}", f"--alluredir={tmp_path / 'allure'}"],
        cwd=REPO, env=sandbox.env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    log = statement_log.since(offset)
    gate = json.loads(gate_file.read_text())

    ours = gonogos(log)
    # the run did what the proof is about: database checks on the stack's database, a restore into the scratch one
    assert any(s.database == STACK_DB and s.application == "gonogo" for s in ours), proc.stdout[-3000:]
    scratch_writes = [s for s in ours if s.database == SCRATCH_DB and s.is_write]
    assert any(s.sql.startswith("COPY public.shop_product") for s in scratch_writes), [str(s) for s in ours]
    assert {s.application for s in scratch_writes} == {"gonogo-restore"}
    # and nothing else: no write by gonogo anywhere but the scratch database
    elsewhere = [str(s) for s in ours if s.is_write and s.database != SCRATCH_DB]
    assert elsewhere == [], elsewhere
    # the checks that made those sessions ran to a pass
    not_passed = [e["id"] for key in ("failed", "errored", "skipped", "not_run") for e in gate[key]
                  if e["id"].split(".")[0] in ("database", "restore")]
    assert not_passed == [] and gate["phases"] == ["predeploy", "postdeploy", "rollback"], gate


def test_the_log_catches_a_write(sandbox: Sandbox, statement_log: StatementLog) -> None:
    """Positive controls, read from the same log the same way: a session named gonogo writing to a
    throwaway database, and gonogo's read-only probe trying to write to the stack's database."""
    offset = statement_log.size()
    with statement_log.superuser() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {CONTROL_DB}".encode())
        conn.execute(f"CREATE DATABASE {CONTROL_DB}".encode())
    try:
        with psycopg.connect(host=str(statement_log.paths.pg_socket_dir), port=statement_log.port, user="postgres",
                             dbname=CONTROL_DB, application_name="gonogo", autocommit=True) as conn:
            conn.execute(b"CREATE TABLE scratch_control (id int)")
            conn.execute("INSERT INTO scratch_control VALUES (%s)", (1,))
        probe = DatabaseProbe(DatabaseSection(dsn=SecretStr(sandbox.values["DATABASE_URL_READONLY"])))
        refused = probe.query("INSERT INTO shop_product (sku, name, price, stock) VALUES (%s, %s, 1, 1)",
                              ("PROOF-1", "proof"))
    finally:
        with statement_log.superuser() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {CONTROL_DB}".encode())
    log = statement_log.since(offset)

    assert not refused.ok and "read-only transaction" in (refused.error or ""), refused
    caught = [(s.database, s.sql.split()[0].upper()) for s in gonogos(log) if s.is_write]
    assert caught == [(CONTROL_DB, "CREATE"), (CONTROL_DB, "INSERT"), (STACK_DB, "INSERT")], caught
