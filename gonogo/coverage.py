"""Runbook coverage: which checks encode each step of STEPS.md, as the README's table, and how
each step fared in a run (``reports/coverage.md``).

``python -m gonogo.coverage --env=sandbox`` collects the suite against a profile (the runbook steps
of a ``[[health]]`` entry come from the profile) and prints one row per step: the checks that encode
it, or "manual" (a step no check can judge honestly), or "not automated yet".
``tests/sandbox/test_readme_coverage.py`` keeps the README's table equal to it.

After each run the plugin writes :func:`run_table` beside the verdict file: every step with its state
in that run (automated and passed, automated and failed, automated but not run, manual, not
automated yet) and the checks behind it.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterable

import pytest

from gonogo.checks import CheckInfo, describe
from gonogo.steps import Step, load_steps

#: the run's coverage, written beside the verdict file (reports/coverage.md)
RUN_FILE = "coverage.md"
MANUAL = "manual"
NOT_YET = "not automated yet"
PASSED_STATE = "automated, passed"
FAILED_STATE = "automated, failed"
NOT_RUN_STATE = "automated, not run in this run"
#: the states of a step in a run, in the order the summary counts them
STATES = (PASSED_STATE, FAILED_STATE, NOT_RUN_STATE, MANUAL, NOT_YET)
#: check statuses that make a step failed, and the one that makes it passed (gate.json's words)
_FAILING = ("failed", "errored", "waived")
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


def step_state(step: Step, statuses: list[str]) -> str:
    """A step's state in a run, from the statuses of the checks that encode it.

    Failed as soon as one of them failed, errored or was waived (a waived failure is still a
    failure of the step); passed when none failed and one passed; otherwise not run.
    """
    if not statuses:
        return MANUAL if step.phase == "manual" else NOT_YET
    if any(s in _FAILING for s in statuses):
        return FAILED_STATE
    return PASSED_STATE if "passed" in statuses else NOT_RUN_STATE


def run_table(steps: dict[str, Step], checks: Iterable[CheckInfo], statuses: dict[str, str]) -> str:
    """``reports/coverage.md``: every step with its state in this run and each check's status.

    ``statuses``: node id -> how the check ended (``passed``, ``failed``, ``errored``, ``waived``,
    ``not-configured``, ``deselected``...); a check absent from it did not run.
    """
    by_step: dict[str, list[tuple[str, str]]] = {}
    for check in checks:
        for step_id in check.runbook:
            by_step.setdefault(step_id, []).append((check.qualified_id, statuses.get(check.nodeid, "not-run")))
    rows = []
    counts = dict.fromkeys(STATES, 0)
    for step in steps.values():
        encoded = sorted(set(by_step.get(step.id, [])))
        state = step_state(step, [status for _, status in encoded])
        counts[state] += 1
        detail = ", ".join(f"`{cid}` {status}" for cid, status in encoded)
        rows.append(f"| {step.id} | {PHASE_NAMES.get(step.phase, step.phase)} | {state} | {step.text} | {detail} |")
    summary = "; ".join(f"{state}: {n}" for state, n in counts.items())
    return "\n".join(["# Runbook coverage of this run", "", f"{len(steps)} steps: {summary}.", "",
                      "| step | phase | state | what | checks (status in this run) |", "|---|---|---|---|---|", *rows]) + "\n"


class _Collector:
    """An in-process pytest plugin that keeps what each collected check says about itself."""

    def __init__(self) -> None:
        self.checks: list[CheckInfo] = []
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(str(report.nodeid or report.fspath))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        steps = load_steps()
        self.checks = [describe(item, steps) for item in session.items]


def collect(args: list[str]) -> list[CheckInfo]:
    """Collect the suite (``pytest --collect-only`` with ``args``) and return its checks."""
    collector = _Collector()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        status = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *args], plugins=[collector])
    # --collect-only judges nothing: gonogo ends it with no verdict, exit 1; only a collection error is a failure here
    if status not in (0, 1, 5) or collector.errors:
        raise SystemExit(f"collection failed (exit {int(status)}):\n{out.getvalue()}")
    return collector.checks


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    print(table(load_steps(), encoded_by(collect(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
