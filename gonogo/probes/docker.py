"""Docker probe: the engine the stack runs on, through its API (docker-py), and the ``[docker]`` table.

``stack.docker`` is a :class:`DockerProbe` built from ``[docker]``: one client per session, every
call bounded by ``timeout_s``. Facts only: an engine that does not answer is an
:class:`EngineFact` with ``answered=False`` and the error, never an exception.

A remote engine (``host = "ssh://user@host[:port]"``) goes through docker-py's paramiko transport
(the remote host runs ``docker system dial-stdio``), with the TCP connect, the SSH banner, the
authentication and each channel bounded by ``timeout_s`` too (docker-py leaves them unbounded).
An engine that did not answer within ``timeout_s`` is not asked again in the run
(:mod:`gonogo.probes.silence`): each later check gets that first error at once.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationInfo, field_validator

from gonogo.model import Section
from gonogo.probes import silence
from gonogo.secrets import masker

if TYPE_CHECKING:  # docker-py (and paramiko under it) is imported when a probe first talks to an engine
    import docker


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
    log_errors: list[str] = Field(default_factory=lambda: ["ERROR", "Traceback", "CRITICAL"])
    #: regular expressions: a line that matches one is never counted (errors or triggers)
    log_allow: list[str] = Field(default_factory=list)
    #: regular expressions of the RBK-2 rollback triggers: 5xx answers, database errors (logs.no_rollback_trigger)
    log_triggers: list[str] = Field(default_factory=lambda: list(DEFAULT_TRIGGERS))
    #: how many trigger lines a service's log may hold before it is a rollback trigger
    max_log_triggers: int = Field(default=0, ge=0)

    @field_validator("log_errors", "log_allow", "log_triggers")
    @classmethod
    def _regular_expressions(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        check = {"log_errors": "logs.free_of_errors", "log_triggers": "logs.no_rollback_trigger"}.get(info.field_name or "")
        if check and not patterns:  # nothing to search for: the check would pass on any log
            raise ValueError(f"is empty: {check} would search the logs for nothing; remove the key for the default")
        return regular_expressions(patterns)


def regular_expressions(patterns: list[str]) -> list[str]:
    """``patterns`` when each is a regular expression; ValueError naming the first that is not."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
    return patterns


def compose_labels(project: str, service: str) -> list[str]:
    """The labels by which the containers of a Compose service are found."""
    return [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]


def no_container(project: str, service: str, what: str = "container") -> str:
    """What a service without a container says: the service, its project and the labels looked for."""
    return f"no {what} of service {service} in Compose project {project} (labels {', '.join(compose_labels(project, service))})"


@dataclass(frozen=True)
class EngineFact:
    """Whether the Docker engine answered, and what it said about itself."""

    host: str
    answered: bool
    elapsed_ms: float
    version: str | None = None
    api_version: str | None = None
    os: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def evidence_name(self) -> str:
        return masker.mask(f"docker engine {self.host}")

    def evidence(self) -> str:
        if not self.answered:
            return masker.mask(f"{self.host}: no answer after {self.elapsed_ms:.0f} ms: {self.error}")
        lines = [f"{self.host}: Docker Engine {self.version} (API {self.api_version}, {self.os})",
                 *(f"{k}: {v}" for k, v in sorted(self.details.items()))]
        return masker.mask("\n".join(lines))

    def __repr__(self) -> str:
        if not self.answered:
            return masker.mask(f"<docker {self.host}: no answer: {self.error}>")
        return masker.mask(f"<docker {self.host}: {self.version} (API {self.api_version})>")


@dataclass(frozen=True)
class ServiceContainer:
    """One container of a Compose service, as the engine lists it."""

    id: str
    name: str
    image: str
    #: running, exited, restarting, paused, created, dead
    state: str
    #: the engine's words, e.g. "Up 5 minutes (healthy)", "Exited (1) 2 minutes ago"
    status: str

    def __repr__(self) -> str:
        return f"<container {self.name} {self.state} ({self.image})>"


class DockerProbe:
    """The stack's Docker engine (``stack.docker``): one client, every call bounded by ``timeout_s``."""

    def __init__(self, section: DockerSection, base_dir: Path | None = None) -> None:
        self.section = section
        self.base_dir = base_dir or Path.cwd()

    def __repr__(self) -> str:
        return masker.mask(f"<docker probe {self.section.host}>")

    @cached_property
    def client(self) -> docker.DockerClient:
        """The API client (created on first use; it asks the engine for its API version, bounded).
        An engine that does not answer raises docker's (or paramiko's) error: callers make it a fact."""
        import docker

        host = self.section.host
        silence.refuse(host)  # it did not answer earlier in this run: not asked again
        try:
            if host.startswith("ssh://"):
                return self._ssh_client()
            return docker.DockerClient(base_url=host, timeout=self.section.timeout_s)
        except Exception as exc:
            if silence.timed_out(exc):
                silence.record(host, "its version", error_text(exc), at_once=True)
            raise

    def _path(self, path: Path | None) -> Path | None:
        return None if path is None else path if path.is_absolute() else (self.base_dir / path).resolve()

    def _ssh_client(self) -> docker.DockerClient:
        """A client whose API goes through a :class:`~gonogo.probes.docker_ssh.BoundedSSHAdapter` to the ssh:// host."""
        import docker

        from gonogo.probes.docker_ssh import BoundedSSHAdapter

        timeout = self.section.timeout_s
        adapter = BoundedSSHAdapter(self.section.host, timeout, key=self._path(self.section.ssh_key),
                                    known_hosts=self._path(self.section.ssh_known_hosts))
        try:
            # docker-py builds its own, unbounded, SSH adapter for an ssh:// base_url: start from a client
            # that connects nowhere (a fixed API version: no call), then route its API through ours
            client = docker.DockerClient(base_url="tcp://127.0.0.1:9", version="1.24", timeout=timeout)
            client.api.mount("http+docker://ssh", adapter)
            client.api.base_url = "http+docker://ssh"
            client.api._version = client.api.version(api_version=False)["ApiVersion"]
        except BaseException:
            adapter.close()
            raise
        return client

    def engine(self) -> EngineFact:
        """Ask the engine for its version: whether it answers, and which engine it is."""
        start = time.perf_counter()
        try:
            info = self.client.version()
        except Exception as exc:  # refused, no socket, timeout, TLS, bad URL: a fact
            return EngineFact(self.section.host, False, _ms(start), error=error_text(exc))
        keep = ("KernelVersion", "Arch", "GoVersion", "MinAPIVersion")
        return EngineFact(self.section.host, True, _ms(start), version=info.get("Version"),
                          api_version=info.get("ApiVersion"), os=info.get("Os"),
                          details={k: info[k] for k in keep if k in info})

    def service_containers(self, service: str) -> list[ServiceContainer]:
        """The containers of ``service`` in ``compose_project`` (by Compose's labels), running or not,
        one-off ``compose run`` containers left out. One bounded API call; an engine that does not
        answer raises docker's error, which the caller turns into its fact."""
        labels = compose_labels(self.section.compose_project, service)
        listed = self.client.api.containers(all=True, filters={"label": labels})
        found = [ServiceContainer(id=c["Id"], name=(c.get("Names") or [c["Id"][:12]])[0].lstrip("/"),
                                  image=c.get("Image", ""), state=c.get("State", ""), status=c.get("Status", ""))
                 for c in listed if (c.get("Labels") or {}).get("com.docker.compose.oneoff") != "True"]
        return sorted(found, key=lambda c: c.name)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def error_text(exc: BaseException) -> str:
    """The useful line of a docker-py error (it wraps requests' and urllib3's)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
