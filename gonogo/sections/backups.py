"""``[backups]``: where the stack's backups are, what they must look like, their schedule and the restore test's scratch database.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.backups`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from gonogo.model import Section
from gonogo.sections.commands import CommandEntry, RunsACommand
from gonogo.sections.database import readable_dsn


class BackupSchedule(RunsACommand):
    """A command that prints the backup schedule (run like a ``[[command]]``) and the task it must list."""

    #: run inside this Compose service's running container (e.g. the Celery beat or worker)
    service: str | None = None
    #: run on the gate's host instead
    host: bool = False
    #: an argv list, or a string split like a shell would
    run: list[str] | str
    shell: bool = False
    timeout_s: float = Field(default=60, gt=0)
    #: a regular expression the output must match: the scheduled backup task
    expect_output: str

    def entry(self) -> CommandEntry:
        """The command, as the commands probe runs it."""
        return CommandEntry(name="backup-schedule", **self.model_dump())


class BackupsSection(Section):
    """Where the stack's backups are and what they must look like: ``[backups]``."""

    #: the folder holding the backups (relative to the profile)
    dir: Path
    #: the database dumps, a glob (``boutique_prod_*.sql.gz``)
    pattern: str
    #: plain (``.sql``/``.sql.gz``) or custom (``pg_dump -Fc``); default: from the file name
    format: Literal["auto", "plain", "custom"] = "auto"
    #: the media archives, a glob (optional)
    media_pattern: str | None = None
    #: the sha256 sidecar of each file: ``{name}.sha256`` (X.sql.gz.sha256), ``{stem}.sha256``
    #: (X.sha256), or false when the stack writes none
    sidecar: str | Literal[False] = "{name}.sha256"
    #: the manifest describing the newest set, or false when the stack writes none
    manifest: str | Literal[False] = "manifest.json"
    #: the newest dump must be younger than this (hours)
    max_age_h: float = 24
    #: the newest dump may not be smaller than this share of the one before it
    min_size_ratio: float = 0.5
    #: nothing older than this many days may be left, and at least one backup inside it
    retention_days: float | None = None
    #: pg_restore must read a custom dump to its end within this many seconds, or it is stopped (measured:
    #: some 65 MB of dump a second, one core; the default covers about 35 GB)
    read_timeout_s: float = Field(default=600, gt=0)
    #: the backup task is scheduled (SMK-3.1): a command and the task its output must name
    schedule: BackupSchedule | None = None
    #: a scratch database to test a restore in (a DSN, a secret): never the stack's own (the restore subject,
    #: gonogo/probes/restore.py); its role must own that database: the restore empties it before and after
    restore_into: SecretStr | None = None
    #: tables a restored backup must hold, each with rows (``shop_sale`` or ``schema.table``)
    expect_tables: list[str] = Field(default_factory=list)
    #: the restore also runs before a deploy (``-m predeploy``); it always runs in the rollback phase
    restore_before_deploy: bool = False
    #: psql or pg_restore must be done within this many seconds, or they are killed (nothing is kept)
    restore_timeout_s: float = Field(default=600, gt=0)

    @field_validator("restore_into")
    @classmethod
    def _restore_into_readable(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is None else readable_dsn(value)

    @field_validator("sidecar")
    @classmethod
    def _sidecar_names_the_file(cls, value: str | bool) -> str | bool:
        if value is not False and "{name}" not in str(value) and "{stem}" not in str(value):
            raise ValueError("must contain {name} or {stem} (e.g. '{name}.sha256'), or be false")
        return value
