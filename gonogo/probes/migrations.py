"""Migrations probe: what the database has applied against what the release brings
(``[database] migrations``: :mod:`gonogo.sections.migrations`).

The database side is the tool's own table, read in one read-only, time-bounded session of
``stack.db`` (:mod:`gonogo.probes.database`): ``django_migrations``, ``alembic_version`` or
``_prisma_migrations``. The release side depends on
the tool and on the phase (:meth:`MigrationsConfig.release_for`):

- **django**: before the deploy, the release's source tree (``scripts``: a folder, or an archive of
  it such as the build artefact): every ``<app>/migrations/<name>.py``. After a deploy or a
  rollback, the release runs: ``python manage.py showmigrations --plan`` in the service's running
  container (an exec through the Docker API), or on the gate's host (``host = true``, run as a
  ``[[command]]`` with ``host = true`` is: bounded, killed with its children at its timeout, its output
  masked), lists every migration it knows, applied or not.
- **alembic**: the script directory (``scripts``, or ``previous_scripts`` around a rollback): Alembic's
  own ``ScriptDirectory`` finds the revision files, each file's identifiers are parsed from its source
  (literals, never run: revisions import the application's libraries, which the gate does not have),
  and Alembic's ``RevisionMap`` orders them and finds the heads. Nothing of the release runs: not its
  ``env.py`` (a real one prints the database URL, password included, on every online command), not its
  revisions.
- **prisma**: the ``prisma/migrations`` folder (``<timestamp>_<name>/migration.sql``).

:class:`MigrationsProbe` compares the two into a :class:`MigrationState`: what is pending (the
release's migrations the database has not applied: what a deploy will apply), what is unknown
(applied, but not the release's: the release is older than the database), what failed (Prisma
records failed and unfinished attempts) and the heads (Alembic). It never asserts: a database that
does not answer, a missing folder, a command that fails are the fact's ``error``.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import fnmatch
import hashlib
import os
import re
import shlex
import sys
import tarfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gonogo.environment import not_configured
from gonogo import skips
from gonogo import lazy
from gonogo.fact import Observed
from gonogo.memo import Memo
from gonogo.probes.commands import OUTPUT_LIMIT, CommandProbe
from gonogo.probes.database import DatabaseProbe, quoted_name
from gonogo.sections.commands import CommandEntry
from gonogo.files import path_problem, read_text
from gonogo.probes.host import bounded
from gonogo.secrets import masker
from gonogo.sections.migrations import MigrationsConfig

if TYPE_CHECKING:
    from alembic import config as alembic_config
    from alembic import script as alembic_script
    from alembic.script import base as script_base
    from alembic.script import revision as script_revision

    from gonogo.stack import Stack
else:  # Alembic is imported when a release's Alembic migrations are first read
    alembic_config = lazy.module("alembic.config")
    alembic_script = lazy.module("alembic.script")
    script_base = lazy.module("alembic.script.base")
    script_revision = lazy.module("alembic.script.revision")


#: what each phase compares the database with
RELEASES: dict[str, str] = {"predeploy": "the release to deploy", "postdeploy": "the deployed release",
                            "rollback": "the release rolled back to"}
#: the largest migration file read (a data migration may be big; a bigger file is not a migration)
FILE_LIMIT = 50_000_000
#: how many names a one-line summary quotes before "and N more"
SHOWN = 5
_ARCHIVES = (".tar.gz", ".tgz", ".tar")
_SKIP_DIRS = {"__pycache__", "node_modules", ".git"}


# ------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Attempt:
    """One row of ``_prisma_migrations``: one attempt at applying a migration."""

    name: str
    checksum: str
    started_at: datetime | None
    finished_at: datetime | None
    rolled_back_at: datetime | None
    logs: str | None
    applied_steps: int

    @property
    def status(self) -> str:
        """``applied``, ``rolled back``, ``failed`` (logs set, not finished) or ``unfinished`` (started only)."""
        if self.rolled_back_at is not None:
            return "rolled back"
        if self.finished_at is not None:
            return "applied"
        return "failed" if self.logs else "unfinished"

    def describe(self) -> str:
        said = f": {_first_line(self.logs)}" if self.logs and self.status == "failed" else ""
        when = self.started_at.isoformat(timespec="seconds") if self.started_at else "?"
        return f"{self.name}: {self.status} (started {when}, {self.applied_steps} step(s) applied){said}"


@dataclass(frozen=True)
class DatabaseMigrations:
    """The tool's table of applied migrations, as the database holds it."""

    table: str
    exists: bool = False
    #: the database the session was in (``current_database()``) and the schemas of its search path
    database: str | None = None
    schemas: tuple[str, ...] = ()
    #: what the table says is applied, in order (django: ``app.name``; alembic: the revisions in
    #: ``alembic_version``; prisma: the names whose latest attempt finished and was not rolled back)
    applied: tuple[str, ...] = ()
    #: prisma: every attempt (row), oldest first
    attempts: tuple[Attempt, ...] = ()
    error: str | None = None

    @property
    def looked_in(self) -> str:
        """``database shop (schemas searched: public)``: where the table was looked for."""
        searched = "" if "." in self.table else f" (schemas searched: {', '.join(self.schemas) or 'none'})"
        return f"database {self.database}{searched}"

    def describe(self) -> str:
        if self.error:
            return f"table {self.table}: not read: {self.error}"
        if not self.exists:
            return f"table {self.table}: absent from {self.looked_in}"
        return f"table {self.table}: {len(self.applied)} applied"


