"""The restore probe against a real PostgreSQL 15 (the ``postgres`` fixture): real dumps made with
the real ``pg_dump`` of its ``shop`` database, restored by the real ``psql`` and ``pg_restore`` into
``shop_scratch`` (owned by ``owner``, the scratch role).

Dumps: plain gzipped, plain, custom; truncated (gzip and custom), without its footer, with a
statement that fails, one that takes longer than ``restore_timeout_s``; a scratch database holding a
killed run's leftovers. The guard: the stack's own database by every name (the same DSN, localhost
for 127.0.0.1, another role, the socket; a real PgBouncer alias, caught by asking the servers), no
``[database]``, a stack database that cannot be asked. "Nothing written" is read from the server's
own statement log (``log_statement = all``, the application name in each line).
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from gonogo.sections.backups import BackupsSection
from gonogo.probes.restore import APPLICATION_NAME, RestoreFact, RestoreProbe

if TYPE_CHECKING:
    from conftest import Postgres

TABLES = ["shop_product", "shop_sale", "django_migrations"]


def dump(postgres: Postgres, path: Path, *options: str) -> Path:
    """A real pg_dump of ``shop`` (as ``owner``, ``--no-owner --no-privileges``) into ``path``; gzipped for ``.gz``."""
    done = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", *options, "-d", postgres.dsn("owner")],
                          capture_output=True, check=True, timeout=60)
    path.write_bytes(gzip.compress(done.stdout) if path.name.endswith(".gz") else done.stdout)
    return path


def probe(postgres: Postgres, folder: Path, pattern: str = "shop_*.sql.gz", *, scratch: str | None = None,
          stack: str | None = "default", timeout_s: float = 60, **section: Any) -> RestoreProbe:
    backups = BackupsSection(dir=folder, pattern=pattern, restore_into=SecretStr(scratch or postgres.dsn("owner", "shop_scratch")),
                             expect_tables=section.pop("expect_tables", TABLES), restore_timeout_s=timeout_s, **section)
    stack_dsn = postgres.dsn("reader", "shop") if stack == "default" else stack
    return RestoreProbe(backups, folder, SecretStr(stack_dsn) if stack_dsn else None, connect_timeout_s=2)


def scratch_relations(postgres: Postgres) -> int:
    return int(postgres.admin("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE n.nspname = 'public'", dbname="shop_scratch")[0][0])


def shop_state(postgres: Postgres) -> list[tuple[Any, ...]]:
    """The stack's database, to compare before and after: its tables and their content."""
    return postgres.admin("SELECT relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', relname), "
                          "false, true, '')))[1]::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                          "ORDER BY relname")


_STATEMENT = re.compile(r" (?P<who>\S+@\S+) app=(?P<app>gonogo\S*) LOG:  (?:statement|execute [^:]*): (?P<sql>.*)")


def gonogo_statements(log: str) -> list[tuple[str, str, str]]:
    """(user@database, application, statement) of every statement gonogo's sessions sent."""
    return [(m["who"], m["app"], m["sql"]) for m in map(_STATEMENT.search, log.splitlines()) if m]


def writes(log: str) -> list[tuple[str, str, str]]:
    """gonogo's statements that are not reads (SELECT, SHOW, SET; PgBouncer's DISCARD ALL when a client leaves)."""
    return [s for s in gonogo_statements(log) if not re.match(r"(SELECT|SHOW|SET|DISCARD ALL$)\b", s[2])]


def assert_restored_and_emptied(fact: RestoreFact, postgres: Postgres) -> None:
    assert fact.restored and not fact.guard.refused, fact.evidence()
    assert [t.describe() for t in fact.tables] == ["shop_product: 2 row(s)", "shop_sale: 3 row(s)",
                                                   "django_migrations: 2 row(s)"], fact.evidence()
    assert fact.emptied_after is not None and fact.emptied_after.ok and fact.emptied_after.relations_before, fact.evidence()
    assert scratch_relations(postgres) == 0


def test_a_gzipped_plain_dump_restores_with_psql_and_the_scratch_is_emptied(postgres: Postgres, tmp_path: Path) -> None:
    """Accepting server, a real ``pg_dump | gzip``: restored whole, tables counted, migration state recorded,
    emptied afterwards; every write is on ``shop_scratch``, by ``gonogo-restore``; ``shop`` is unchanged."""
    dump(postgres, tmp_path / "shop_20260101.sql.gz")
    before, offset = shop_state(postgres), postgres.log_size()
    fact = probe(postgres, tmp_path).run()
    log = postgres.log_since(offset)

    assert_restored_and_emptied(fact, postgres)
    assert fact.format == "plain" and fact.run is not None and fact.run.command.startswith(
        "psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d owner@127.0.0.1:")
    assert "another database than [database] dsn: by name and server, and by the servers' own answers" in fact.guard.reason
    assert [q.columns for q in fact.migrations] == [("applied", "last_applied", "last")]
    assert fact.migrations[0].rows[0][0] == 2 and fact.migrations[0].rows[0][2] == "shop.0002_sale"
    evidence = fact.evidence()
    assert "shop_sale: 3 row(s)" in evidence and "migration state:" in evidence and "shop.0002_sale" in evidence
    assert postgres.password not in evidence and postgres.password not in repr(fact)
    assert shop_state(postgres) == before
    written = writes(log)
    assert any(sql.startswith("COPY public.shop_sale") for _, _, sql in written), written
    assert {(who, app) for who, app, _ in written} == {("owner@shop_scratch", APPLICATION_NAME)}, written
    assert {who for who, _, _ in gonogo_statements(log)} == {"owner@shop_scratch", "reader@shop"}


def test_a_plain_dump_restores(postgres: Postgres, tmp_path: Path) -> None:
    dump(postgres, tmp_path / "shop_20260101.sql")

    assert_restored_and_emptied(probe(postgres, tmp_path, "shop_*.sql").run(), postgres)


def test_a_custom_dump_restores_with_pg_restore(postgres: Postgres, tmp_path: Path) -> None:
    dump(postgres, tmp_path / "shop_20260101.dump", "-Fc")
    fact = probe(postgres, tmp_path, "shop_*.dump").run()

    assert_restored_and_emptied(fact, postgres)
    assert fact.format == "custom" and fact.run is not None and fact.run.command.startswith(
        "pg_restore --no-owner --no-privileges --exit-on-error --single-transaction -d owner@")


def test_the_newest_dump_is_the_one_restored(postgres: Postgres, tmp_path: Path) -> None:
    old = tmp_path / "shop_20250101.sql.gz"
    old.write_bytes(gzip.compress(b"this is not SQL;\n"))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    dump(postgres, tmp_path / "shop_20260101.sql.gz")

    fact = probe(postgres, tmp_path).run()
    assert fact.backup is not None and fact.backup.name == "shop_20260101.sql.gz" and fact.restored, fact.evidence()


def test_a_truncated_gzip_dump_fails_is_never_committed_and_the_scratch_is_emptied(postgres: Postgres,
                                                                                  tmp_path: Path) -> None:
    """A dump cut in half (like the sandbox's truncated-backup fault): psql is killed before its
    transaction's COMMIT, whatever it had applied is rolled back, the scratch database ends empty."""
    path = dump(postgres, tmp_path / "shop_20260101.sql.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    offset = postgres.log_size()
    fact = probe(postgres, tmp_path).run()
    log = postgres.log_since(offset)

    assert not fact.restored and fact.run is not None and fact.run.exit_code == -9, fact.evidence()
    assert fact.run.error == "the gzip stream ends early: the dump is truncated"
    assert fact.run.status_text.startswith("the gzip stream ends early: the dump is truncated (after ")
    assert fact.tables == () and fact.emptied_after is not None and fact.emptied_after.ok
    assert scratch_relations(postgres) == 0
    assert [sql for _, _, sql in writes(log) if sql.startswith("BEGIN")] and not [
        sql for _, _, sql in writes(log) if sql.startswith("COMMIT")], writes(log)


def test_a_plain_dump_without_its_footer_is_incomplete(postgres: Postgres, tmp_path: Path) -> None:
    """A plain dump cut at a line boundary (it still parses): without the 'dump complete' footer it is not restored."""
    path = dump(postgres, tmp_path / "shop_20260101.sql")
    text = path.read_text()
    path.write_text(text[: text.index("-- PostgreSQL database dump complete")])
    fact = probe(postgres, tmp_path, "shop_*.sql").run()

    assert not fact.restored and fact.run is not None, fact.evidence()
    assert fact.run.error == "the dump has no '-- PostgreSQL database dump complete' footer: it is incomplete"
    assert fact.emptied_after is not None and fact.emptied_after.ok and scratch_relations(postgres) == 0


def test_a_statement_that_fails_stops_the_restore(postgres: Postgres, tmp_path: Path) -> None:
    """A dump that does not apply (one of its statements fails): ON_ERROR_STOP, exit code 3, the error quoted."""
    path = dump(postgres, tmp_path / "shop_20260101.sql")
    text = path.read_text()
    path.write_text(text.replace("-- PostgreSQL database dump complete",
                                 "SELECT * FROM table_the_dump_forgot;\n-- PostgreSQL database dump complete"))
    fact = probe(postgres, tmp_path, "shop_*.sql").run()

    assert not fact.restored and fact.run is not None and fact.run.exit_code == 3 and fact.run.error is None, fact.evidence()
    assert 'relation "table_the_dump_forgot" does not exist' in fact.run.last_words
    assert fact.run.status_text.startswith("psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d owner@")
    assert scratch_relations(postgres) == 0


def test_a_truncated_custom_dump_fails(postgres: Postgres, tmp_path: Path) -> None:
    path = dump(postgres, tmp_path / "shop_20260101.dump", "-Fc")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    fact = probe(postgres, tmp_path, "shop_*.dump").run()

    assert not fact.restored and fact.run is not None and fact.run.exit_code == 1, fact.evidence()
    assert "pg_restore" in fact.run.status_text and fact.run.last_words != "(no output)"
    assert scratch_relations(postgres) == 0


def test_a_restore_longer_than_its_timeout_is_killed(postgres: Postgres, tmp_path: Path) -> None:
    """A restore that outlasts ``restore_timeout_s`` (a ``pg_sleep`` in the dump stands for a big dump):
    psql is killed at the deadline; the server session it left is ended and the scratch emptied."""
    path = dump(postgres, tmp_path / "shop_20260101.sql")
    text = path.read_text()
    path.write_text(text.replace("-- PostgreSQL database dump complete", "SELECT pg_sleep(60);\n-- PostgreSQL database dump complete"))
    fact = probe(postgres, tmp_path, "shop_*.sql", timeout_s=1.5).run()

    assert fact.run is not None and fact.run.error == "not done within restore_timeout_s = 1.5 s: killed", fact.evidence()
    assert 1.5 < fact.run.elapsed_ms / 1000 < 4
    assert fact.emptied_after is not None and fact.emptied_after.ok, fact.evidence()
    assert fact.elapsed_ms / 1000 < 15
    assert scratch_relations(postgres) == 0


def test_a_killed_runs_leftovers_are_dropped_before_the_restore(postgres: Postgres, tmp_path: Path) -> None:
    postgres.admin("CREATE TABLE public.left_by_a_killed_run (id int); ALTER TABLE public.left_by_a_killed_run OWNER TO owner",
                   dbname="shop_scratch")
    dump(postgres, tmp_path / "shop_20260101.sql.gz")
    fact = probe(postgres, tmp_path).run()

    assert fact.emptied_before is not None and fact.emptied_before.relations_before == 1, fact.evidence()
    assert_restored_and_emptied(fact, postgres)
    assert "left_by_a_killed_run" not in str(fact.tables)


def test_a_missing_table_and_an_empty_one_are_reported(postgres: Postgres, tmp_path: Path) -> None:
    postgres.admin("CREATE TABLE shop_refund (id int); ALTER TABLE shop_refund OWNER TO owner")
    try:
        dump(postgres, tmp_path / "shop_20260101.sql.gz")
    finally:
        postgres.admin("DROP TABLE shop_refund")
    fact = probe(postgres, tmp_path, expect_tables=["shop_sale", "shop_refund", "shop_invoice"]).run()

    assert fact.restored and fact.table_problems == ["shop_refund: no rows", "shop_invoice: missing"], fact.evidence()


def test_no_backup_writes_nothing(postgres: Postgres, tmp_path: Path) -> None:
    offset = postgres.log_size()
    fact = probe(postgres, tmp_path / "no-such-folder").run()

    assert fact.backup is None and fact.listing_error == "the folder does not exist" and not fact.restored
    assert fact.emptied_before is None and fact.emptied_after is None
    assert writes(postgres.log_since(offset)) == []


# ---------------------------------------------------------------------------------------- the guard

def refused_and_nothing_written(postgres: Postgres, tmp_path: Path, reason: str, **options: Any) -> RestoreFact:
    dump(postgres, tmp_path / "shop_20260101.sql.gz")
    before, offset = shop_state(postgres), postgres.log_size()
    fact = probe(postgres, tmp_path, **options).run()
    log = postgres.log_since(offset)

    assert fact.guard.refused and reason in fact.guard.reason, fact.evidence()
    assert fact.run is None and fact.emptied_before is None and fact.emptied_after is None
    assert fact.evidence().endswith("nothing was written")
    assert shop_state(postgres) == before
    assert writes(log) == [], writes(log)
    return fact


@pytest.mark.parametrize("scratch", [
    "postgresql://reader:{pw}@127.0.0.1:{port}/shop",            # the [database] dsn itself
    "postgresql://owner:{pw}@localhost:{port}/shop",              # another role, localhost for 127.0.0.1
    "host={socket} port={port} dbname=shop user=owner",           # the local socket
], ids=["same-dsn", "localhost-other-role", "socket"])
def test_the_guard_refuses_the_stacks_own_database(postgres: Postgres, tmp_path: Path, scratch: str) -> None:
    dsn = scratch.format(pw=postgres.password, port=postgres.port, socket=postgres.socket_dir)
    fact = refused_and_nothing_written(postgres, tmp_path, "the scratch target is the stack's own database (same "
                                       "server, port and database name)", scratch=dsn)
    assert postgres.password not in repr(fact) + fact.evidence()


def test_the_guard_refuses_an_alias_of_the_stacks_database(postgres: Postgres, pgbouncer: Any, tmp_path: Path) -> None:
    """A real PgBouncer names ``shop`` ``store`` on another port: the DSNs differ, the servers' answers
    (server start time, port, database oid) do not."""
    port = pgbouncer("options", {"store": "shop"})
    refused_and_nothing_written(postgres, tmp_path, "the scratch target is the stack's own database under another "
                                "name (the same server", scratch=postgres.dsn("owner", "store", port=port))


def test_the_guard_refuses_without_a_database_to_compare_with(postgres: Postgres, tmp_path: Path) -> None:
    fact = refused_and_nothing_written(postgres, tmp_path, "no [database] dsn to compare with", stack=None)
    assert fact.guard.stack is None


def test_the_guard_refuses_when_the_stacks_database_cannot_be_asked(postgres: Postgres, tmp_path: Path) -> None:
    refused_and_nothing_written(postgres, tmp_path, "the stack's database could not be asked which database it is",
                                stack=postgres.dsn("reader", "shop", password="wrong-password"))


def test_the_guard_refuses_when_the_scratch_database_cannot_be_asked(postgres: Postgres, tmp_path: Path) -> None:
    refused_and_nothing_written(postgres, tmp_path, "the scratch database could not be asked which database it is",
                                scratch=postgres.dsn("owner", "no_such_database"))


# ---------------------------------------------------------------------------------------- end to end

REPO = Path(__file__).resolve().parents[2]
CHECKS = {name: (REPO / "checks" / name).read_text() for name in ("test_database.py", "test_restore.py")}
PROFILE = """
[environment]
release = "1.4.2"

[database]
dsn = "${STACK_DSN}"
connect_timeout_s = 2

[backups]
dir = "../backups"
pattern = "shop_*.sql.gz"
restore_into = "${SCRATCH_DSN}"
expect_tables = ["shop_product", "shop_sale", "django_migrations"]
"""


def gate_run(run_gate: Any, pytester: pytest.Pytester, postgres: Postgres, phases: str, *, scratch: str) -> Any:
    """The real checks/test_database.py and checks/test_restore.py, in a pytest run of their own."""
    (pytester.path / "backups").mkdir(exist_ok=True)
    dump(postgres, pytester.path / "backups" / "shop_20260101.sql.gz")
    return run_gate(CHECKS, "-m", phases, profile=PROFILE,
                    environ={"STACK_DSN": postgres.dsn("reader", "shop"), "SCRATCH_DSN": scratch})


def test_the_gate_restores_in_the_rollback_phase(run_gate: Any, pytester: pytest.Pytester, postgres: Postgres) -> None:
    run = gate_run(run_gate, pytester, postgres, "rollback", scratch=postgres.dsn("owner", "shop_scratch"))

    assert run.gate["verdict"] == "GO" and run.ret == 0, run.out
    assert run.gate["counts"]["passed"] == run.gate["counts"]["selected"] == 3, run.gate["counts"]
    assert scratch_relations(postgres) == 0


def test_before_a_deploy_the_restore_is_not_applicable_unless_asked(run_gate: Any, pytester: pytest.Pytester,
                                                                    postgres: Postgres) -> None:
    run = gate_run(run_gate, pytester, postgres, "predeploy", scratch=postgres.dsn("owner", "shop_scratch"))

    assert run.gate["verdict"] == "GO", run.out
    skipped = {e["id"]: (e["status"], e["reason"]) for e in run.gate["skipped"]}
    assert skipped["restore.backup_restores"] == (
        "not-applicable", "the restore runs in the rollback phase; [backups] restore_before_deploy = true runs it "
                          "before a deploy too"), skipped
    # the database's own checks pass: its connection, its read-only session, and NPR-7's four on other sessions
    assert run.gate["counts"]["passed"] == 6 and run.gate["counts"]["not_applicable"] == 3, run.gate["counts"]


def test_restore_into_the_stacks_own_database_is_a_clear_refusal_and_no_go(run_gate: Any, pytester: pytest.Pytester,
                                                                          postgres: Postgres) -> None:
    """``restore_into`` = the ``[database] dsn``: NO-GO, exit 1, the guard's reason, nothing written."""
    before, offset = shop_state(postgres), postgres.log_size()
    run = gate_run(run_gate, pytester, postgres, "rollback", scratch=postgres.dsn("reader", "shop"))

    assert run.gate["verdict"] == "NO-GO" and run.ret == 1, run.out
    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert failed == {"restore.backup_restores":
                      "restore target: expected a scratch database that is not the stack's own, got refused: the "
                      "scratch target is the stack's own database (same server, port and database name): nothing is "
                      "restored"}, run.gate
    skipped = {e["id"]: e["status"] for e in run.gate["skipped"]}
    assert skipped == {"restore.expected_tables": "dependent", "restore.scratch_emptied": "dependent"}
    assert shop_state(postgres) == before and writes(postgres.log_since(offset)) == []
    assert postgres.password not in run.out + run.err + (run.gate_text or "")
