"""``[database] migrations``: the migration tool and where the release's migrations are read.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.migrations`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from gonogo.model import Section

Tool = Literal["django", "alembic", "prisma"]

#: the command that lists a Django release's migrations, applied or not, in its container
DJANGO_COMMAND = ("python", "manage.py", "showmigrations", "--plan")
#: each tool's table of applied migrations
TABLES: dict[str, str] = {"django": "django_migrations", "alembic": "alembic_version",
                          "prisma": "_prisma_migrations"}


#: a table's name as a profile writes it: ``table`` or ``schema.table``
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


class MigrationsConfig(Section):
    """``[database] migrations``: the migration tool, the release's migrations, how to read them."""

    tool: Tool
    #: the release's migrations, relative to the profile: django: its source tree (a folder, or a
    #: .tar.gz/.tgz/.tar archive of it); alembic: its script directory or its alembic.ini;
    #: prisma: its prisma/migrations folder
    scripts: Path | None = None
    #: alembic, prisma: the previous release's, for the rollback phase
    previous_scripts: Path | None = None
    #: django: the Compose service whose running container runs ``command`` (after a deploy or a rollback)
    service: str | None = None
    #: django: run ``command`` on the gate's host instead, as a ``[[command]]`` with ``host = true`` runs
    host: bool = False
    #: django: lists the release's migrations, applied or not (``showmigrations --plan`` or its default list)
    command: list[str] | str = Field(default_factory=lambda: list(DJANGO_COMMAND))
    #: django: the directory the command runs in: in the container (default: the image's WORKDIR), or on the
    #: host (relative to the profile's folder, which is the default)
    workdir: str | None = None
    #: reading the release's migrations (files, or the command) must end within this
    timeout_s: float = Field(default=60, gt=0)
    #: the tool's table, if not its default (schema-qualified allowed: ``audit.alembic_version``)
    table: str | None = None
    #: applied migrations the release may not know (globs on ``app.name``, a revision, a folder name):
    #: an app removed on purpose, the migrations a squashed one replaced
    ignore_unknown: list[str] = Field(default_factory=list)
    #: the release is the first one deployed into an empty database: before the deploy, the table may be
    #: absent (otherwise an absent table fails: the DSN may name the wrong database); remove it once deployed
    first_deploy: bool = False

    @field_validator("service", "host", "workdir")
    @classmethod
    def _django_only(cls, value: str | bool | None, info: ValidationInfo) -> str | bool | None:
        tool = info.data.get("tool")
        if value not in (None, False) and tool in ("alembic", "prisma"):
            raise ValueError(f"only django runs a command (in a container or on the host); {tool} reads its "
                             "migrations from files (scripts)")
        return value

    @field_validator("host")
    @classmethod
    def _one_place(cls, host: bool, info: ValidationInfo) -> bool:
        if host and info.data.get("service"):
            raise ValueError("say where showmigrations runs: either service = \"<compose service>\" (in its "
                             "container) or host = true (on the gate's host), not both")
        return host

    @field_validator("table")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not TABLE_NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a table name (letters, digits, _ and $; schema.table allowed)")
        return value

    @field_validator("command")
    @classmethod
    def _runnable(cls, value: list[str] | str) -> list[str] | str:
        try:
            words = value if isinstance(value, list) else shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split it like a shell would: {exc}") from None
        if not words or not words[0]:
            raise ValueError("nothing to run")
        return value

    @property
    def table_name(self) -> str:
        return self.table or TABLES[self.tool]

    def release_for(self, phase: str) -> tuple[str, Path | None]:
        """Where the release's migrations are read in ``phase``: ``("files", path)``, ``("command", None)``,
        or ``("missing", None)`` with :meth:`missing_key` saying which key is absent."""
        if self.tool == "django" and phase != "predeploy":
            return ("command", None) if self.service or self.host else ("missing", None)
        path = self.previous_scripts if phase == "rollback" and self.tool != "django" else self.scripts
        return ("files", path) if path is not None else ("missing", None)

    def missing_key(self, phase: str) -> str:
        """The key ``phase`` needs and the profile does not set (for "not configured")."""
        if self.tool == "django":
            return ("[database] migrations.scripts (the release's source tree)" if phase == "predeploy"
                    else "[database] migrations.service (the container that runs showmigrations) or "
                         "migrations.host = true (showmigrations runs on the gate's host)")
        if phase == "rollback":
            return "[database] migrations.previous_scripts (the previous release's migrations)"
        return "[database] migrations.scripts"

    def argv(self) -> list[str]:
        """The command's argv (a string is split like a shell would: quotes kept, nothing expanded)."""
        return list(self.command) if isinstance(self.command, list) else shlex.split(self.command)
