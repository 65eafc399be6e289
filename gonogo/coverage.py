"""Runbook coverage: which checks encode each step of STEPS.md, as the README's table.

``python -m gonogo.coverage --env=sandbox`` collects the suite against a profile (the runbook steps
of a ``[[health]]`` entry come from the profile) and prints one row per step: the checks that encode
it, or "manual" (a step no check can judge honestly), or "not automated yet".
``tests/sandbox/test_readme_coverage.py`` keeps the README's table equal to it.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterable

import pytest

from gonogo.checks import CheckInfo, describe
from gonogo.steps import Step, load_steps

MANUAL = "manual"
NOT_YET = "not automated yet"
#: STEPS.md phases, as the table writes them
PHASE_NAMES = {"pre": "predeploy", "post": "postdeploy", "rb": "rollback", "smoke": "smoke", "gate": "gate",
               "manual": "manual"}


def encoded_by(checks: Iterable[CheckInfo]) -> dict[str, list[str]]:
    """Step id -> the checks that encode it (``subject.check``, parameters left out), sorted."""
    found: dict[str, set[str]] = {}
    for check in checks:
        base = check.check_id.split("[", 1)[0]
        for step in check.runbook:
            found.setdefault(step, set()).add(f"{check.subject}.{base}")
    return {step: sorted(ids) for step, ids in found.items()}


def table(steps: dict[str, Step], encoded: dict[str, list[str]]) -> str:
    """The markdown table: every step, with the checks that encode it or why none does."""
    lines = ["| step | phase | what | encoded by |", "|---|---|---|---|"]
    for step in steps.values():
        checks = encoded.get(step.id)
        by = ", ".join(f"`{c}`" for c in checks) if checks else (MANUAL if step.phase == "manual" else NOT_YET)
        lines.append(f"| {step.id} | {PHASE_NAMES.get(step.phase, step.phase)} | {step.text} | {by} |")
    return "\n".join(lines)


class _Collector:
    """An in-process pytest plugin that keeps what each collected check says about itself."""

    def __init__(self) -> None:
        self.checks: list[CheckInfo] = []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        steps = load_steps()
        self.checks = [describe(item, steps) for item in session.items]


def collect(args: list[str]) -> list[CheckInfo]:
    """Collect the suite (``pytest --collect-only`` with ``args``) and return its checks."""
    collector = _Collector()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        status = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *args], plugins=[collector])
    if status not in (0, 5):
        raise SystemExit(f"collection failed (exit {int(status)}):\n{out.getvalue()}")
    return collector.checks


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    print(table(load_steps(), encoded_by(collect(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