@dataclass(frozen=True)
class ReleaseMigrations:
    """The migrations a release brings, read from its files or from its running container."""

    #: where they were read: "files in /srv/app/src", "`python manage.py ...` in container shop-web-1 (...)"
    source: str
    #: every migration, in order (django: ``app.name``; alembic: revisions from the base; prisma: folder names)
    names: tuple[str, ...] = ()
    #: alembic: the heads
    heads: tuple[str, ...] = ()
    #: alembic: revision -> the revisions it comes after (down revisions and dependencies)
    parents: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    #: django (files): a squashed migration -> the migrations it replaces
    replaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    #: django (files): the apps whose migrations the source holds
    apps: tuple[str, ...] = ()
    #: django (command): what the release itself says is applied
    applied: tuple[str, ...] | None = None
    #: prisma: folder name -> sha256 of its migration.sql
    checksums: Mapping[str, str] = field(default_factory=dict, repr=False)
    error: str | None = None


class MigrationState(Observed):
    """The database's migrations against a release's: pending, unknown, failed, heads."""

    tool: str
    #: predeploy (the release to deploy), postdeploy (the deployed one) or rollback (the one rolled back to)
    phase: str
    release: ReleaseMigrations
    database: DatabaseMigrations
    #: the release's migrations the database has not applied (before a deploy: what it will apply)
    pending: tuple[str, ...] = ()
    #: applied migrations the release does not know
    unknown: tuple[str, ...] = ()
    #: unknown ones that ``ignore_unknown`` accepts
    ignored: tuple[str, ...] = ()
    #: prisma: migrations whose latest attempt failed or never finished
    failed: tuple[str, ...] = ()
    #: django (files): applied migrations of apps the source does not hold (Django's own, third-party)
    not_compared: tuple[str, ...] = ()
    #: prisma: applied migrations whose migration.sql changed since (checksum)
    modified: tuple[str, ...] = ()
    #: why a pending migration is not applied, when the table says (prisma: "failed", "rolled back")
    reasons: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def error(self) -> str | None:
        """Why the state could not be read (the release's migrations, the database's table), or None."""
        parts = [f"the release's migrations: {self.release.error}" if self.release.error else "",
                 f"the database's {self.database.table}: {self.database.error}" if self.database.error else ""]
        said = "; ".join(p for p in parts if p)
        return masker.mask(said) if said else None

    @property
    def where(self) -> str:
        """Where to look: the release's migrations and the table."""
        return masker.mask(f"{self.release.source}; table {self.database.table} in the stack's database")

    def pending_text(self) -> str:
        return listing(self.pending, self.reasons)

    def evidence_title(self) -> str:
        return f"migrations ({self.tool}, {self.phase}: {RELEASES.get(self.phase, self.phase)})"

    def evidence(self) -> str:
        release = self.release
        lines = [f"tool: {self.tool}", f"compared with: {RELEASES.get(self.phase, self.phase)}",
                 f"release: {release.source}" + (f": not read: {release.error}" if release.error else
                                                 f": {len(release.names)} migration(s)"),
                 self.database.describe()]
        if self.error is None:
            lines.append(self._summary())
            lines += _section("applied, unknown to the release", self.unknown)
            lines += _section("unknown, accepted by ignore_unknown", self.ignored)
            lines += _section("failed or unfinished", self.failed)
            lines += _section("changed since applied (checksum)", self.modified)
            if self.not_compared:
                apps = ", ".join(sorted({n.split(".", 1)[0] for n in self.not_compared}))
                lines.append(f"not compared: {len(self.not_compared)} applied migration(s) of apps outside the "
                             f"release's source ({apps})")
            pending = set(self.pending)
            lines += _section("the release's migrations ([X] applied, [ ] not)",
                              [f"[ ] {n}" + (f" ({self.reasons[n]})" if n in self.reasons else "") if n in pending
                               else f"[X] {n}" for n in release.names])
        lines += _section(f"the table {self.database.table}",
                          [a.describe() for a in self.database.attempts] or list(self.database.applied))
        return masker.mask("\n".join(lines))

    def _summary(self) -> str:
        heads = f"; heads: {', '.join(self.release.heads)}" if self.release.heads else ""
        if self.phase == "predeploy":
            said = f"the deploy will apply {len(self.pending)}: {listing(self.pending, self.reasons)}" if self.pending \
                else "the deploy will apply nothing: the database has every migration of the release"
        else:
            said = f"not applied: {len(self.pending)}: {listing(self.pending, self.reasons)}" if self.pending \
                else "every migration of the release is applied"
        return said + heads

    def one_line(self) -> str:
        if self.error:
            return f"<migrations {self.tool} ({self.phase}): not read: {self.error}>"
        return (f"<migrations {self.tool} ({self.phase}): {len(self.pending)} pending, {len(self.unknown)} unknown, "
                f"{len(self.failed)} failed>")


