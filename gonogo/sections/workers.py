"""``[workers]``: Redis (the Celery broker), the workers that consume it and the beat that schedules their tasks.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.workers`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from gonogo.model import Section
from gonogo.sections.commands import CommandEntry, RunsACommand


class BeatSection(RunsACommand):
    """A command that prints the running Celery beat's state as JSON, and what it must say.

    The JSON is an object with ``tasks`` (the task names the running beat schedules) and
    ``tick_age_s`` (seconds since its last tick, measured where it runs: no clock skew), e.g. the
    sandbox's ``python beat_status.py``.
    """

    #: run inside this Compose service's running container (the beat's)
    service: str | None = None
    #: run on the gate's host instead
    host: bool = False
    #: an argv list, or a string split like a shell would
    run: list[str] | str
    shell: bool = False
    timeout_s: float = Field(default=30, gt=0)
    #: task names the beat must schedule (e.g. the backup task)
    tasks: list[str] = Field(min_length=1)
    #: the beat's last tick may be at most this old (a beat that stopped ticking schedules nothing)
    max_tick_age_s: float = Field(default=60, gt=0)

    def entry(self) -> CommandEntry:
        """The command, as the commands probe runs it."""
        return CommandEntry(name="beat-status", **self.model_dump(exclude={"tasks", "max_tick_age_s"}))


class WorkersSection(Section):
    """Redis (the Celery broker), the workers that consume it and the beat that schedules their tasks."""

    #: the broker: ``redis://[:password@]host:port/db`` (a secret: masked everywhere)
    redis_url: SecretStr
    #: bound of every connection, command and control request (a ping waits this long for replies)
    timeout_s: float = Field(default=5, gt=0)
    #: worker node names that must answer a ping (``celery@host``, ``worker@boutique``); empty: any
    workers: list[str] = Field(default_factory=list)
    #: at least this many workers must answer
    min_workers: int = Field(default=1, ge=1)
    #: queues that some answering worker must consume
    queues: list[str] = Field(default_factory=lambda: ["celery"])
    beat: BeatSection | None = None

    @model_validator(mode="after")
    def _a_redis_url(self) -> WorkersSection:
        scheme = urlsplit(self.redis_url.get_secret_value()).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"redis_url: a redis://, rediss:// or unix:// URL, not {scheme or 'no scheme'}://")
        return self
