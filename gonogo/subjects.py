"""The subjects gonogo judges, in one table: what ``profile.<key>`` holds and what ``stack.<name>`` gives.

Each row of :data:`SUBJECTS` is one subject: its name (``stack.<name>``), the profile table it reads as TOML
writes it (``"[docker]"`` a table, ``"[[command]]"`` an array of tables; None when it reads other subjects'
tables), that table's section class in :mod:`gonogo.sections` and its probe factory in :mod:`gonogo.probes`
(``from_stack(stack)``, which holds the plumbing: resolve map, CA, paths relative to the profile...).
Nothing is imported before it is used, as pytest-testinfra's module registry does it: the profile model
imports the section classes when it is built (:mod:`gonogo.profile`), and the ``stack`` fixture imports a
probe module when a check first asks for ``stack.<name>`` (:class:`gonogo.stack.Stack`).

A new subject is its section (``gonogo/sections/<subject>.py``), its probe with ``from_stack``
(``gonogo/probes/<subject>.py``), its checks module (``checks/test_<subject>.py``), its probe tests
(``tests/probes/test_<subject>.py``), and its row here with its two typed lines below (for type checkers and
editors; ``tests/core/test_structure.py`` checks them against the table and prints the missing ones).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import Field

if TYPE_CHECKING:
    from gonogo.model import Section
    from gonogo.stack import Stack

SECTIONS = "gonogo.sections"
PROBES = "gonogo.probes"


@dataclass(frozen=True)
class Subject:
    """One row of the table: a subject, its profile table and its probe."""

    #: what the checks ask for: ``stack.<name>``
    name: str
    #: the profile table it reads, as TOML writes it (``"[docker]"``, ``"[[command]]"``), or None
    table: str | None
    #: that table's class, ``module:Class`` under gonogo.sections
    section: str | None
    #: the function of the stack that builds its probe, ``module:function`` under gonogo.probes, or None (a
    #: subject the checks judge through other probes: ``[[health]]`` through ``stack.http``)
    probe: str | None

    @property
    def key(self) -> str | None:
        """The profile's key for the table (``docker``, ``command``)."""
        return self.table.strip("[]") if self.table else None

    @property
    def many(self) -> bool:
        """An array of tables (``[[command]]``): a list in the profile, empty when absent."""
        return self.table is not None and self.table.startswith("[[")

    def section_class(self) -> type[Section]:
        """The table's section class (its module imported now)."""
        assert self.section is not None, f"{self.name} has no profile table"
        return _load(SECTIONS, self.section)  # type: ignore[no-any-return]

    def factory(self) -> Callable[[Stack], Any]:
        """The probe factory (its module imported now)."""
        assert self.probe is not None, f"{self.name} has no probe"
        return _load(PROBES, self.probe)  # type: ignore[no-any-return]


def _load(package: str, reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(f"{package}.{module}"), name)


SUBJECTS: tuple[Subject, ...] = (
    # the profile's tables in the order the profile model lists them (its errors and key hints keep that order)
    #       stack.<name>   profile table        section (gonogo.sections.)     probe (gonogo.probes.)
    Subject("config",      "[env_file_rules]",  "config:EnvFileRules",         "config:from_stack"),
    Subject("docker",      "[docker]",          "docker:DockerSection",        "docker:from_stack"),
    Subject("commands",    "[[command]]",       "commands:CommandEntry",       "commands:from_stack"),
    Subject("db",          "[database]",        "database:DatabaseSection",    "database:from_stack"),
    Subject("health",      "[[health]]",        "health:HealthEndpoint",       None),
    Subject("traefik",     "[traefik]",         "traefik:TraefikSection",      "traefik:from_stack"),
    Subject("websocket",   "[[websocket]]",     "websocket:WebsocketEndpoint", "websocket:from_stack"),
    Subject("frontend",    "[frontend]",        "frontend:FrontendSection",    "frontend:from_stack"),
    Subject("webhooks",    "[[webhook]]",       "webhooks:WebhookEndpoint",    "webhooks:from_stack"),
    Subject("isolation",   "[isolation]",       "isolation:IsolationSection",  "isolation:from_stack"),
    Subject("workers",     "[workers]",         "workers:WorkersSection",      "workers:from_stack"),
    Subject("backups",     "[backups]",         "backups:BackupsSection",      "backups:from_stack"),
    Subject("rollback",    "[rollback]",        "rollback:RollbackSection",    "rollback:from_stack"),
    Subject("tls",         "[tls]",             "tls:TlsSection",              "tls:from_stack"),
    Subject("host",        "[host]",            "host:HostSection",            "host:from_stack"),
    Subject("diff",        "[diff]",            "diff:DiffSection",            None),
    Subject("watch",       "[watch]",           "watch:WatchSection",          None),
    Subject("smoke",       "[smoke]",           "smoke:SmokeSection",          "smoke:from_stack"),
    # probes that read other subjects' tables
    Subject("http",        None,                None,                          "http:from_stack"),
    Subject("containers",  None,                None,                          "containers:from_stack"),
    Subject("logs",        None,                None,                          "logs:from_stack"),
    Subject("migrations",  None,                None,                          "migrations:from_stack"),
    Subject("restore",     None,                None,                          "restore:from_stack"),
)


