"""``[rollback]``: the rollback target, the services that carry the release's tag, the metrics file; and the
rollback moments ``--rollback-moment`` accepts.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.rollback`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from gonogo.model import Section

BEFORE = "before"
AFTER = "after"
#: what ``--rollback-moment`` accepts (``auto``: inferred from the running release and the target)
MOMENTS = (BEFORE, AFTER, "auto")


class RollbackSection(Section):
    """The rollback target, the services that carry the release's tag, and the rollback metrics file."""

    #: the release to roll back to (an image tag); ``--rollback-to`` wins; default ``[environment] previous_release``
    target: str | None = None
    #: the services whose image tag is the release; default ``[docker] same_release_tag``
    services: list[str] = Field(default_factory=list)
    #: where the rollback script records each rollback (JSON lines, or one JSON object or array; relative to the profile)
    metrics_file: Path | None = None
    #: after a rollback, its metrics record must be at most this old
    metrics_max_age_h: float = 24
