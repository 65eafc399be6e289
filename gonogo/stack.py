"""The stack under check, as the profile describes it: one lazily built probe per subject.

Checks take the session fixture ``stack`` and ask it for the probe of their subject
(``stack.http``, ``stack.docker``, ``stack.host``; ``stack.db``, ``stack.traefik``... as their checks land).
Resolve map, CA, hosts, timeouts and credentials are plumbed here once, so no check re-plumbs
them (pytest-testinfra's ``host.docker(...)`` module registry is the model). Asking for the probe
of a subject the profile does not describe skips the calling check as "not configured".
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from gonogo import skips
from gonogo.environment import LoadedEnvironment, not_configured
from gonogo.probes.docker import DockerProbe
from gonogo.probes.host import HostProbe
from gonogo.probes.http import HttpProbe


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

    def close(self) -> None:
        """Release what the probes hold (called once at the end of the session)."""
        for probe in list(self.__dict__.values()):
            close = getattr(probe, "close", None)
            if callable(close) and probe is not self.env:
                close()

    @cached_property
    def docker(self) -> DockerProbe:
        """The Docker engine of ``[docker]`` (its host, timeouts, Compose project)."""
        return DockerProbe(self.section("docker"))

    @cached_property
    def host(self) -> HostProbe:
        """The machine of ``[host]``: disk, ports, CPU, memory, artefacts and DNS (paths relative to the profile)."""
        return HostProbe(self.section("host"), base_dir=self.env.path.parent)

    @cached_property
    def http(self) -> HttpProbe:
        """HTTP(S) to the stack: the profile's ``resolve`` map (like curl --resolve) and CA file."""
        environment = self.env.profile.environment
        return HttpProbe(resolve=dict(environment.resolve), ca_file=self.env.ca_path)
