"""The stack under check, as the profile describes it: one lazily built probe per subject.

Checks take the session fixture ``stack`` and ask it for the probe of their subject
(``stack.http`` today; ``stack.docker``, ``stack.db``, ``stack.traefik``... as their checks land).
Resolve map, CA, hosts, timeouts and credentials are plumbed here once, so no check re-plumbs
them (pytest-testinfra's ``host.docker(...)`` module registry is the model).
"""

from __future__ import annotations

from functools import cached_property

from gonogo.environment import LoadedEnvironment
from gonogo.probes.http import HttpProbe


class Stack:
    """The environment's stack; each probe is built on first use and shared by the session."""

    def __init__(self, env: LoadedEnvironment) -> None:
        self.env = env

    def __repr__(self) -> str:
        return f"<stack {self.env.name} ({self.env.display_path})>"

    @cached_property
    def http(self) -> HttpProbe:
        """HTTP(S) to the stack: the profile's ``resolve`` map (like curl --resolve) and CA file."""
        environment = self.env.profile.environment
        return HttpProbe(resolve=dict(environment.resolve), ca_file=self.env.ca_path)
