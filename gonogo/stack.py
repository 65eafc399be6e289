"""The stack under check, as the profile describes it: one lazily built probe per subject.

Checks take the session fixture ``stack`` and ask it for the probe of their subject
(``stack.http``, ``stack.docker``, ``stack.commands``, ``stack.host``, ``stack.db``, ``stack.migrations``,
``stack.websocket``, ``stack.webhooks``, ``stack.frontend``, ``stack.workers``, ``stack.isolation``,
``stack.rollback``, ``stack.containers``, ``stack.logs``, ``stack.smoke``, ``stack.traefik``).
Resolve map, CA, hosts, timeouts and credentials are plumbed here once, so no check re-plumbs
them (pytest-testinfra's ``host.docker(...)`` module registry is the model). Asking for the probe
of a subject the profile does not describe skips the calling check as "not configured".
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from gonogo import skips
from gonogo.environment import LoadedEnvironment, not_configured
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
from gonogo.probes.smoke import SmokeConfig, load_config
from gonogo.sections.smoke import SUITE_DEFAULTS
from gonogo.probes.tls import TlsProbe
from gonogo.probes.webhooks import WebhookProbe
from gonogo.probes.websocket import WebsocketProbe
from gonogo.probes.traefik import TraefikProbe
from gonogo.probes.workers import WorkersProbe


class Stack:
    """The environment's stack; each probe is built on first use and shared by the session."""

    def __init__(self, env: LoadedEnvironment) -> None:
        self.env = env

    def __repr__(self) -> str:
        return f"<stack {self.env.name} ({self.env.display_path})>"

    def section(self, name: str) -> Any:
        """The profile table ``name``, or skip the calling check as not configured."""
        value = getattr(self.env.profile, name)
        if value is None or value == []:
            skips.not_configured(not_configured(self.env, f"[{name}]"))
        return value

    def needs(self, name: str, why: str) -> Any:
        """The table ``name`` of another subject that the calling check judges its own subject through (``docker``
        for the compose file of ``config``, the daemon of ``host``), or skip the check as "not applicable: needs
        [name]" (``why`` says what it would read there): a required subject is not missing for it."""
        value = getattr(self.env.profile, name)
        if value is None or value == []:
            skips.needs(name, f"{why}; {self.env.display_path} has no [{name}]")
        return value

    def close(self) -> None:
        """Release what the probes hold (called once at the end of the session)."""
        for probe in list(self.__dict__.values()):
            close = getattr(probe, "close", None)
            if callable(close) and probe is not self.env:
                close()

    @cached_property
    def backups(self) -> BackupsProbe:
        """The backups of ``[backups]``: the folder (relative to the profile), its dumps, sidecars, manifest."""
        section = self.section("backups")
        return BackupsProbe(section, self.env.resolve_path(section.dir))

    @cached_property
    def commands(self) -> CommandProbe:
        """Runs the ``[[command]]`` entries: in a service's container (through ``[docker]``) or on this host."""
        return CommandProbe(self.env.path.parent.resolve(), self.docker if self.env.profile.docker else None)

    @cached_property
    def config(self) -> ConfigProbe:
        """The stack's configuration files: the env files of ``[environment] env_file`` and the compose file
        of ``[docker] compose_file`` (interpolated from those env files and this process's environment)."""
        profile = self.env.profile
        compose_file = profile.docker.compose_file if profile.docker else None
        return ConfigProbe(env_files=self.env.env_files,
                           compose_file=self.env.resolve_path(compose_file) if compose_file else None,
                           public=profile.environment.public_variables, profile_dir=self.env.path.parent,
                           environ=os.environ)

    @cached_property
    def containers(self) -> ContainersProbe:
        """The containers of ``[docker] services`` and ``one_shot``: state, health, restarts, image, usage."""
        return ContainersProbe(self.docker)

    @cached_property
    def db(self) -> DatabaseProbe:
        """The stack's database of ``[database]``: read-only sessions bounded by its connect and statement timeouts."""
        return DatabaseProbe(self.section("database"))

    @cached_property
    def docker(self) -> DockerProbe:
        """The Docker engine of ``[docker]`` (its host, timeouts, Compose project; SSH files relative to the profile)."""
        return DockerProbe(self.section("docker"), base_dir=self.env.path.parent)

    @cached_property
    def frontend(self) -> FrontendProbe:
        """The frontend of ``[frontend]``: its pages and their assets through ``stack.http``, its server's
        configuration test in its service's container through ``stack.commands``."""
        return FrontendProbe(self.section("frontend"), self.http, self.commands)

    @cached_property
    def host(self) -> HostProbe:
        """The machine of ``[host]``: disk, ports, CPU, memory, artefacts and DNS (paths relative to the profile)."""
        return HostProbe(self.section("host"), base_dir=self.env.path.parent)

    @cached_property
    def http(self) -> HttpProbe:
        """HTTP(S) to the stack: the profile's ``resolve`` map (like curl --resolve) and CA file."""
        environment = self.env.profile.environment
        return HttpProbe(resolve=dict(environment.resolve), ca_file=self.env.ca_path)

    @cached_property
    def isolation(self) -> IsolationProbe:
        """What ``[docker] compose_project`` shares with the other projects of ``[isolation]``, on ``[docker]``'s engine."""
        section = self.section("isolation")
        self.needs("docker", "the projects' volumes and networks are read through its engine")
        return IsolationProbe(section, self.docker)

    @cached_property
    def logs(self) -> LogsProbe:
        """The recent log lines of each service of ``[docker]`` (``log_tail``, ``log_since_s``, ``log_allow``)."""
        return LogsProbe(self.docker)

    @cached_property
    def migrations(self) -> MigrationsProbe:
        """The migration state of ``[database] migrations``: its table, read through ``stack.db``, against the
        release's migrations (files relative to the profile, or Django's command in a service's container through
        ``[docker]`` or, with ``host = true``, on the gate's host)."""
        database = self.section("database")
        if database.migrations is None:
            skips.not_configured(not_configured(self.env, "[database] migrations"))
        folder = self.env.path.parent.resolve()
        return MigrationsProbe(database.migrations, self.db, folder,
                               CommandProbe(folder, self.docker if self.env.profile.docker else None))

    @cached_property
    def restore(self) -> RestoreProbe:
        """The restore test of ``[backups]``: its newest dump into ``restore_into``, guarded against
        ``[database] dsn`` (a profile without ``[database]`` gets a guard that refuses)."""
        backups = self.section("backups")
        if backups.restore_into is None:
            skips.not_configured(not_configured(self.env, "[backups] restore_into"))
        database = self.env.profile.database
        return RestoreProbe(backups, self.env.resolve_path(backups.dir), database.dsn if database else None,
                            connect_timeout_s=database.connect_timeout_s if database else 5)

    @cached_property
    def rollback(self) -> RollbackProbe:
        """The release the services of ``[rollback]`` run and their target images, through ``[docker]``'s engine;
        the rollback metrics file (relative to the profile)."""
        section = self.section("rollback")
        docker = self.needs("docker", "the services' releases are read through its engine")
        services = section.services or docker.same_release_tag
        if not services:
            skips.not_configured(not_configured(self.env, "[rollback] services (or [docker] same_release_tag)"))
        metrics = self.env.resolve_path(section.metrics_file) if section.metrics_file else None
        return RollbackProbe(self.docker, list(services), metrics)

    @cached_property
    def smoke(self) -> SmokeConfig:
        """The smoke flows' settings: ``[smoke]`` merged over its defaults file (``[smoke] defaults``, relative to
        the profile; else the suite's own, relative to the rootdir), the Chromium to launch, and the resolve map
        and CA file for the browser."""
        section = self.section("smoke")
        if section.chromium is not None:
            section = section.model_copy(update={"chromium": self.env.resolve_path(section.chromium)})
        defaults = self.env.resolve_path(section.defaults) if section.defaults else self.env.suite_path(SUITE_DEFAULTS)
        return load_config(section, defaults, dict(self.env.profile.environment.resolve), self.env.ca_path,
                           dict(os.environ))

    @cached_property
    def tls(self) -> TlsProbe:
        """TLS handshakes: the resolve map, the CA file and ``[tls] timeout_s``."""
        section = self.section("tls")
        environment = self.env.profile.environment
        return TlsProbe(resolve=dict(environment.resolve), ca_file=self.env.ca_path, timeout_s=section.timeout_s)

    @cached_property
    def traefik(self) -> TraefikProbe:
        """Traefik of ``[traefik]``: its API and entrypoints through ``stack.http`` (resolve map, CA), each
        request bounded by ``[traefik] timeout_s``; routes without ``rule_host`` go to the public domain."""
        return TraefikProbe(self.section("traefik"), self.http, default_host=self.env.profile.environment.public_domain)

    @cached_property
    def webhooks(self) -> WebhookProbe:
        """Events without a valid signature for the ``[[webhook]]`` endpoints, through ``stack.http``."""
        self.section("webhook")
        return WebhookProbe(self.http)

    @cached_property
    def websocket(self) -> WebsocketProbe:
        """Websocket upgrades of the ``[[websocket]]`` endpoints: the resolve map and the CA file."""
        self.section("websocket")
        environment = self.env.profile.environment
        return WebsocketProbe(resolve=dict(environment.resolve), ca_file=self.env.ca_path)

    @cached_property
    def workers(self) -> WorkersProbe:
        """Redis, the Celery workers and beat of ``[workers]``: the broker from this machine, the beat's
        status command through ``stack.commands``."""
        return WorkersProbe(self.section("workers"), self.commands)
