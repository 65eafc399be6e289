"""``[database]``: gonogo's read-only session to the stack's database (its ``migrations`` sub-table is in :mod:`gonogo.sections.migrations`).

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.database`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from gonogo import lazy
from gonogo.model import Section
from gonogo.sections.migrations import TABLE_NAME, MigrationsConfig

if TYPE_CHECKING:
    import psycopg
    from psycopg import conninfo
else:
    psycopg = lazy.module("psycopg")
    conninfo = lazy.module("psycopg.conninfo")


#: a schema's name as the profile writes it (a plain identifier)
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


class SessionsConfig(Section):
    """``[database.sessions]``: what the other sessions may hold before a deploy, and the connections' headroom
    (NPR-7). Every key has the default a careful DBA would pick; gonogo's own sessions are never counted as holding
    anything (their ``application_name`` is ``gonogo``), but their connections are."""

    #: a session idle inside a transaction longer than this keeps its locks for nothing: a migration waits on it
    idle_in_transaction_max_s: float = Field(default=60, gt=0)
    #: a statement running longer than this (a report, a stuck query) makes a migration's lock wait behind it
    query_max_s: float = Field(default=60, gt=0)
    #: a lock on a watched table held by a transaction older than this (a lock lasts until its transaction ends)
    lock_max_s: float = Field(default=30, gt=0)
    #: the tables the release's migrations alter (``table`` or ``schema.table``); empty: every table of ``schemas``
    tables: list[str] = Field(default_factory=list)
    #: the application's schemas (empty: every schema but PostgreSQL's own)
    schemas: list[str] = Field(default_factory=list)
    #: connections in use, at most this share (percent) of those the server lets ordinary roles open
    #: (``max_connections`` minus ``superuser_reserved_connections`` and ``reserved_connections``)
    max_connections_used_percent: float = Field(default=80, gt=0, le=100)

    @field_validator("tables", "schemas")
    @classmethod
    def _names(cls, value: list[str], info: ValidationInfo) -> list[str]:
        pattern, kind = ((TABLE_NAME, "a table name (table or schema.table: ") if info.field_name == "tables"
                         else (SCHEMA_NAME, "a schema name ("))
        for name in value:
            if not pattern.fullmatch(name):
                raise ValueError(f"{name!r} is not {kind}letters, digits, _ and $)")
        return value


class DatabaseSection(Section):
    """``[database]``: a read-only connection to the stack's database."""

    #: a libpq DSN (``postgresql://user:password@host:port/dbname`` or ``host=... dbname=...``); a
    #: secret: ``dsn.get_secret_value()`` gives the text, its repr is masked by construction
    dsn: SecretStr
    #: the whole connection attempt (TCP, TLS, authentication), in whole seconds, at least 2 (libpq's rule)
    connect_timeout_s: int = Field(default=5, ge=2)
    #: every statement of a session; the server cancels a statement that runs longer
    statement_timeout_ms: int = Field(default=5000, gt=0)
    #: the migration tool and the release's migrations (``gonogo/probes/migrations.py``)
    migrations: MigrationsConfig | None = None
    #: what the other sessions may hold before a deploy, and the connections' headroom (defaults apply without it)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)

    @field_validator("dsn")
    @classmethod
    def _dsn_readable(cls, value: SecretStr) -> SecretStr:
        return readable_dsn(value)


#: why a DSN libpq cannot parse is refused, in gonogo's words: libpq's own message may quote a word of the password
MALFORMED_DSN = ("libpq cannot parse it as a connection string (its message is not shown: it may quote the "
                 "password): write a postgresql://user:password@host:port/dbname URL with the password "
                 "percent-encoded, or key=value words with a value that holds spaces or quotes in single quotes "
                 "(password='...', a quote in it as \\')")


#: a postgresql:// URL whose every part is plain (letters, digits, ``.``, ``_``, ``~``, ``-``; a numeric port; no
#: query, no percent-encoding): libpq reads every such URL (tests/core/test_structure.py asks libpq), so loading
#: a profile imports psycopg only for a DSN of another shape
PLAIN_URL = re.compile(r"postgres(?:ql)?://(?:[\w.~-]+(?::[\w.~-]*)?@)?[A-Za-z0-9.-]*(?::[0-9]{1,5})?(?:/[\w.~-]*)?",
                       re.ASCII)


def dsn_problem(dsn: str) -> str | None:
    """Why libpq cannot parse ``dsn`` (:data:`MALFORMED_DSN`), or None."""
    if PLAIN_URL.fullmatch(dsn):
        return None
    try:
        conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return MALFORMED_DSN
    return None


def readable_dsn(value: SecretStr) -> SecretStr:
    """A profile's DSN, refused at load (one line naming the file and key) when libpq cannot parse it."""
    problem = dsn_problem(value.get_secret_value())
    if problem is not None:
        raise ValueError(problem)
    return value
