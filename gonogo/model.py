"""The base of every profile table: unknown keys are errors, values are frozen.

Each subject's table is declared on this base in its own section module (``gonogo/sections/<subject>.py``),
apart from its probe (``gonogo/probes/<subject>.py``), so that loading a profile imports no probe and no client
library; :mod:`gonogo.profile` assembles them into the whole profile.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """One table of a profile (``[docker]``, ``[[health]]``...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
