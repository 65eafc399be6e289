"""The migrations probe against real components: a throwaway PostgreSQL 15 (tests/probes/pg.py) holding
each tool's table as the tool lays it out, real Alembic script directories read with Alembic's own
ScriptDirectory and RevisionMap (revisions, a branch with two heads, an env.py that must never run, an
alembic.ini, revisions importing libraries the gate lacks, compared with Alembic itself importing them),
a real ``prisma/migrations`` folder, real Django source trees (a folder and its .tar.gz), and a real
Django project whose ``showmigrations`` runs on the gate's host (``host = true``). The database
stopped, refusing, hanging and refusing the password is a fact in bounded time. The real
``checks/test_migrations.py`` runs end to end through pytester on the same database: a missing table
(a DSN naming the wrong, empty database) fails unless a first deploy says so, and so does no Alembic
head; Django on the host judges without [docker]. Django's ``showmigrations`` in a container runs in the
sandbox's: tests/sandbox/test_probe_migrations.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import py_compile
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg import PASSWORD, Postgres, free_port, throwaway_postgres
from pydantic import SecretStr, ValidationError

from gonogo.probes.database import DatabaseProbe
from gonogo.sections.database import DatabaseSection
from gonogo.probes.migrations import MigrationsProbe, MigrationState, parse_showmigrations
from gonogo.sections.migrations import MigrationsConfig

CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_migrations.py"
SLACK_S = 1.5  # what a bounded call may take beyond its timeout


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    with throwaway_postgres() as server:
        yield server


@pytest.fixture
def db(pg: Postgres, request: pytest.FixtureRequest) -> str:
    """A fresh database for this test; the DSN of the read-only ``reader`` role on it."""
    return pg.database("t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12])


def dbname(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1]


def state(tool: str, dsn: str, phase: str = "postdeploy", **config: Any) -> MigrationState:
    db = DatabaseProbe(DatabaseSection(dsn=SecretStr(dsn), connect_timeout_s=2, statement_timeout_ms=2000))
    return MigrationsProbe(MigrationsConfig(tool=tool, **config), db, Path("/")).state(phase)


# ------------------------------------------------------------------------------------ Alembic

REVISION = '''\
"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-11-20 10:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down_value}
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("{table}")
'''

# A real env.py reads the URL from the config and connects; this one also says whether it ran.
ENV_PY = '''\
from pathlib import Path
from alembic import context
print("connecting to", context.config.get_main_option("sqlalchemy.url"))
Path(__file__).with_name("ENV_PY_RAN").write_text("env.py ran")
raise SystemExit("env.py must never run in a gate")
'''

BASE, USERS, ORDERS, REFUNDS = "1a2b3c4d5e6f", "2b3c4d5e6f70", "3c4d5e6f7081", "4d5e6f708192"


def alembic_dir(root: Path, revisions: dict[str, str | None]) -> Path:
    """A script directory: env.py, script.py.mako and one file per revision (rev -> down revision)."""
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV_PY)
    (root / "script.py.mako").write_text("# template\n")
    for index, (rev, down) in enumerate(revisions.items()):
        text = REVISION.format(message=f"step {index}", rev=rev, down=down or "", table=f"t{index}",
                               down_value=repr(down))
        (root / "versions" / f"{rev}_step_{index}.py").write_text(text)
    return root


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """base -> users -> orders: one head."""
    return alembic_dir(tmp_path / "migrations", {BASE: None, USERS: BASE, ORDERS: USERS})


def stamp(pg: Postgres, dsn: str, *revisions: str, table: str = "alembic_version") -> None:
    """alembic_version as Alembic creates it, holding ``revisions``."""
    pg.admin(f"CREATE TABLE {table} (version_num VARCHAR(32) NOT NULL, "
             f"CONSTRAINT {table.replace('.', '_')}_pkc PRIMARY KEY (version_num))", dbname=dbname(dsn))
    for rev in revisions:
        pg.admin(f"INSERT INTO {table} VALUES (%s)", dbname=dbname(dsn), params=(rev,))


@pytest.mark.parametrize(("stamped", "pending"), [
    ((ORDERS,), ()),
    ((BASE,), (USERS, ORDERS)),
    ((), (BASE, USERS, ORDERS)),
])
def test_alembic_at_head_behind_and_empty(pg, db, scripts, stamped, pending):
    stamp(pg, db, *stamped)

    fact = state("alembic", db, "predeploy", scripts=scripts)

    assert fact.error is None, fact.evidence()
    assert (fact.pending, fact.unknown, fact.release.heads) == (pending, (), (ORDERS,)), fact.evidence()
    assert fact.database.applied == stamped and fact.database.exists
    assert fact.release.names == (BASE, USERS, ORDERS)
    said = f"the deploy will apply {len(pending)}: {', '.join(pending)}" if pending else "the deploy will apply nothing"
    assert said in fact.evidence()


def test_alembic_without_its_table_says_where_it_looked(db, scripts):
    """An absent table is a fact, with the database and schemas it was looked for in (the check judges it)."""
    fact = state("alembic", db, scripts=scripts)

    assert fact.error is None and not fact.database.exists, fact.evidence()
    assert fact.pending == (BASE, USERS, ORDERS)
    assert (fact.database.database, fact.database.schemas) == (dbname(db), ("public",))
    assert f"table alembic_version: absent from database {dbname(db)} (schemas searched: public)" in fact.evidence()


def test_alembic_empty_versions_folder_has_no_head(db, tmp_path):
    fact = state("alembic", db, scripts=alembic_dir(tmp_path / "empty", {}))

    assert fact.error is None and fact.release.names == () and fact.release.heads == (), fact.evidence()


def test_alembic_revision_the_scripts_do_not_know(pg, db, scripts):
    stamp(pg, db, "9f9f9f9f9f9f")

    fact = state("alembic", db, scripts=scripts)

    assert fact.unknown == ("9f9f9f9f9f9f",), fact.evidence()
    assert "--- applied, unknown to the release (1) ---\n9f9f9f9f9f9f" in fact.evidence()


def test_alembic_two_heads(pg, db, tmp_path):
    branched = alembic_dir(tmp_path / "branched", {BASE: None, USERS: BASE, ORDERS: USERS, REFUNDS: USERS})
    stamp(pg, db, USERS)

    fact = state("alembic", db, scripts=branched)

    assert sorted(fact.release.heads) == sorted([ORDERS, REFUNDS]), fact.evidence()
    assert set(fact.pending) == {ORDERS, REFUNDS}


def test_alembic_merged_branches_and_two_rows(pg, db, tmp_path):
    """alembic_version holds one row per applied branch head; a merge revision has two down revisions."""
    root = alembic_dir(tmp_path / "merged", {BASE: None, USERS: BASE, ORDERS: BASE})
    merge = REVISION.format(message="merge", rev="5e6f708192a3", down=f"{USERS}, {ORDERS}", table="m",
                            down_value=repr((USERS, ORDERS)))
    (root / "versions" / "5e6f708192a3_merge.py").write_text(merge)
    stamp(pg, db, USERS, ORDERS)

    fact = state("alembic", db, scripts=root)

    assert fact.release.heads == ("5e6f708192a3",) and fact.pending == ("5e6f708192a3",), fact.evidence()


def test_alembic_never_runs_env_py_nor_writes_into_the_release(pg, db, scripts):
    stamp(pg, db, ORDERS)

    fact = state("alembic", db, scripts=scripts)

    assert fact.error is None, fact.evidence()
    assert not (scripts / "ENV_PY_RAN").exists()
    assert not list(scripts.rglob("__pycache__")), "reading the revisions wrote bytecode into the release"


def test_alembic_ini_names_the_script_directory(pg, db, tmp_path, scripts):
    """An alembic.ini with its usual keys (the URL with a password too): only the script location is used."""
    ini = tmp_path / "alembic.ini"
    ini.write_text(textwrap.dedent("""\
        [alembic]
        script_location = %(here)s/migrations
        prepend_sys_path = /nonexistent/app
        path_separator = os
        sqlalchemy.url = postgresql://app:ini-password-123@db/app
    """))
    stamp(pg, db, USERS)
    before = list(sys.path)

    fact = state("alembic", db, scripts=ini)

    assert fact.pending == (ORDERS,) and fact.release.source.endswith(f"(from {ini})"), fact.evidence()
    assert sys.path == before, "reading the scripts changed the gate's sys.path"
    assert "ini-password-123" not in fact.evidence()


@pytest.mark.parametrize(("breakage", "said"), [
    (lambda root: (root / "versions" / f"{USERS}_step_1.py").write_text("revision = (\n"), "SyntaxError"),
    (lambda root: (root / "versions" / f"{USERS}_step_1.py").write_text(
        REVISION.format(message="x", rev=USERS, down="0000", table="x", down_value=repr("000000000000"))),
     "000000000000"),
])
def test_alembic_scripts_that_cannot_be_read(pg, db, scripts, breakage, said):
    breakage(scripts)
    stamp(pg, db, BASE)

    fact = state("alembic", db, scripts=scripts)

    assert fact.error is not None and said in fact.error, fact.evidence()
    assert fact.pending == () and "not read" in repr(fact)


def test_alembic_missing_script_directory(db, tmp_path):
    fact = state("alembic", db, scripts=tmp_path / "nowhere")

    assert fact.error == f"the release's migrations: {tmp_path / 'nowhere'} does not exist", fact.evidence()


def test_alembic_table_in_another_schema(pg, db, scripts):
    pg.admin("CREATE SCHEMA audit", dbname=dbname(db))
    stamp(pg, db, BASE, table="audit.alembic_version")

    fact = state("alembic", db, scripts=scripts, table="audit.alembic_version")

    assert fact.database.exists and fact.pending == (USERS, ORDERS), fact.evidence()


# Alembic's own template (1.13+), as a SQLModel/GeoAlchemy2 application's revisions are written: they import
# the application's libraries, which the gate does not have, and annotate their identifiers.
APP_REVISION = '''\
"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-11-20 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
{imports}

# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = {labels!r}
depends_on: Union[str, Sequence[str], None] = {depends!r}


def upgrade() -> None:
    op.create_table("{message}", sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False))


def downgrade() -> None:
    op.drop_table("{message}")
'''
MISSING = ("sqlmodel", "geoalchemy2", "app")  # none of them is installed where the gate runs
SQLMODEL, GEO, APP = "import sqlmodel.sql.sqltypes", "from geoalchemy2 import Geometry", "from app.models import Invoice"
R1, R2, R3, R4, R5, R6 = ("0a1b2c3d4e5f", "1b2c3d4e5f60", "2c3d4e5f6071", "3d4e5f607182", "4e5f60718293",
                          "5f6071829304")


def app_revisions(root: Path) -> Path:
    """An application's script directory and its alembic.ini with two version locations (the second read
    recursively): R1 -> R2 -> R4 (depends on the billing branch) and R1 -> R3 (branch "billing"), merged by
    R5 (a plain tuple, not annotated); R6, the root of an "audit" branch in the second location: two heads,
    R5 and R6. versions/__init__.py imports the application too: Alembic never loads it."""
    scripts = root / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (root / "audit" / "2026").mkdir(parents=True)
    (scripts / "env.py").write_text(ENV_PY)
    (scripts / "versions" / "__init__.py").write_text("import app.models\n")
    (scripts / "versions" / "README").write_text("revisions live here\n")
    entries = [
        (scripts / "versions", R1, None, None, None, SQLMODEL),
        (scripts / "versions", R2, R1, None, None, f"{SQLMODEL}\n{GEO}"),
        (scripts / "versions", R3, R1, ("billing",), None, f"{SQLMODEL}\n{APP}"),
        (scripts / "versions", R4, R2, None, "billing", SQLMODEL),
        (root / "audit" / "2026", R6, None, "audit", None, f"{SQLMODEL}\n{APP}"),
    ]
    for folder, rev, down, labels, depends, imports in entries:
        (folder / f"{rev}_step.py").write_text(APP_REVISION.format(message=f"t_{rev}", rev=rev, down=down,
                                                                   labels=labels, depends=depends, imports=imports))
    merge = APP_REVISION.format(message="merge", rev=R5, down=(R4, R3), labels=None, depends=None, imports=SQLMODEL)
    (scripts / "versions" / f"{R5}_merge.py").write_text(
        merge.replace(f"down_revision: Union[str, Sequence[str], None] = {(R4, R3)!r}", f"down_revision = {(R4, R3)!r}"))
    (root / "alembic.ini").write_text(textwrap.dedent("""\
        [alembic]
        script_location = %(here)s/migrations
        version_locations = %(here)s/migrations/versions %(here)s/audit
        path_separator = space
        recursive_version_locations = true
        prepend_sys_path = .
        sqlalchemy.url = postgresql://app:ini-password-123@db/app
    """))
    return root / "alembic.ini"


ALEMBIC_ITSELF = '''\
import json, sys
from alembic.config import Config
from alembic.script import ScriptDirectory
script = ScriptDirectory.from_config(Config(sys.argv[1]))
revisions = list(reversed(list(script.walk_revisions())))
print(json.dumps({"names": [r.revision for r in revisions], "heads": list(script.get_heads()),
                  "parents": {r.revision: list(r._normalized_down_revisions) for r in revisions}}))
'''


def alembic_itself(ini: Path, stubs: Path | None) -> subprocess.CompletedProcess[str]:
    """Alembic's own reading of the scripts, importing each revision, in a separate Python (``stubs`` on its path:
    empty stand-ins of the application's libraries, so that the imports succeed there)."""
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(stubs) if stubs else ""}
    return subprocess.run([sys.executable, "-c", ALEMBIC_ITSELF, str(ini)], capture_output=True, text=True,
                          timeout=60, env=environ, stdin=subprocess.DEVNULL)


