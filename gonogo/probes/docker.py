"""Docker probe: the engine the stack runs on, through its API with docker-py (``[docker]``:
:mod:`gonogo.sections.docker`).

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

from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonogo import lazy
from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.memo import memo_of, memoised
from gonogo.probes import silence
from gonogo.secrets import masker
from gonogo.sections.docker import DockerSection

if TYPE_CHECKING:
    import docker

    from gonogo.probes import docker_ssh
    from gonogo.stack import Stack
else:  # docker-py (and paramiko, for ssh://) is imported when a probe first talks to an engine
    docker = lazy.module("docker")
    docker_ssh = lazy.module("gonogo.probes.docker_ssh")


def compose_labels(project: str, service: str) -> list[str]:
    """The labels by which the containers of a Compose service are found."""
    return [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]


def no_container(project: str, service: str, what: str = "container") -> str:
    """What a service without a container says: the service, its project and the labels looked for."""
    return f"no {what} of service {service} in Compose project {project} (labels {', '.join(compose_labels(project, service))})"


class EngineFact(Observed):
    """Whether the Docker engine answered, and what it said about itself."""

    EVIDENCE_NAME = "docker engine {host}"

    host: str
    answered: bool
    elapsed_ms: float
    version: str | None = None
    api_version: str | None = None
    os: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    def evidence(self) -> str:
        if not self.answered:
            return masker.mask(f"{self.host}: {no_answer(self.elapsed_ms, self.error)}")
        lines = [f"{self.host}: Docker Engine {self.version} (API {self.api_version}, {self.os})",
                 *(f"{k}: {v}" for k, v in sorted(self.details.items()))]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if not self.answered:
            return f"<docker {self.host}: no answer: {self.error}>"
        return f"<docker {self.host}: {self.version} (API {self.api_version})>"


class ServiceContainer(Observed):
    """One container of a Compose service, as the engine lists it."""

    id: str
    name: str
    image: str
    #: running, exited, restarting, paused, created, dead
    state: str
    #: the engine's words, e.g. "Up 5 minutes (healthy)", "Exited (1) 2 minutes ago"
    status: str

    def one_line(self) -> str:
        return f"<container {self.name} {self.state} ({self.image})>"


class DockerProbe:
    """The stack's Docker engine (``stack.docker``): one client, every call bounded by ``timeout_s``."""

    def __init__(self, section: DockerSection, base_dir: Path | None = None) -> None:
        self.section = section
        self.base_dir = base_dir or Path.cwd()

    def __repr__(self) -> str:
        return masker.mask(f"<docker probe {self.section.host}>")

    @memoised
    def client(self) -> docker.DockerClient:
        """The API client (created on first use; it asks the engine for its API version, bounded).
        An engine that does not answer raises docker's (or paramiko's) error: callers make it a fact."""
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
        timeout = self.section.timeout_s
        adapter = docker_ssh.BoundedSSHAdapter(self.section.host, timeout, key=self._path(self.section.ssh_key),
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
        watch = Stopwatch()
        try:
            info = self.client.version()
        except Exception as exc:  # refused, no socket, timeout, TLS, bad URL: a fact
            return EngineFact(self.section.host, False, watch.ms(), error=error_text(exc))
        keep = ("KernelVersion", "Arch", "GoVersion", "MinAPIVersion")
        return EngineFact(self.section.host, True, watch.ms(), version=info.get("Version"),
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
        if "client" in memo_of(self):
            self.client.close()


def error_text(exc: BaseException) -> str:
    """The useful line of a docker-py error (it wraps requests' and urllib3's)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def from_stack(stack: Stack) -> DockerProbe:
    """``stack.docker``: the Docker engine of ``[docker]`` (its host, timeouts, Compose project; SSH files relative
    to the profile)."""
    return DockerProbe(stack.section("docker"), base_dir=stack.env.path.parent)