def listing(names: Sequence[str], reasons: Mapping[str, str] | None = None) -> str:
    """``a, b (failed), c and 4 more``: a few names on one line."""
    shown = [f"{n} ({reasons[n]})" if reasons and n in reasons else n for n in names[:SHOWN]]
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(shown) + more


def _section(title: str, items: Sequence[str]) -> list[str]:
    return ["", f"--- {title} ({len(items)}) ---", *items] if items else []


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


# ------------------------------------------------------------------------------------ database

#: the most rows read from a migration table (a large Django project has a few thousand)
MAX_ROWS = 100_000
#: each tool's query of its table ({table}: the table, quoted as written)
QUERIES = {
    "django": "SELECT app || '.' || name FROM {table} ORDER BY id",
    "alembic": "SELECT version_num FROM {table} ORDER BY version_num",
    "prisma": ("SELECT migration_name, checksum, started_at, finished_at, rolled_back_at, logs, applied_steps_count "
               "FROM {table} ORDER BY started_at, id"),
}


def read_database(tool: str, table: str, db: DatabaseProbe) -> DatabaseMigrations:
    """The tool's table of applied migrations, in one read-only session of ``stack.db``; an absent
    table is ``exists=False``, with the database and schemas it was looked for in."""
    quoted = quoted_name(table)
    with db.session() as session:
        opened = session.connection
        if opened.error:  # no connection ("no connection after 2003 ms: ..."), or one that is not read-only
            return DatabaseMigrations(table, error=opened.error if opened.connected else opened.status_text)
        found = session.query("SELECT to_regclass(%s) IS NOT NULL, current_database(), current_schemas(false)",
                              (quoted,))
        if not found.ok:
            return DatabaseMigrations(table, error=found.error)
        exists, database, schemas = found.rows[0]
        seen = DatabaseMigrations(table, database=str(database), schemas=tuple(map(str, schemas or ())))
        if not exists:
            return seen
        rows = session.query(QUERIES[tool].format(table=quoted), max_rows=MAX_ROWS)
    if not rows.ok or rows.truncated:
        return dataclasses.replace(seen, error=rows.error or f"more than {MAX_ROWS} rows")
    if tool != "prisma":
        return dataclasses.replace(seen, exists=True, applied=tuple(str(name) for (name,) in rows.rows))
    attempts = tuple(Attempt(*row) for row in rows.rows)
    applied = tuple(n for n, a in _latest(attempts).items() if a.status == "applied")
    return dataclasses.replace(seen, exists=True, applied=applied, attempts=attempts)