def stand_ins(root: Path) -> Path:
    for name, text in {"sqlmodel/__init__.py": "", "sqlmodel/sql/__init__.py": "",
                       "sqlmodel/sql/sqltypes.py": "AutoString = str\n", "geoalchemy2/__init__.py": "Geometry = 1\n",
                       "app/__init__.py": "", "app/models.py": "Invoice = 1\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_alembic_revisions_that_import_what_the_gate_lacks(pg, db, tmp_path):
    """The revisions import SQLModel, GeoAlchemy2 and the application: read without importing them, with the
    revisions, order, heads and parents Alembic itself finds when those imports succeed."""
    assert all(importlib.util.find_spec(name) is None for name in MISSING), "the test needs them missing"
    ini = app_revisions(tmp_path / "release")
    stamp(pg, db, R2, R6)
    before = list(sys.path)

    fact = state("alembic", db, "predeploy", scripts=ini)

    assert fact.error is None, fact.evidence()
    importing = alembic_itself(ini, None)
    assert importing.returncode == 1 and "No module named 'sqlmodel'" in importing.stderr, importing.stderr
    itself = json.loads(alembic_itself(ini, stand_ins(tmp_path / "stubs")).stdout)
    assert list(fact.release.names) == itself["names"] and len(itself["names"]) == 6
    assert sorted(fact.release.heads) == sorted(itself["heads"]) == sorted([R5, R6])
    assert {rev: sorted(p) for rev, p in fact.release.parents.items()} == {  # depends_on counts: R4 after R3
        rev: sorted(p) for rev, p in itself["parents"].items()} and sorted(itself["parents"][R4]) == sorted([R2, R3])
    assert fact.pending == tuple(r for r in itself["names"] if r in (R3, R4, R5)) and fact.unknown == ()
    assert f"; heads: {', '.join(fact.release.heads)}" in fact.evidence()
    assert sys.path == before and "ini-password-123" not in fact.evidence()
    assert not list((tmp_path / "release").rglob("__pycache__")) and not (tmp_path / "release" / "ENV_PY_RAN").exists()


@pytest.mark.parametrize(("line", "name"), [
    ("revision = make_revision_id()", "revision"),
    (f"PREVIOUS = {BASE!r}\ndown_revision = PREVIOUS", "down_revision"),
    ("branch_labels: tuple[str, ...] = tuple(['billing'])", "branch_labels"),
    (f"depends_on = f'{BASE}'", "depends_on"),
    (f"revision, down_revision = {USERS!r}, {BASE!r}", "revision"),
    (f"down_revision = ({BASE!r}, 1)", "down_revision"),
    ("revision += 'ff'", "revision"),
])
def test_alembic_identifiers_that_are_computed(db, scripts, line, name):
    """An identifier that is not a literal cannot be read without running the file: a clear failure naming both."""
    path = scripts / "versions" / f"{USERS}_step_1.py"
    text = path.read_text()
    path.write_text(text.replace(f'down_revision = {BASE!r}\n', "").replace(
        f'revision = "{USERS}"', f'revision = "{USERS}"\ndown_revision = {BASE!r}\n{line}'))

    fact = state("alembic", db, scripts=scripts)

    assert fact.release.error is not None and fact.release.error.startswith(
        f"{path}: {name} is not a literal string, tuple of strings or None (line "), fact.evidence()
    assert fact.release.error.endswith("gonogo reads a revision's identifiers without running it")


@pytest.mark.parametrize(("text", "said"), [
    (f"down_revision = {BASE!r}\n", ": no module-level revision = \"...\": is it a revision file?"),
    (f"revision = {USERS!r}\nif True:\n    down_revision = {BASE!r}\n", ": no module-level down_revision (None for a first revision)"),
    (f"revision = 'a-b'\ndown_revision = {BASE!r}\n", ": Character(s) '-' not allowed in revision identifier 'a-b'"),
    ("revision = (\n", ": SyntaxError: '(' was never closed (line 1)"),
])
def test_alembic_files_that_are_no_revision(db, scripts, text, said):
    path = scripts / "versions" / f"{USERS}_step_1.py"
    path.write_text(text)

    fact = state("alembic", db, scripts=scripts)

    assert fact.release.error == f"{path}{said}", fact.evidence()


def test_alembic_sourceless_revisions(pg, db, tmp_path, scripts):
    """``sourceless = true``: a compiled revision beside its source is skipped (the source is read), one without
    its source cannot be read without running it, and says so."""
    for path in (scripts / "versions").glob("*.py"):
        py_compile.compile(str(path), cfile=str(path.with_suffix(".pyc")), doraise=True)
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {scripts}\nsourceless = true\n")
    stamp(pg, db, USERS)

    both = state("alembic", db, scripts=ini)
    (scripts / "versions" / f"{ORDERS}_step_2.py").unlink()
    compiled_only = state("alembic", db, scripts=ini)

    assert both.error is None and both.pending == (ORDERS,), both.evidence()
    assert compiled_only.release.error == (
        f"{scripts / 'versions' / f'{ORDERS}_step_2.pyc'}: a compiled revision without its source (sourceless = true): "
        "gonogo reads a revision's source and never runs it; ship the .py files"), compiled_only.evidence()


# ------------------------------------------------------------------------------------ Prisma

# Prisma's own DDL for PostgreSQL (what `prisma migrate deploy` creates)
PRISMA_TABLE = '''
CREATE TABLE "_prisma_migrations" (
    "id" VARCHAR(36) NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "_prisma_migrations_pkey" PRIMARY KEY ("id")
)'''
FAILED_LOGS = ('Migration name: 20261102090000_add_orders\n\nDatabase error code: 42P07\n\nDatabase error:\n'
               'ERROR: relation "Order" already exists\n')
MIGRATIONS = ("20261101080000_init", "20261102090000_add_orders", "20261103100000_add_refunds")


@pytest.fixture
def prisma(tmp_path: Path) -> Path:
    """prisma/migrations/<timestamp>_<name>/migration.sql and the migration_lock.toml beside them."""
    root = tmp_path / "prisma" / "migrations"
    for name in MIGRATIONS:
        (root / name).mkdir(parents=True)
        (root / name / "migration.sql").write_text(f'-- CreateTable\nCREATE TABLE "{name}" ("id" SERIAL);\n')
    (root / "migration_lock.toml").write_text('provider = "postgresql"\n')
    return root


def checksum(prisma: Path, name: str) -> str:
    return hashlib.sha256((prisma / name / "migration.sql").read_bytes()).hexdigest()


def attempt(pg: Postgres, dsn: str, prisma: Path, name: str, *, minute: int, finished: bool = True,
            logs: str | None = None, rolled_back: bool = False, steps: int = 1, sum_of: str | None = None) -> None:
    """One row of _prisma_migrations, as `migrate deploy` (or `migrate resolve`) leaves it."""
    pg.admin("INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, "
             "started_at, applied_steps_count) VALUES (gen_random_uuid()::text, %s, "
             "CASE WHEN %s THEN %s::timestamptz + interval '1 second' END, %s, %s, "
             "CASE WHEN %s THEN %s::timestamptz + interval '2 seconds' END, %s::timestamptz, %s)",
             dbname=dbname(dsn), params=(sum_of or checksum(prisma, name), finished, f"2026-11-20 10:{minute:02d}:00+00",
                                     name, logs, rolled_back, f"2026-11-20 10:{minute:02d}:00+00",
                                     f"2026-11-20 10:{minute:02d}:00+00", steps))


@pytest.fixture
def prisma_db(pg: Postgres, db: str) -> str:
    pg.admin(PRISMA_TABLE, dbname=dbname(db))
    return db


def test_prisma_all_applied(pg, prisma_db, prisma):
    for minute, name in enumerate(MIGRATIONS):
        attempt(pg, prisma_db, prisma, name, minute=minute)

    fact = state("prisma", prisma_db, scripts=prisma)

    assert fact.error is None, fact.evidence()
    assert (fact.pending, fact.unknown, fact.failed, fact.modified) == ((), (), (), ())
    assert fact.database.applied == MIGRATIONS and fact.release.names == MIGRATIONS


def test_prisma_a_failed_migration(pg, prisma_db, prisma):
    attempt(pg, prisma_db, prisma, MIGRATIONS[0], minute=0)
    attempt(pg, prisma_db, prisma, MIGRATIONS[1], minute=1, finished=False, logs=FAILED_LOGS, steps=0)

    fact = state("prisma", prisma_db, "predeploy", scripts=prisma)

    [failed] = fact.failed
    assert failed.startswith(f"{MIGRATIONS[1]}: failed (started 2026-11-20T10:01:00+00:00, 0 step(s) applied): "
                             "Migration name: "), failed
    assert fact.pending == MIGRATIONS[1:] and fact.reasons == {MIGRATIONS[1]: "failed"}, fact.evidence()
    assert f"the deploy will apply 2: {MIGRATIONS[1]} (failed), {MIGRATIONS[2]}" in fact.evidence()


def test_prisma_a_migration_not_finished(pg, prisma_db, prisma):
    attempt(pg, prisma_db, prisma, MIGRATIONS[0], minute=0)
    attempt(pg, prisma_db, prisma, MIGRATIONS[1], minute=1)
    attempt(pg, prisma_db, prisma, MIGRATIONS[2], minute=2, finished=False, steps=0)

    fact = state("prisma", prisma_db, scripts=prisma)

    assert fact.failed == (f"{MIGRATIONS[2]}: unfinished (started 2026-11-20T10:02:00+00:00, 0 step(s) applied)",)
    assert fact.pending == (MIGRATIONS[2],) and fact.reasons == {MIGRATIONS[2]: "unfinished"}


def test_prisma_rolled_back_and_not_applied_again(pg, prisma_db, prisma):
    attempt(pg, prisma_db, prisma, MIGRATIONS[0], minute=0)
    attempt(pg, prisma_db, prisma, MIGRATIONS[1], minute=1)
    attempt(pg, prisma_db, prisma, MIGRATIONS[2], minute=2, finished=False, logs=FAILED_LOGS, rolled_back=True)

    fact = state("prisma", prisma_db, scripts=prisma)

    assert fact.failed == () and fact.pending == (MIGRATIONS[2],), fact.evidence()
    assert fact.reasons == {MIGRATIONS[2]: "rolled back"}
    assert f"not applied: 1: {MIGRATIONS[2]} (rolled back)" in fact.evidence()


def test_prisma_rolled_back_then_applied_again_is_applied(pg, prisma_db, prisma):
    """Prisma's recovery: `migrate resolve --rolled-back`, then the next deploy applies it again (a new row)."""
    attempt(pg, prisma_db, prisma, MIGRATIONS[0], minute=0)
    attempt(pg, prisma_db, prisma, MIGRATIONS[1], minute=1, finished=False, logs=FAILED_LOGS, rolled_back=True)
    attempt(pg, prisma_db, prisma, MIGRATIONS[1], minute=5)
    attempt(pg, prisma_db, prisma, MIGRATIONS[2], minute=6)

    fact = state("prisma", prisma_db, scripts=prisma)

    assert (fact.pending, fact.failed, fact.unknown) == ((), (), ()), fact.evidence()
    assert len(fact.database.attempts) == 4 and "rolled back (started 2026-11-20T10:01:00" in fact.evidence()


def test_prisma_folders_missing_from_the_table_and_rows_missing_from_the_folder(pg, prisma_db, prisma):
    attempt(pg, prisma_db, prisma, MIGRATIONS[0], minute=0)
    attempt(pg, prisma_db, prisma, "20261201000000_hotfix", minute=1, sum_of="0" * 64)

    fact = state("prisma", prisma_db, scripts=prisma)

    assert fact.pending == MIGRATIONS[1:] and fact.reasons == {}, fact.evidence()
    assert fact.unknown == ("20261201000000_hotfix",)


def test_prisma_migration_changed_since_applied(pg, prisma_db, prisma):
    for minute, name in enumerate(MIGRATIONS):
        attempt(pg, prisma_db, prisma, name, minute=minute)
    (prisma / MIGRATIONS[1] / "migration.sql").write_text("-- edited after it was applied\n")

    fact = state("prisma", prisma_db, scripts=prisma)

    assert fact.modified == (MIGRATIONS[1],) and fact.pending == (), fact.evidence()


def test_prisma_without_its_table_and_a_folder_without_migration_sql(pg, db, prisma):
    fact = state("prisma", db, scripts=prisma)
    assert not fact.database.exists and fact.pending == MIGRATIONS, fact.evidence()

    (prisma / "20261104000000_empty").mkdir()
    fact = state("prisma", db, scripts=prisma)
    assert fact.error == ("the release's migrations: 20261104000000_empty/migration.sql does not exist "
                          "(prisma migrate deploy stops there)")


# ------------------------------------------------------------------------------------ Django: files

DJANGO_TABLE = ("CREATE TABLE django_migrations (id bigserial PRIMARY KEY, app varchar(255) NOT NULL, "
                "name varchar(255) NOT NULL, applied timestamptz NOT NULL)")
SQUASHED = '''\
from django.db import migrations


class Migration(migrations.Migration):
    replaces = [("ledger", "0001_initial"), ("ledger", "0002_entries"), ("ledger", "0003_totals")]
    dependencies = []
    operations = []
'''
PLAIN = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = []\n"


def django_tree(root: Path) -> Path:
    """shop (0001, 0002), billing (label "invoices" in apps.py), ledger (squashed: 0001..0003 gone, 0004),
    and a migrations folder that is no package (Django ignores it)."""
    files = {
        "manage.py": "", "shop/__init__.py": "", "shop/apps.py": "class ShopConfig:\n    name = 'shop'\n",
        "shop/migrations/__init__.py": "", "shop/migrations/0001_initial.py": PLAIN,
        "shop/migrations/0002_sale_index.py": PLAIN,
        "billing/apps.py": "class BillingConfig:\n    name = 'billing'\n    label = 'invoices'\n",
        "billing/migrations/__init__.py": "", "billing/migrations/0001_initial.py": PLAIN,
        "ledger/migrations/__init__.py": "", "ledger/migrations/0001_squashed_0003_totals.py": SQUASHED,
        "ledger/migrations/0004_more.py": PLAIN,
        "scratch/migrations/0001_draft.py": PLAIN,
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def applied(pg: Postgres, dsn: str, *names: str) -> None:
    pg.admin(DJANGO_TABLE, dbname=dbname(dsn))
    for name in names:
        app, migration = name.split(".", 1)
        pg.admin("INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, now())", dbname=dbname(dsn),
                 params=(app, migration))


def archived(tree: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as archive:
        archive.add(tree, arcname="src")
    return out


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "archive"])
def test_django_source_tree_against_the_table(pg, db, tmp_path, packed):
    tree = django_tree(tmp_path / "src")
    source = archived(tree, tmp_path / "release.tar.gz") if packed else tree
    applied(pg, db, "contenttypes.0001_initial", "auth.0001_initial", "shop.0001_initial",
            "ledger.0001_initial", "ledger.0002_entries", "ledger.0003_totals", "shop.0009_from_the_future")

    fact = state("django", db, "predeploy", scripts=source)

    assert fact.error is None, fact.evidence()
    assert fact.release.apps == ("invoices", "ledger", "shop")
    assert fact.pending == ("invoices.0001_initial", "ledger.0004_more", "shop.0002_sale_index"), fact.evidence()
    assert fact.unknown == ("shop.0009_from_the_future",)  # the replaced ledger rows are known: squashed
    assert fact.not_compared == ("contenttypes.0001_initial", "auth.0001_initial")
    assert "scratch" not in fact.evidence()


def test_django_squashed_migration_on_a_fresh_database(db, tmp_path):
    fact = state("django", db, "predeploy", scripts=django_tree(tmp_path / "src"))

    assert "ledger.0001_squashed_0003_totals" in fact.pending and "ledger.0004_more" in fact.pending, fact.evidence()
    assert not fact.database.exists


def test_django_ignore_unknown(pg, db, tmp_path):
    applied(pg, db, "shop.0001_initial", "shop.0002_sale_index", "shop.0003_removed_app_leftover")

    fact = state("django", db, "predeploy", scripts=django_tree(tmp_path / "src"), ignore_unknown=["shop.*_leftover"])

    assert fact.unknown == () and fact.ignored == ("shop.0003_removed_app_leftover",), fact.evidence()


@pytest.mark.parametrize(("make", "said"), [
    (lambda p: p / "nowhere", "does not exist"),
    (lambda p: p, "no <app>/migrations/<name>.py in"),
    (lambda p: (p / "notes.txt", (p / "notes.txt").write_text("x"))[0], "is a file but not an archive"),
    (lambda p: (p / "broken.tar.gz", (p / "broken.tar.gz").write_bytes(b"\x1f\x8b\x08garbage"))[0], "Error"),
    (lambda p: (p / "src.tar.gz", os.mkfifo(p / "src.tar.gz"))[0], "src.tar.gz is a FIFO, not a regular file"),
    (lambda p: (p / "src.tar.gz", (p / "src.tar.gz").symlink_to("/dev/zero"))[0], "is a character device"),
])
def test_django_source_that_cannot_be_read(db, tmp_path, make, said):
    fact = state("django", db, "predeploy", scripts=make(tmp_path))

    assert fact.error is not None and said in fact.error, fact.evidence()


def test_django_showmigrations_both_listings():
    """The two formats Django prints (``--plan`` and the default list), with a squashed migration ([-])."""
    plan = "[X]  contenttypes.0001_initial\n[X]  auth.0001_initial\n[ ]  shop.0002_sale_index\n"
    listed = ("auth\n [X] 0001_initial\nledger\n [-] 0001_squashed_0003_totals (3 squashed migrations) Run "
              "'manage.py migrate' to finish recording.\n [ ] 0004_more\nsessions\n (no migrations)\n")

    assert parse_showmigrations(plan) == (("contenttypes.0001_initial", "auth.0001_initial", "shop.0002_sale_index"),
                                          ("contenttypes.0001_initial", "auth.0001_initial"))
    assert parse_showmigrations(listed) == (("auth.0001_initial", "ledger.0001_squashed_0003_totals",
                                             "ledger.0004_more"),
                                            ("auth.0001_initial", "ledger.0001_squashed_0003_totals"))


# ------------------------------------------------------------------------------------ Django: on the gate's host

# A real Django project (Django is in the test extra): two apps, shop's second migration depending on its first;
# its database is the one the environment variable names, as a twelve-factor settings module reads it.
DJANGO_PROJECT = {
    "manage.py": """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
""",
    "site_settings.py": """\
import os
from urllib.parse import unquote, urlsplit

url = urlsplit(os.environ["SHOP_DATABASE_URL"])
SECRET_KEY = "only-for-the-test"
INSTALLED_APPS = ["shop", "billing"]
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": url.path[1:], "USER": url.username,
                         "PASSWORD": unquote(url.password or ""), "HOST": url.hostname, "PORT": url.port}}
USE_TZ = True
""",
    "shop/__init__.py": "", "shop/migrations/__init__.py": "",
    "shop/migrations/0001_initial.py": PLAIN,
    "shop/migrations/0002_sale_index.py": PLAIN.replace("    operations", "    dependencies = [('shop', '0001_initial')]\n    operations"),
    "billing/__init__.py": "", "billing/migrations/__init__.py": "",
    "billing/migrations/0001_initial.py": PLAIN,
}
#: Django's order (its plan)
DJANGO_PLAN = ("billing.0001_initial", "shop.0001_initial", "shop.0002_sale_index")
SHOWMIGRATIONS = [sys.executable, "manage.py", "showmigrations", "--plan"]


def django_project(root: Path) -> Path:
    for name, text in DJANGO_PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return django_project(tmp_path / "shop-src")


def on_host(dsn: str, project: Path, **config: Any) -> MigrationState:
    """The postdeploy state with showmigrations run on this host (``host = true``), no [docker] anywhere."""
    return state("django", dsn, host=True, command=SHOWMIGRATIONS, workdir=str(project), **config)


@pytest.mark.parametrize(("rows", "pending"), [
    (("shop.0001_initial",), ("billing.0001_initial", "shop.0002_sale_index")),
    (DJANGO_PLAN, ()),
], ids=["pending", "applied"])
def test_django_showmigrations_on_the_host(pg, db, project, monkeypatch, rows, pending):
    """Django's own showmigrations, run on the gate's host as a host [[command]] is, against the same database."""
    applied(pg, db, *rows)
    monkeypatch.setenv("SHOP_DATABASE_URL", db)

    fact = on_host(db, project)

    assert fact.error is None, fact.evidence()
    assert fact.release.names == DJANGO_PLAN and set(fact.release.applied or ()) == set(rows), fact.evidence()
    assert (fact.pending, fact.unknown) == (pending, ()), fact.evidence()
    assert fact.release.source == f"`{' '.join(SHOWMIGRATIONS)}` on the gate's host, in {project}"
    assert PASSWORD not in fact.evidence()


def test_django_showmigrations_on_the_host_that_never_ends(pg, db, project, monkeypatch, silent_server):
    """The project's database never answers (psycopg waits without a connect timeout): the command is killed at
    timeout_s, with what it started, and the state says so."""
    applied(pg, db, *DJANGO_PLAN)
    monkeypatch.setenv("SHOP_DATABASE_URL", f"postgresql://reader:pw@127.0.0.1:{silent_server}/shop")

    fact, took = timed(lambda: on_host(db, project, timeout_s=2))

    assert fact.release.error == "timed out after 2 s: killed, with every process it started: (no output)", \
        fact.evidence()
    assert fact.error == f"the release's migrations: {fact.release.error}"
    assert took < 2 + SLACK_S + 1  # + the database's read


def test_django_showmigrations_that_fails_on_the_host(pg, db, project, monkeypatch):
    """No SHOP_DATABASE_URL: Django's settings raise; the command's last words are the error."""
    applied(pg, db, *DJANGO_PLAN)
    monkeypatch.delenv("SHOP_DATABASE_URL", raising=False)

    fact = on_host(db, project)

    assert fact.release.error is not None and fact.release.error.startswith("exit code 1: "), fact.evidence()
    assert "KeyError: 'SHOP_DATABASE_URL'" in fact.release.error


# ------------------------------------------------------------------------------------ the database, broken


def timed(call: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def test_database_stopped(tmp_path, scripts):
    """A cluster that was running and is stopped: nothing listens on its port any more."""
    with throwaway_postgres() as server:
        dsn = server.database("gone")
        server.stop()
        fact, took = timed(lambda: state("alembic", dsn, scripts=scripts))

    assert fact.database.error is not None and "Connection refused" in fact.database.error, fact.evidence()
    assert took < 2 + SLACK_S and fact.release.error is None and fact.pending == ()
    assert fact.error == f"the database's alembic_version: {fact.database.error}"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word (a hung database host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.extend(iter(lambda: server.accept()[0], None)), daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in held:
        conn.close()


def test_database_that_never_answers(silent_server, scripts):
    fact, took = timed(lambda: state("alembic", f"postgresql://reader:pw@127.0.0.1:{silent_server}/app",
                                     scripts=scripts))

    assert fact.database.error is not None and "timeout" in fact.database.error.lower(), fact.evidence()
    assert took < 2 + SLACK_S


def test_database_refusing_the_password(pg, db, scripts):
    wrong = db.replace(pg.password, "not-the-password-9")

    fact = state("alembic", wrong, scripts=scripts)

    assert "password authentication failed" in (fact.database.error or ""), fact.evidence()
    assert "not-the-password-9" not in fact.evidence() + repr(fact)


def test_a_role_that_may_not_read_the_table(pg, db, scripts):
    stamp(pg, db, BASE)
    pg.admin("CREATE ROLE outsider LOGIN PASSWORD 'outsider-password-1'")
    try:
        fact = state("alembic", pg.dsn("outsider", dbname(db), "outsider-password-1"), scripts=scripts)
    finally:
        pg.admin("DROP ROLE outsider")

    assert "permission denied for table alembic_version" in (fact.database.error or ""), fact.evidence()


def test_nothing_listens(scripts):
    fact = state("alembic", f"postgresql://reader:pw@127.0.0.1:{free_port()}/app", scripts=scripts)

    assert "Connection refused" in (fact.database.error or ""), fact.evidence()


# ------------------------------------------------------------------------------------ the profile table


@pytest.mark.parametrize(("table", "said"), [
    ({"tool": "flyway"}, "Input should be 'django', 'alembic' or 'prisma'"),
    ({"tool": "alembic", "service": "api"}, "only django runs a command"),
    ({"tool": "prisma", "host": True}, "only django runs a command .in a container or on the host."),
    ({"tool": "django", "service": "web", "host": True}, "either service = .* or host = true .*, not both"),
    ({"tool": "alembic", "table": "alembic_version; DROP TABLE x"}, "is not a table name"),
    ({"tool": "django", "command": []}, "nothing to run"),
    ({"tool": "django", "timeout_s": 0}, "greater than 0"),
    ({"tool": "django", "first_deploy": "maybe"}, "Input should be a valid boolean"),
])
def test_profile_table_mistakes(table, said):
    with pytest.raises(ValidationError, match=said.replace("(", r"\(")):
        MigrationsConfig.model_validate(table)


@pytest.mark.parametrize(("config", "phase", "kind"), [
    ({"tool": "django", "scripts": "src", "service": "web"}, "predeploy", "files"),
    ({"tool": "django", "scripts": "src", "service": "web"}, "rollback", "command"),
    ({"tool": "django", "service": "web"}, "predeploy", "missing"),
    ({"tool": "django", "scripts": "src"}, "postdeploy", "missing"),
    ({"tool": "django", "scripts": "src", "host": True}, "postdeploy", "command"),
    ({"tool": "django", "host": True}, "rollback", "command"),
    ({"tool": "django", "host": True}, "predeploy", "missing"),
    ({"tool": "alembic", "scripts": "m"}, "postdeploy", "files"),
    ({"tool": "alembic", "scripts": "m"}, "rollback", "missing"),
    ({"tool": "prisma", "scripts": "m", "previous_scripts": "p"}, "rollback", "files"),
])
def test_what_each_phase_reads(config, phase, kind):
    assert MigrationsConfig.model_validate(config).release_for(phase)[0] == kind


# ------------------------------------------------------------------------------------ the checks, end to end


@pytest.fixture
def migrations_module() -> dict[str, str]:
    return {"test_migrations.py": CHECKS.read_text(encoding="utf-8")}


def profile(tool: str, scripts: Path, **more: str | bool) -> str:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in more.items())
    return f"""
        [environment]
        release = "1.4.2"

        [database]
        dsn = "${{MIGRATIONS_TEST_DSN}}"
        connect_timeout_s = 2

        [database.migrations]
        tool = "{tool}"
        scripts = "{scripts}"
        {extra}"""


def outcomes(run: Any) -> dict[str, str]:
    gate = run.gate
    found = {e["id"]: "failed" for e in gate["failed"]} | {e["id"]: "errored" for e in gate["errored"]}
    return found | {e["id"]: e["status"] for e in gate["skipped"]}


def test_alembic_behind_is_go_before_the_deploy_and_no_go_after_it(run_gate, migrations_module, pg, db, scripts):
    stamp(pg, db, BASE)
    text = profile("alembic", scripts)

    before = run_gate(migrations_module, "-m", "predeploy", profile=text, environ={"MIGRATIONS_TEST_DSN": db})
    attachments = " ".join(p.read_text() for p in before.allure_dir.glob("*-attachment*"))
    after = run_gate(migrations_module, "-m", "postdeploy", profile=text, environ={"MIGRATIONS_TEST_DSN": db})

    assert before.gate["verdict"] == "GO", before.log
    assert outcomes(before) == {"migrations.none_failed[predeploy]": "not-applicable"}, before.log
    assert "compared with: the release to deploy" in attachments
    assert f"the deploy will apply 2: {USERS}, {ORDERS}" in attachments
    assert after.gate["verdict"] == "NO-GO", after.log
    [failed] = after.gate["failed"]
    assert failed["id"] == "migrations.all_applied[postdeploy]" and failed["severity"] == "blocker", failed
    assert failed["reason"] == (f"migrations applied: expected every migration of the deployed release applied, "
                                f"got 2 not applied: {USERS}, {ORDERS}")
    assert failed["runbook"] == ["BTQ-3.3", "SMK-2.2", "RCY-4.1", "NPR-3"]
    assert f"look at: files in {scripts}; table alembic_version in the stack's database" in after.out
    assert PASSWORD not in after.out + before.out


def test_alembic_two_heads_and_an_unknown_revision_are_no_go_before_the_deploy(run_gate, migrations_module, pg, db,
                                                                               tmp_path):
    branched = alembic_dir(tmp_path / "branched", {BASE: None, USERS: BASE, ORDERS: USERS, REFUNDS: USERS})
    stamp(pg, db, "9f9f9f9f9f9f")

    run = run_gate(migrations_module, "-m", "predeploy", profile=profile("alembic", branched),
                   environ={"MIGRATIONS_TEST_DSN": db})

    assert run.gate["verdict"] == "NO-GO", run.log
    assert outcomes(run) == {"migrations.single_head[predeploy]": "failed",
                             "migrations.none_unknown[predeploy]": "failed",
                             "migrations.none_failed[predeploy]": "not-applicable"}, run.log
    reasons = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert reasons["migrations.none_unknown[predeploy]"] == (
        "migrations unknown to the release: expected every applied migration known to the release to deploy, "
        "got 1 applied but unknown to it: 9f9f9f9f9f9f")
    assert reasons["migrations.single_head[predeploy]"].startswith("alembic heads: expected one head, got 2 heads: ")


def test_prisma_failed_migration_is_no_go_in_every_phase(run_gate, migrations_module, pg, prisma_db, prisma,
                                                         tmp_path):
    attempt(pg, prisma_db, prisma, MIGRATIONS[0], minute=0)
    attempt(pg, prisma_db, prisma, MIGRATIONS[1], minute=1, finished=False, logs=FAILED_LOGS, steps=0)
    text = profile("prisma", prisma, previous_scripts=str(prisma))

    run = run_gate(migrations_module, "-m", "predeploy or postdeploy or rollback", profile=text,
                   environ={"MIGRATIONS_TEST_DSN": prisma_db})

    assert run.gate["verdict"] == "NO-GO", run.log
    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert set(failed) == {"migrations.none_failed[predeploy]", "migrations.none_failed[postdeploy]",
                           "migrations.none_failed[rollback]", "migrations.all_applied[postdeploy]",
                           "migrations.all_applied[rollback]"}, run.log
    assert failed["migrations.none_failed[postdeploy]"].startswith(
        f"migrations failed: expected no failed or unfinished migration, got 1 failed or unfinished: {MIGRATIONS[1]}: "
        "failed (started 2026-11-20T10:01:00+00:00, 0 step(s) applied): Migration name: ")
    assert failed["migrations.all_applied[postdeploy]"].endswith(
        f"got 2 not applied: {MIGRATIONS[1]} (failed), {MIGRATIONS[2]}")


def test_unreadable_state_fails_once_per_phase_and_the_rest_is_dependent(run_gate, migrations_module, scripts):
    run = run_gate(migrations_module, "-m", "postdeploy", profile=profile("alembic", scripts),
                   environ={"MIGRATIONS_TEST_DSN": f"postgresql://reader:pw@127.0.0.1:{free_port()}/app"})

    assert run.gate["verdict"] == "NO-GO", run.log
    assert outcomes(run) == {"migrations.readable[postdeploy]": "failed",
                             "migrations.all_applied[postdeploy]": "dependent",
                             "migrations.none_unknown[postdeploy]": "dependent",
                             "migrations.none_failed[postdeploy]": "not-applicable",
                             "migrations.single_head[postdeploy]": "dependent"}, run.log
    [failed] = run.gate["failed"]
    assert failed["reason"].startswith("migrations read: expected the database's alembic_version and the deployed "
                                       "release's migrations, got the database's alembic_version: no connection after ")


def test_what_is_not_configured(run_gate, migrations_module, scripts):
    no_rollback_source = run_gate(migrations_module, "-m", "rollback", profile=profile("alembic", scripts),
                                  environ={"MIGRATIONS_TEST_DSN": "postgresql://reader:pw@127.0.0.1:1/app"})
    no_table = run_gate(migrations_module, "-m", "rollback")

    assert outcomes(no_rollback_source) == {"migrations.readable[rollback]": "not-configured",
                                            "migrations.all_applied[rollback]": "not-configured",
                                            "migrations.none_unknown[rollback]": "not-configured",
                                            "migrations.none_failed[rollback]": "not-applicable"}, no_rollback_source.log
    assert "previous_scripts (the previous release's migrations)" in no_rollback_source.gate["skipped"][0]["reason"]
    assert set(outcomes(no_table).values()) == {"not-configured"}, no_table.log
    assert "([database])" in no_table.gate["skipped"][0]["reason"]


@pytest.mark.parametrize("case", ["pending", "applied", "never ends", "nowhere to run"])
def test_django_on_the_host_without_docker(run_gate, migrations_module, pg, db, project, silent_server, case):
    """No [docker] table: with host = true the real showmigrations runs on the gate's host and the checks judge
    what it lists, as in a container (before: host was an unknown key, the profile refused); without host (nor
    service) the postdeploy checks are not configured and say which keys would do."""
    applied(pg, db, *(("shop.0001_initial",) if case == "pending" else DJANGO_PLAN))
    shop = f"postgresql://reader:pw@127.0.0.1:{silent_server}/shop" if case == "never ends" else db
    where = {} if case == "nowhere to run" else {"host": True, "command": SHOWMIGRATIONS, "workdir": str(project),
                                                 "timeout_s": 3}

    run = run_gate(migrations_module, "-m", "postdeploy", profile=profile("django", project, **where),
                   environ={"MIGRATIONS_TEST_DSN": db, "SHOP_DATABASE_URL": shop})

    found = outcomes(run)
    reasons = {e["id"]: e["reason"] for e in run.gate["failed"] + run.gate["skipped"]}
    assert found.pop("migrations.none_failed[postdeploy]") == "not-applicable", run.log
    assert found.pop("migrations.single_head[postdeploy]") == "not-applicable", run.log
    if case == "applied":
        assert run.gate["verdict"] == "GO" and found == {}, run.log
        return
    assert run.gate["verdict"] == "NO-GO", run.log
    if case == "pending":
        assert found == {"migrations.all_applied[postdeploy]": "failed"}, run.log
        assert reasons["migrations.all_applied[postdeploy]"] == (
            "migrations applied: expected every migration of the deployed release applied, got 2 not applied: "
            "billing.0001_initial, shop.0002_sale_index")
        assert f"look at: `{' '.join(SHOWMIGRATIONS)}` on the gate's host, in {project}; table django_migrations" \
            in run.out
    elif case == "never ends":
        assert found == {"migrations.readable[postdeploy]": "failed", "migrations.all_applied[postdeploy]": "dependent",
                         "migrations.none_unknown[postdeploy]": "dependent"}, run.log
        assert reasons["migrations.readable[postdeploy]"] == (
            "migrations read: expected the database's django_migrations and the deployed release's migrations, got "
            "the release's migrations: timed out after 3 s: killed, with every process it started: (no output)")
    else:
        assert set(found.values()) == {"not-configured"} and len(found) == 3, run.log
        assert reasons["migrations.all_applied[postdeploy]"] == (
            "not configured in environments/dev.toml ([database] migrations.service (the container that runs "
            "showmigrations) or migrations.host = true (showmigrations runs on the gate's host))")
    assert PASSWORD not in run.out


# ------------------------------------------------------------------------------------ no table, first deploy


def release_of(tool: str, tmp_path: Path) -> Path:
    """A release of each tool with migrations to apply: Alembic scripts, a prisma/migrations folder, a Django tree."""
    if tool == "alembic":
        return alembic_dir(tmp_path / "alembic", {BASE: None, USERS: BASE})
    if tool == "prisma":
        root = tmp_path / "prisma" / "migrations" / MIGRATIONS[0]
        root.mkdir(parents=True)
        (root / "migration.sql").write_text('CREATE TABLE "t" ("id" SERIAL);\n')
        return root.parent
    return django_tree(tmp_path / "src")


@pytest.mark.parametrize("tool", ["alembic", "prisma", "django"])
def test_a_missing_table_is_no_go_before_the_deploy(run_gate, migrations_module, pg, db, tmp_path, tool):
    """A DSN naming the wrong (empty) database: no table, so nothing proves what the database has applied."""
    table = {"alembic": "alembic_version", "prisma": "_prisma_migrations", "django": "django_migrations"}[tool]

    run = run_gate(migrations_module, "-m", "predeploy", profile=profile(tool, release_of(tool, tmp_path)),
                   environ={"MIGRATIONS_TEST_DSN": db})

    assert run.gate["verdict"] == "NO-GO", run.log
    [failed] = run.gate["failed"]
    assert failed["id"] == "migrations.readable[predeploy]" and failed["severity"] == "blocker", failed
    assert failed["reason"] == (
        f"migrations table: expected the table {table} in database {dbname(db)}, got no table {table} in database "
        f"{dbname(db)} (schemas searched: public): the DSN may name the wrong database; on a first deploy into an "
        "empty database, say so: [database] migrations.first_deploy = true")
    assert (f"look at: [database] dsn (reader@127.0.0.1:{pg.port}/{dbname(db)}) in environments/dev.toml: its "
            "database and search_path") in run.out
    dependent = {k for k, v in outcomes(run).items() if v == "dependent"}
    assert "migrations.none_unknown[predeploy]" in dependent, run.log
    assert PASSWORD not in run.out


def test_first_deploy_excuses_a_missing_table_before_the_deploy_only(run_gate, migrations_module, db, tmp_path):
    """An empty release (a Prisma folder without migrations) on an empty database: before the deploy, a first
    deploy may find no table; after it (and after a rollback), the table must be there, first deploy or not."""
    empty = tmp_path / "prisma" / "migrations"
    empty.mkdir(parents=True)
    environ = {"MIGRATIONS_TEST_DSN": db}

    after = run_gate(migrations_module, "-m", "postdeploy or rollback",
                     profile=profile("prisma", empty, previous_scripts=str(empty)), environ=environ)
    first = run_gate(migrations_module, "-m", "predeploy",
                     profile=profile("prisma", empty, previous_scripts=str(empty), first_deploy=True), environ=environ)
    first_after = run_gate(migrations_module, "-m", "postdeploy", environ=environ, profile=None)

    assert after.gate["verdict"] == "NO-GO", after.log
    assert outcomes(after) == {
        "migrations.readable[postdeploy]": "failed", "migrations.readable[rollback]": "failed",
        "migrations.all_applied[postdeploy]": "dependent", "migrations.all_applied[rollback]": "dependent",
        "migrations.none_unknown[postdeploy]": "dependent", "migrations.none_unknown[rollback]": "dependent",
        "migrations.none_failed[postdeploy]": "dependent", "migrations.none_failed[rollback]": "dependent",
        "migrations.single_head[postdeploy]": "not-applicable"}, after.log
    reasons = {e["id"]: e["reason"] for e in after.gate["failed"]}
    assert reasons["migrations.readable[postdeploy]"].endswith(
        "the DSN may name the wrong database; after a deploy the table must be there: the deploy creates it")
    assert first.gate["verdict"] == "GO", first.log
    assert outcomes(first) == {"migrations.single_head[predeploy]": "not-applicable"}, first.log
    assert first_after.gate["verdict"] == "NO-GO", first_after.log
    assert {e["id"] for e in first_after.gate["failed"]} == {"migrations.readable[postdeploy]"}


def test_first_deploy_over_applied_migrations_is_no_go(run_gate, migrations_module, pg, db, scripts):
    """first_deploy left in the profile after the first deploy would excuse the wrong database again: the table
    holding applied migrations says this is no first deploy."""
    stamp(pg, db, BASE)

    run = run_gate(migrations_module, "-m", "predeploy", profile=profile("alembic", scripts, first_deploy=True),
                   environ={"MIGRATIONS_TEST_DSN": db})

    assert run.gate["verdict"] == "NO-GO", run.log
    [failed] = run.gate["failed"]
    assert failed["reason"] == (
        f"migrations table: expected no migration applied yet (first_deploy = true), got alembic_version in database "
        f"{dbname(db)} holds 1 applied migration(s): this is no first deploy; remove [database] "
        "migrations.first_deploy"), failed


def test_no_alembic_head_is_no_go(run_gate, migrations_module, pg, db, tmp_path):
    """An empty versions folder: nothing shows that the release's migrations form one line."""
    stamp(pg, db)

    run = run_gate(migrations_module, "-m", "predeploy",
                   profile=profile("alembic", alembic_dir(tmp_path / "empty", {})), environ={"MIGRATIONS_TEST_DSN": db})

    assert run.gate["verdict"] == "NO-GO", run.log
    [failed] = run.gate["failed"]
    assert failed["id"] == "migrations.single_head[predeploy]", failed
    assert failed["reason"] == ("alembic heads: expected one head, got no head: the scripts hold no revision (is "
                                "scripts the release's script directory, with its versions/?)")
