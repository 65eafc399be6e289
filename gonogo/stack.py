"""The stack under check, as the profile describes it: one lazily built probe per subject.

Checks take the session fixture ``stack`` and ask it for the probe of their subject (``stack.http``,
``stack.docker``, ``stack.db``...: every name of :data:`gonogo.subjects.SUBJECTS` with a probe). The first
time a name is asked for, the stack imports its probe module and calls its ``from_stack(stack)``, where
resolve map, CA, hosts, timeouts and credentials are plumbed once, so no check re-plumbs them
(pytest-testinfra's ``host.docker(...)`` module registry is the model); the probe is then kept for the
session. Asking for the probe of a subject the profile does not describe skips the calling check as
"not configured".
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from gonogo import skips, subjects
from gonogo.environment import LoadedEnvironment, not_configured

if TYPE_CHECKING:
    from gonogo.subjects import Probes
else:
    Probes = object


class Stack(Probes):
    """The environment's stack; each probe is built on first use and shared by the session."""

    def __init__(self, env: LoadedEnvironment) -> None:
        self.env = env
        self._building = threading.RLock()  # a probe is built once, whichever thread asks first

    def __repr__(self) -> str:
        return f"<stack {self.env.name} ({self.env.display_path})>"

    def __getattr__(self, name: str) -> Any:
        """``stack.<name>``: the probe of that subject, built by its factory on first use (then an attribute)."""
        subject = subjects.probe(name)
        if subject is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        with self.__dict__["_building"]:
            if name not in self.__dict__:
                self.__dict__[name] = subject.factory()(self)
            return self.__dict__[name]

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
        for name, probe in list(self.__dict__.items()):
            close = getattr(probe, "close", None)
            if subjects.probe(name) is not None and callable(close):
                close()
