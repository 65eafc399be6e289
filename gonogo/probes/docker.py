"""Docker probe: the engine the stack runs on, through its API (docker-py), and the ``[docker]`` table.

``stack.docker`` is a :class:`DockerProbe` built from ``[docker]``: one client per session, every
call bounded by ``timeout_s``. Facts only: an engine that does not answer is an
:class:`EngineFact` with ``answered=False`` and the error, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import docker
from pydantic import Field

from gonogo.model import Section
from gonogo.secrets import masker


class DockerSection(Section):
    """The Docker engine and the Compose project of the stack."""

    host: str = "unix:///var/run/docker.sock"
    timeout_s: float = 10
    compose_project: str
    compose_file: Path | None = None
    services: list[str] = Field(default_factory=list)
    same_release_tag: list[str] = Field(default_factory=list)
    #: one-shot services and the exit code they must have ended with
    one_shot: dict[str, int] = Field(default_factory=dict)
    proxy_network: str | None = None
    healthy_within_s: float = 120
    log_tail: int = 100
    log_errors: list[str] = Field(default_factory=lambda: ["ERROR", "Traceback", "CRITICAL"])
    log_allow: list[str] = Field(default_factory=list)


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

    def __init__(self, section: DockerSection) -> None:
        self.section = section

    def __repr__(self) -> str:
        return masker.mask(f"<docker probe {self.section.host}>")

    @cached_property
    def client(self) -> docker.DockerClient:
        """The API client (created on first use; it connects on its first call)."""
        return docker.DockerClient(base_url=self.section.host, timeout=self.section.timeout_s)

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
        labels = [f"com.docker.compose.project={self.section.compose_project}",
                  f"com.docker.compose.service={service}"]
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