def _latest(attempts: Sequence[Attempt]) -> dict[str, Attempt]:
    """Each migration's latest attempt (a rolled back one is followed by a new attempt on the next deploy)."""
    latest: dict[str, Attempt] = {}
    for attempt in attempts:  # oldest first
        latest.pop(attempt.name, None)
        latest[attempt.name] = attempt
    return latest


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return masker.mask(f"{type(exc).__name__}: {text}"[:400])


# ------------------------------------------------------------------------------------ release: files


def _release_files(path: Path, read: Callable[[Path], ReleaseMigrations], timeout_s: float) -> ReleaseMigrations:
    try:
        return bounded(partial(read, path), timeout_s)
    except TimeoutError:
        return ReleaseMigrations(f"files in {path}", error=f"reading them took more than {timeout_s:g} s")
    except Exception as exc:
        return ReleaseMigrations(f"files in {path}", error=_error(exc))


def read_django_files(path: Path) -> ReleaseMigrations:
    """Every ``<app>/migrations/<name>.py`` of a Django source tree (a folder or an archive of it)."""
    source = f"files in {path}"
    if not path.exists():
        return ReleaseMigrations(source, error=f"{path} does not exist")
    files = dict(_archive_files(path) if path.is_file() else _folder_files(path))
    packages = {p.parent for p in files if p.name == "__init__.py" and p.parent.name == "migrations"}
    found: list[tuple[str, str, PurePosixPath]] = []
    for relative in files:
        if relative.parent in packages and relative.suffix == ".py" and not relative.name.startswith(("_", "~")):
            found.append((_app_label(relative.parent.parent, files), relative.stem, relative))
    if not found:
        return ReleaseMigrations(source, error=f"no <app>/migrations/<name>.py in {path}: is it the release's source?")
    found.sort()
    replaces = {f"{app}.{name}": _replaces(files[relative]) for app, name, relative in found}
    return ReleaseMigrations(source, names=tuple(f"{app}.{name}" for app, name, _ in found),
                             replaces={k: v for k, v in replaces.items() if v},
                             apps=tuple(sorted({app for app, _, _ in found})))


def _folder_files(root: Path) -> Iterator[tuple[PurePosixPath, str]]:
    """The Python files of a Django app's migrations and its apps.py, under ``root``."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        here = Path(folder)
        for name in names:
            if _wanted(here.name, name):
                read = read_text(here / name, FILE_LIMIT)
                if read.text is None:
                    raise OSError(f"{here / name} {read.error}")
                yield PurePosixPath((here / name).relative_to(root).as_posix()), read.text


def _archive_files(path: Path) -> Iterator[tuple[PurePosixPath, str]]:
    if not path.name.endswith(_ARCHIVES):
        raise ValueError(f"{path} is a file but not an archive ({', '.join(_ARCHIVES)}): name the source folder "
                         "or the release's archive")
    with tarfile.open(path, "r:*") as archive:
        for member in archive:
            relative = PurePosixPath(member.name)
            if member.isfile() and member.size <= FILE_LIMIT and _wanted(relative.parent.name, relative.name):
                handle = archive.extractfile(member)
                if handle is not None:
                    yield relative, handle.read().decode("utf-8", errors="replace")


def _wanted(folder: str, name: str) -> bool:
    return name == "apps.py" or (folder == "migrations" and name.endswith(".py"))


def _app_label(app_dir: PurePosixPath, files: Mapping[PurePosixPath, str]) -> str:
    """The app's label: its AppConfig's ``label`` in apps.py, else the folder's name (Django's default)."""
    source = files.get(app_dir / "apps.py")
    for node in ast.walk(_parse(source or "")):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if (isinstance(statement, ast.Assign) and any(getattr(t, "id", None) == "label" for t in statement.targets)
                        and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)):
                    return statement.value.value
    return app_dir.name


def _replaces(source: str) -> tuple[str, ...]:
    """``replaces = [("app", "0001_initial"), ...]`` of a squashed migration's ``Migration`` class."""
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            for statement in node.body:
                if isinstance(statement, ast.Assign) and any(getattr(t, "id", None) == "replaces"
                                                             for t in statement.targets):
                    with contextlib.suppress(ValueError, TypeError, SyntaxError):
                        return tuple(f"{app}.{name}" for app, name in ast.literal_eval(statement.value))
    return ()


