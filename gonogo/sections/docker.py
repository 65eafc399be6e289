"""``[docker]``: the Docker engine, the Compose project, its services and their logs.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.docker`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from gonogo.model import Section
from gonogo.sections.patterns import regex

#: an access line with a 5xx status (uvicorn, gunicorn, nginx, Traefik: `"GET /x HTTP/1.1" 502`), and
#: the database errors of Django/SQLAlchemy/psycopg and of node's pg
DEFAULT_TRIGGERS = (r'HTTP/[0-9.]+" 5[0-9][0-9]\b', r"OperationalError", r"could not connect to server",
                    r"connection to server at .* failed", r"ECONNREFUSED .*:5432")


class DockerSection(Section):
    """The Docker engine and the Compose project of the stack."""

    #: the engine's API: unix:///path, tcp://host:port or ssh://user@host[:port]
    host: str = "unix:///var/run/docker.sock"
    #: each Docker API call (and, for ssh://, each step of the SSH connection)
    timeout_s: float = 10
    #: ssh:// only: the private key to log in with (default: ~/.ssh/config's IdentityFile, the agent, ~/.ssh/id_*)
    ssh_key: Path | None = None
    #: ssh:// only: the known_hosts file that must hold the engine host's key (default: ~/.ssh/known_hosts)
    ssh_known_hosts: Path | None = None
    compose_project: str
    compose_file: Path | None = None
    services: list[str] = Field(default_factory=list)
    same_release_tag: list[str] = Field(default_factory=list)
    #: one-shot services and the exit code they must have ended with
    one_shot: dict[str, int] = Field(default_factory=dict)
    proxy_network: str | None = None
    #: how long a service may take to be running and healthy after a deploy
    healthy_within_s: float = 120
    #: a service is stable when every container has been up this long without a restart: containers up for
    #: longer are judged at once, younger ones watched until they are (a restart meanwhile fails)
    restart_watch_s: float = Field(default=10, ge=0)
    #: per container, like `docker stats` (100 = one core); absent: no CPU check
    max_cpu_percent: float | None = None
    #: per container, of its memory limit (the host's memory when it has none); absent: no memory check
    max_memory_percent: float | None = None
    #: the logs checks read at most this many of each container's last lines...
    log_tail: int = Field(default=100, ge=1)
    #: ...written since the container started and, when set, within the last this many seconds
    log_since_s: float | None = Field(default=None, gt=0)
    #: regular expressions: a line that matches one is an error (logs.free_of_errors)
    log_errors: Annotated[list[str], regex()] = Field(default_factory=lambda: ["ERROR", "Traceback", "CRITICAL"])
    #: regular expressions: a line that matches one is never counted (errors or triggers)
    log_allow: Annotated[list[str], regex()] = Field(default_factory=list)
    #: regular expressions of the RBK-2 rollback triggers: 5xx answers, database errors (logs.no_rollback_trigger)
    log_triggers: Annotated[list[str], regex()] = Field(default_factory=lambda: list(DEFAULT_TRIGGERS))
    #: how many trigger lines a service's log may hold before it is a rollback trigger
    max_log_triggers: int = Field(default=0, ge=0)

    @field_validator("log_errors", "log_triggers")
    @classmethod
    def _searched_for(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        check = {"log_errors": "logs.free_of_errors", "log_triggers": "logs.no_rollback_trigger"}[info.field_name or ""]
        if not patterns:  # nothing to search for: the check would pass on any log
            raise ValueError(f"is empty: {check} would search the logs for nothing; remove the key for the default")
        return patterns