@cache
def probe(name: str) -> Subject | None:
    """The subject whose probe ``stack.<name>`` is, or None."""
    return next((s for s in SUBJECTS if s.name == name and s.probe is not None), None)


def profile_fields() -> dict[str, Any]:
    """The profile model's field of each table, in the table's order: ``X | None`` (default None) for a table,
    ``list[X]`` (default empty) for an array of tables."""
    fields: dict[str, Any] = {}
    for subject in SUBJECTS:
        if subject.key is None:
            continue
        model = subject.section_class()
        fields[subject.key] = ((list[model], Field(default_factory=list)) if subject.many  # type: ignore[valid-type]
                               else (model | None, None))
    return fields


if TYPE_CHECKING:  # the same table for type checkers and editors (tests/core/test_structure.py keeps them equal)
    from gonogo.probes.backups import BackupsProbe
    from gonogo.probes.commands import CommandProbe
    from gonogo.probes.config import ConfigProbe
    from gonogo.probes.containers import ContainersProbe
    from gonogo.probes.database import DatabaseProbe
    from gonogo.probes.docker import DockerProbe
    from gonogo.probes.frontend import FrontendProbe
    from gonogo.probes.host import HostProbe
    from gonogo.probes.http import HttpProbe
    from gonogo.probes.isolation import IsolationProbe
    from gonogo.probes.logs import LogsProbe
    from gonogo.probes.migrations import MigrationsProbe
    from gonogo.probes.restore import RestoreProbe
    from gonogo.probes.rollback import RollbackProbe
    from gonogo.probes.smoke import SmokeConfig
    from gonogo.probes.tls import TlsProbe
    from gonogo.probes.traefik import TraefikProbe
    from gonogo.probes.webhooks import WebhookProbe
    from gonogo.probes.websocket import WebsocketProbe
    from gonogo.probes.workers import WorkersProbe
    from gonogo.sections.backups import BackupsSection
    from gonogo.sections.commands import CommandEntry
    from gonogo.sections.config import EnvFileRules
    from gonogo.sections.database import DatabaseSection
    from gonogo.sections.diff import DiffSection
    from gonogo.sections.docker import DockerSection
    from gonogo.sections.frontend import FrontendSection
    from gonogo.sections.health import HealthEndpoint
    from gonogo.sections.host import HostSection
    from gonogo.sections.isolation import IsolationSection
    from gonogo.sections.rollback import RollbackSection
    from gonogo.sections.smoke import SmokeSection
    from gonogo.sections.tls import TlsSection
    from gonogo.sections.traefik import TraefikSection
    from gonogo.sections.watch import WatchSection
    from gonogo.sections.webhooks import WebhookEndpoint
    from gonogo.sections.websocket import WebsocketEndpoint
    from gonogo.sections.workers import WorkersSection

    class Tables:
        """``profile.<key>``: each table's section, None when absent; each array of tables, a list."""

        env_file_rules: EnvFileRules | None
        docker: DockerSection | None
        command: list[CommandEntry]
        database: DatabaseSection | None
        health: list[HealthEndpoint]
        traefik: TraefikSection | None
        websocket: list[WebsocketEndpoint]
        frontend: FrontendSection | None
        webhook: list[WebhookEndpoint]
        isolation: IsolationSection | None
        workers: WorkersSection | None
        backups: BackupsSection | None
        rollback: RollbackSection | None
        tls: TlsSection | None
        host: HostSection | None
        diff: DiffSection | None
        watch: WatchSection | None
        smoke: SmokeSection | None

    class Probes:
        """``stack.<name>``: what each probe factory returns."""

        config: ConfigProbe
        docker: DockerProbe
        commands: CommandProbe
        db: DatabaseProbe
        traefik: TraefikProbe
        websocket: WebsocketProbe
        frontend: FrontendProbe
        webhooks: WebhookProbe
        isolation: IsolationProbe
        workers: WorkersProbe
        backups: BackupsProbe
        rollback: RollbackProbe
        tls: TlsProbe
        host: HostProbe
        smoke: SmokeConfig
        http: HttpProbe
        containers: ContainersProbe
        logs: LogsProbe
        migrations: MigrationsProbe
        restore: RestoreProbe