def _parse(source: str) -> ast.AST:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return ast.Module(body=[], type_ignores=[])


#: the module-level names Alembic reads from a revision file
ALEMBIC_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")


class UnreadableRevision(ValueError):
    """A revision file whose identifiers cannot be read without running it (the message names file and name)."""


def read_alembic(path: Path) -> ReleaseMigrations:
    """The revisions and heads of an Alembic script directory (or of the one an alembic.ini names), never
    running its code: Alembic's ScriptDirectory finds the revision files (script_location, version_locations,
    sourceless, recursive_version_locations), each file's identifiers are parsed from its source
    (:func:`alembic_revision`), and Alembic's RevisionMap orders them and finds the heads. env.py is not run."""
    source = f"files in {path}"
    if not path.exists():
        return ReleaseMigrations(source, error=f"{path} does not exist")
    with _keeping_sys_path():
        if path.is_file():
            script = alembic_script.ScriptDirectory.from_config(alembic_config.Config(str(path)))
            source = f"files in {script.dir} (from {path})"
        else:
            script = alembic_script.ScriptDirectory(str(path))
        try:
            parsed = [alembic_revision(file) for file in _revision_files(script)]
        except UnreadableRevision as exc:
            return ReleaseMigrations(source, error=str(exc))
        script.revision_map = script_revision.RevisionMap(lambda: parsed)
        revisions = list(reversed(list(script.walk_revisions())))
        heads = tuple(script.get_heads())
        parents = {r.revision: _down(r.down_revision) + tuple(script.get_revision(d).revision  # type: ignore[union-attr]
                                                              for d in _down(r.dependencies))
                   for r in revisions}
    return ReleaseMigrations(source, names=tuple(r.revision for r in revisions), heads=heads, parents=parents)


def _revision_files(script: Any) -> Iterator[Path]:
    """The files Alembic loads as revisions, by its own listing and file-name rules (``*.py``, not
    ``__init__.py`` nor an editor's ``.#`` lock; with ``sourceless``, compiled files without their source)."""
    pattern = script_base._sourceless_rev_file if script.sourceless else script_base._only_source_rev_file
    seen: set[Path] = set()
    for location in map(Path, script._version_locations):
        for listed in map(Path, script_base.Script._list_py_dir(script, location) if location.exists() else ()):
            path = listed.resolve()
            found = pattern.match(path.name)
            if path in seen or not found:
                continue
            seen.add(path)
            if found.lastindex == 2 and found.group(2):  # compiled: skipped beside its source, as Alembic does
                if (path.parent / found.group(1)).exists() or (found.group(2) == "o" and
                                                               (path.parent / f"{found.group(1)}c").exists()):
                    continue
                raise UnreadableRevision(f"{path}: a compiled revision without its source (sourceless = true): gonogo "
                                         "reads a revision's source and never runs it; ship the .py files")
            yield path


