"""The runbook steps that checks encode, read from STEPS.md tables (``| ID | phase | step |``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gonogo.environment import file_problem

#: What a step id looks like: a prefix, a step number, an optional sub-step (BTQ-2.1, SMK-13, BTQ-6.A).
STEP_ID = re.compile(r"^[A-Z][A-Z0-9]{1,9}-\d+(\.[0-9A-Z]+)?$")
STEP_ID_FORM = "PREFIX-N or PREFIX-N.M, e.g. BTQ-2.1, SMK-13, BTQ-6.A"
PACKAGED_STEPS = Path(__file__).parent / "data" / "STEPS.md"
_ROW = re.compile(r"^\|\s*(?P<id>[A-Z][A-Z0-9]{1,9}-[0-9][0-9A-Z.]*)\s*\|\s*(?P<phase>[a-z]+)\s*\|\s*(?P<text>.+?)\s*\|\s*$")


@dataclass(frozen=True)
class Step:
    id: str
    phase: str  # pre, post, rb, smoke, gate, manual
    text: str
    source: str


class StepsFileError(Exception):
    """A steps file that cannot be read: the message names it and says why."""


@cache
def load_steps(*paths: Path) -> dict[str, Step]:
    """All steps of the packaged catalogue plus those of ``paths`` (later files win)."""
    steps: dict[str, Step] = {}
    for path in (PACKAGED_STEPS, *paths):
        for line in _text(Path(path)).splitlines():
            row = _ROW.match(line)
            if row:
                steps[row["id"]] = Step(row["id"], row["phase"], row["text"], Path(path).name)
    return steps


def _text(path: Path) -> str:
    """The text of a steps file; StepsFileError unless it is a regular UTF-8 file (a FIFO is never waited on)."""
    problem = file_problem(path)
    if problem:
        raise StepsFileError(f"{path} {problem}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StepsFileError(f"{path}: cannot read it: {exc}") from None
