"""``[[command]]``: a command run in a service's container or on the gate's host, and how it must end.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.commands`.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from gonogo.model import Section
from gonogo.sections.patterns import regex

Phase = Literal["predeploy", "postdeploy", "rollback"]
DEFAULT_PHASES: tuple[Phase, ...] = ("predeploy",)


class CommandEntry(Section):
    """One ``[[command]]``: what to run, where, within what time, and how it must end."""

    name: str
    #: run inside this Compose service's running container (found by its Compose labels)
    service: str | None = None
    #: run on the gate's host instead (a CI check command)
    host: bool = Field(default=False, validate_default=True)
    #: run ``run`` (a string) with ``/bin/sh -c``; otherwise no shell is involved
    shell: bool = False
    #: an argv list, or a string split like a shell would (quotes respected, nothing expanded)
    run: list[str] | str
    #: container: the directory inside it (default: the image's WORKDIR); host: relative to the profile's folder
    workdir: str | None = None
    #: the command must end within this; a container command still running then may go on running there
    timeout_s: float = Field(default=60, gt=0)
    expect_exit: int = 0
    #: a regular expression some of the output must match (``re.MULTILINE``: ``^`` and ``$`` are per line)
    expect_output: Annotated[str | None, regex("not a regular expression: {error}")] = None
    #: how many of the last lines of output are attached as evidence
    tail_lines: int = Field(default=40, ge=1)
    #: the phases whose runs include this command (``-m predeploy`` selects the predeploy ones)
    phases: list[Phase] = Field(default_factory=lambda: list(DEFAULT_PHASES), min_length=1)
    #: a failure of this command: blocker, critical or warning
    severity: Literal["blocker", "critical", "warning"] = "critical"
    #: the runbook steps this command encodes (e.g. BTQ-1.2)
    runbook: list[str] = Field(default_factory=list)

    @field_validator("host")
    @classmethod
    def _one_place(cls, host: bool, info: ValidationInfo) -> bool:
        if host == bool(info.data.get("service")):
            raise ValueError("say where the command runs: either service = \"<compose service>\" or host = true")
        return host

    @field_validator("run")
    @classmethod
    def _runnable(cls, run: list[str] | str, info: ValidationInfo) -> list[str] | str:
        if info.data.get("shell") and not isinstance(run, str):
            raise ValueError("with shell = true, run is one string for /bin/sh -c")
        words = run if isinstance(run, list) else [run] if info.data.get("shell") else shlex.split(run)
        if not words or not words[0]:
            raise ValueError("nothing to run")
        return run

    def argv(self) -> list[str]:
        """The argv to execute."""
        if isinstance(self.run, list):
            return list(self.run)
        return ["/bin/sh", "-c", self.run] if self.shell else shlex.split(self.run)

    @property
    def command(self) -> str:
        """The command as a person would type it."""
        return self.run if isinstance(self.run, str) else shlex.join(self.run)


class RunsACommand(Section):
    """A table whose keys are a command the commands probe runs (the beat's status, the backup schedule's):
    ``entry()`` makes the command, and a table whose command would not be a valid ``[[command]]`` is refused at
    load with that entry's own message."""

    def entry(self) -> CommandEntry:
        """The command, as the commands probe runs it."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _runnable(self) -> RunsACommand:
        try:
            self.entry()
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self