def alembic_revision(path: Path) -> Any:
    """One revision file's identifiers as an Alembic ``Revision``, read from its source as literals (module-level
    ``revision = "..."`` or ``revision: str = "..."``): the file is never run, so its imports (the application's
    models, SQLModel, GeoAlchemy2) need not be installed in the gate."""
    read = read_text(path, FILE_LIMIT)
    if read.text is None:
        raise UnreadableRevision(f"{path} {read.error}")
    try:
        tree = ast.parse(read.text, filename=str(path))
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
        raise UnreadableRevision(f"{path}: SyntaxError: {getattr(exc, 'msg', exc)}{where}") from None
    found: dict[str, Any] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        elif isinstance(statement, ast.AugAssign):  # revision += "...": computed
            targets, value = [statement.target], None
        else:
            continue
        for target in targets:  # a name assigned (stored), alone or unpacked: only ``name = literal`` is read
            for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                         and n.id in ALEMBIC_NAMES):
                found[name] = _literal(path, name, value if isinstance(target, ast.Name) else None, statement)
    legacy = script_base._legacy_rev.match(path.name)
    if "revision" not in found and not legacy:
        raise UnreadableRevision(f"{path}: no module-level revision = \"...\": is it a revision file?")
    if "down_revision" not in found:
        raise UnreadableRevision(f"{path}: no module-level down_revision (None for a first revision)")
    revision = found.get("revision", legacy.group(1) if legacy else None)
    if not isinstance(revision, str):
        raise UnreadableRevision(f"{path}: revision is {revision!r}, not a string")
    try:
        return script_revision.Revision(revision, found["down_revision"], dependencies=found.get("depends_on"),
                        branch_labels=found.get("branch_labels"))
    except script_revision.RevisionError as exc:
        raise UnreadableRevision(f"{path}: {exc}") from None


def _literal(path: Path, name: str, value: ast.expr | None, statement: ast.stmt) -> str | tuple[str, ...] | None:
    """``value`` as Alembic would read it: a string, None, or a tuple or list of strings; anything computed
    (a call, a name, an f-string, unpacking) is an :class:`UnreadableRevision` naming the file and the name."""
    if value is not None:
        with contextlib.suppress(ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            literal = ast.literal_eval(value)
            if literal is None or isinstance(literal, str):
                return literal
            if isinstance(literal, (tuple, list)) and all(isinstance(item, str) for item in literal):
                return tuple(literal)
    raise UnreadableRevision(f"{path}: {name} is not a literal string, tuple of strings or None (line "
                             f"{statement.lineno}: {ast.unparse(statement)[:120]}): gonogo reads a revision's "
                             "identifiers without running it")


def _down(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@contextlib.contextmanager
def _keeping_sys_path() -> Iterator[None]:
    """An alembic.ini's prepend_sys_path is not the gate's: sys.path is left as it was; Alembic's warnings stay
    out of the gate's output (what they warn of ends in an error or in the fact)."""
    path = list(sys.path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.path[:] = path


def read_prisma(path: Path) -> ReleaseMigrations:
    """The migration folders of a ``prisma/migrations`` folder and the sha256 of each ``migration.sql``."""
    source = f"files in {path}"
    if not path.is_dir():
        return ReleaseMigrations(source, error=f"{path} {'is not a folder' if path.exists() else 'does not exist'}")
    checksums: dict[str, str] = {}
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        read = read_text(folder / "migration.sql", FILE_LIMIT)
        if read.text is None:
            return ReleaseMigrations(source, error=f"{folder.name}/migration.sql {read.error} "
                                                   "(prisma migrate deploy stops there)")
        checksums[folder.name] = hashlib.sha256(read.text.encode("utf-8")).hexdigest()
    return ReleaseMigrations(source, names=tuple(checksums), checksums=checksums)


READERS: dict[str, Callable[[Path], ReleaseMigrations]] = {
    "django": read_django_files, "alembic": read_alembic, "prisma": read_prisma}


# ---------------------------------------------------------------------------------- release: command

_PLAN_LINE = re.compile(r"^\[(?P<mark>[ X-])\]\s+(?P<app>[\w]+)\.(?P<name>\S+)")
_LIST_APP = re.compile(r"^(?P<app>\w+)\s*$")
_LIST_LINE = re.compile(r"^\s+\[(?P<mark>[ X-])\]\s+(?P<name>\S+)")


def parse_showmigrations(output: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every migration, the applied ones) from ``showmigrations --plan`` or its default listing.

    ``[X]`` is applied, ``[ ]`` is not, ``[-]`` is a squashed migration whose replaced ones are all
    applied (Django counts it applied)."""
    names: list[str] = []
    applied: list[str] = []
    app = None
    for line in output.splitlines():
        plan, item = _PLAN_LINE.match(line), _LIST_LINE.match(line)
        if plan:
            mark, name = plan["mark"], f"{plan['app']}.{plan['name']}"
        elif item and app:
            mark, name = item["mark"], f"{app}.{item['name']}"
        else:
            header = _LIST_APP.match(line)
            app = header["app"] if header else app
            continue
        names.append(name)
        if mark != " ":
            applied.append(name)
    return tuple(names), tuple(applied)


# ------------------------------------------------------------------------------------ comparison


def compare(tool: str, phase: str, release: ReleaseMigrations, database: DatabaseMigrations,
            ignore: Sequence[str] = ()) -> MigrationState:
    """The state: what is pending, unknown and failed (nothing is compared when a side was not read)."""
    state = MigrationState(tool, phase, release, database)
    if release.error or database.error:
        return state
    found = {"django": _django, "alembic": _alembic, "prisma": _prisma}[tool](release, database)
    unknown = found.pop("unknown", ())
    ignored = tuple(n for n in unknown if any(fnmatch.fnmatchcase(n, p) for p in ignore))
    return MigrationState(tool, phase, release, database, unknown=tuple(n for n in unknown if n not in ignored),
                          ignored=ignored, **found)


def _django(release: ReleaseMigrations, database: DatabaseMigrations) -> dict[str, Any]:
    rows = set(database.applied)
    if release.applied is not None:  # the release's own view (showmigrations)
        known = set(release.names)
        applied = set(release.applied)
        return {"pending": tuple(n for n in release.names if n not in applied),
                "unknown": tuple(n for n in database.applied if n not in known)}
    apps = set(release.apps)
    replaced = {r for rs in release.replaces.values() for r in rs}
    known = set(release.names) | replaced
    skip: set[str] = set()
    for squashed, olds in release.replaces.items():  # as Django's loader: the squash, or what it replaces
        done = [o in rows for o in olds]
        if all(done) or not any(done):
            skip.update(olds)
        else:
            skip.add(squashed)
        if all(done):
            rows.add(squashed)
    pending = [n for n in release.names if n not in rows and n not in skip]
    return {"pending": tuple(pending),
            "unknown": tuple(n for n in database.applied if n.split(".", 1)[0] in apps and n not in known),
            "not_compared": tuple(n for n in database.applied if n.split(".", 1)[0] not in apps)}


def _alembic(release: ReleaseMigrations, database: DatabaseMigrations) -> dict[str, Any]:
    known = [rev for rev in database.applied if rev in release.parents]
    applied: set[str] = set()
    todo = list(known)
    while todo:
        rev = todo.pop()
        if rev not in applied:
            applied.add(rev)
            todo.extend(release.parents.get(rev, ()))
    return {"pending": tuple(r for r in release.names if r not in applied),
            "unknown": tuple(r for r in database.applied if r not in release.parents)}


def _prisma(release: ReleaseMigrations, database: DatabaseMigrations) -> dict[str, Any]:
    latest = _latest(database.attempts)
    folders = set(release.names)
    reasons = {n: latest[n].status for n in release.names if n in latest and latest[n].status != "applied"}
    return {"pending": tuple(n for n in release.names if n not in latest or latest[n].status != "applied"),
            "unknown": tuple(n for n, a in latest.items() if a.status == "applied" and n not in folders),
            "failed": tuple(a.describe() for a in latest.values() if a.status in ("failed", "unfinished")),
            "modified": tuple(n for n, a in latest.items()
                              if a.status == "applied" and n in folders and a.checksum != release.checksums[n]),
            "reasons": reasons}


# ------------------------------------------------------------------------------------ the probe


class MigrationsProbe:
    """The migration state of the stack (``stack.migrations``): one reading per phase, shared by its checks."""

    def __init__(self, config: MigrationsConfig, db: DatabaseProbe, base_dir: Path,
                 commands: CommandProbe | None = None) -> None:
        self.config = config
        #: the stack's database (``stack.db``): read-only, time-bounded sessions
        self.db = db
        #: the profile's folder: ``scripts`` and ``previous_scripts`` are relative to it
        self.base_dir = base_dir
        #: runs ``command`` (``stack.commands``'s way): on this host, or in a container through ``[docker]``;
        #: without one, a probe that runs host commands only (a container command then says [docker] is missing)
        self.commands = commands if commands is not None else CommandProbe(base_dir, None)
        self._states: Memo[str, MigrationState] = Memo()

    def __repr__(self) -> str:
        return f"<migrations probe {self.config.tool} ({self.config.table_name})>"

    def state(self, phase: str) -> MigrationState:
        """The database against the release of ``phase`` (see :meth:`MigrationsConfig.release_for`); never raises."""
        kind, path = self.config.release_for(phase)

        def observe() -> MigrationState:
            release = self._release(kind, path)
            database = read_database(self.config.tool, self.config.table_name, self.db)
            return compare(self.config.tool, phase, release, database, self.config.ignore_unknown)

        cached = self._states.get(f"{kind}:{path}", observe)
        return cached if cached.phase == phase else dataclasses.replace(cached, phase=phase)

    def _release(self, kind: str, path: Path | None) -> ReleaseMigrations:
        if kind == "files" and path is not None:
            resolved = path if path.is_absolute() else (self.base_dir / path).resolve()
            problem = path_problem(resolved, folder_ok=True, limit=None)  # bounded in time by timeout_s, not size
            if problem:  # a FIFO or a device is never opened
                return ReleaseMigrations(f"files in {resolved}", error=f"{resolved} {problem}")
            return _release_files(resolved, READERS[self.config.tool], self.config.timeout_s)
        if kind == "command":
            return self._showmigrations()
        return ReleaseMigrations("nothing configured", error="the profile names no source for these migrations")

    def _showmigrations(self) -> ReleaseMigrations:
        config = self.config
        command = shlex.join(config.argv())
        entry = CommandEntry(name="migrations", service=None if config.host else config.service, host=config.host,
                             run=config.argv(), workdir=config.workdir, timeout_s=config.timeout_s)
        fact = self.commands.run(entry)  # bounded by timeout_s; on the host, killed with its children then
        place = "on the gate's" if config.host else "in"  # "on the gate's host, in /srv/shop"
        source = f"`{command}` {place} {fact.where}"
        if fact.exit_code != 0:
            return ReleaseMigrations(source, error=f"{fact.status_text}: {fact.last_words}")
        if fact.output_bytes > OUTPUT_LIMIT:  # only its end was kept: the first migrations would be missing
            return ReleaseMigrations(source, error=f"the listing is longer than the {OUTPUT_LIMIT // 1024} KiB "
                                                   "gonogo keeps of a command's output")
        names, applied = parse_showmigrations(fact.output)
        if not names:
            return ReleaseMigrations(source, error=f"the command listed no migration: {fact.last_words}")
        return ReleaseMigrations(source, names=names, applied=applied)


def from_stack(stack: Stack) -> MigrationsProbe:
    """``stack.migrations``: the migration state of ``[database] migrations``: its table, read through
    ``stack.db``, against the release's migrations (files relative to the profile, or Django's command in a
    service's container through ``[docker]`` or, with ``host = true``, on the gate's host)."""
    database = stack.section("database")
    if database.migrations is None:
        skips.not_configured(not_configured(stack.env, "[database] migrations"))
    folder = stack.env.path.parent.resolve()
    return MigrationsProbe(database.migrations, stack.db, folder,
                           CommandProbe(folder, stack.docker if stack.env.profile.docker else None))
