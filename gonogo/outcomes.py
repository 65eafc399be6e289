"""How each check ended: the outcome recorder (pure: no pytest objects, unit-tested alone).

pytest reports a test in phases (setup, call, teardown; xdist adds a report with ``when="???"``
when a worker dies in the middle of one). The recorder folds those phase reports into one
:class:`Outcome` per check, with the rules a release gate needs:

- a check passes only when its body ran to the end: a check with no call report did not pass;
- an assertion (or ``pytest.fail``) in the body is a judgement, ``failed``; any other exception,
  in the body, a fixture or a teardown, means the check could not judge, ``errored``;
- ``xfail`` and ``xpass`` are not passes: a check is judged, never expected to fail;
- a skip is ``not-configured`` only when gonogo raised it because the subject is absent from the
  profile; a placeholder for an optional sub-check that applies to nothing is ``not-applicable``;
  a check skipped because a check it depends on failed is ``dependent``; any other skip is
  ``skipped`` (the check did not run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
ERRORED = "errored"
SKIPPED = "skipped"
NOT_CONFIGURED = "not-configured"
NOT_APPLICABLE = "not-applicable"
DEPENDENT = "dependent"
NOT_RUN = "not-run"
#: every status a check can end with
STATUSES = (PASSED, FAILED, ERRORED, SKIPPED, NOT_CONFIGURED, NOT_APPLICABLE, DEPENDENT, NOT_RUN)
#: statuses of a check that was skipped (one way or another)
SKIP_KINDS = (SKIPPED, NOT_CONFIGURED, NOT_APPLICABLE, DEPENDENT)

#: what gonogo tells the user instead of accepting an expected failure
XFAIL_ADVICE = "a check is judged, never expected to fail: remove the xfail and use a [gate] waiver to accept a known failure"


@dataclass(frozen=True)
class PhaseReport:
    """What the recorder needs from one pytest report (built by the plugin, sent by xdist)."""

    nodeid: str
    #: setup, call, teardown; anything else is xdist's report of a worker that died ("???")
    when: str
    #: passed, failed or skipped (pytest's outcome)
    outcome: str
    #: one line: the assertion, the exception, the skip reason
    reason: str = ""
    duration_s: float = 0.0
    #: the xfail reason when the check was marked or called xfail (pytest's ``wasxfail``)
    wasxfail: str | None = None
    #: for a failure: True when the body judged (AssertionError, pytest.fail), False for any other exception
    judged: bool = True
    #: for a skip: not-configured, not-applicable, dependent or skipped
    skip_kind: str = SKIPPED
    convergence: tuple[dict[str, Any], ...] = ()
    #: for a dependent skip: the check it names (``gonogo.dependent(on, why)``)
    depends_on: str = ""


@dataclass
class Outcome:
    """How one check ended, with its one-line reason."""

    status: str
    reason: str = ""
    duration_s: float = 0.0
    convergence: list[dict[str, Any]] = field(default_factory=list)
    #: the phases pytest reported (a pass needs "call")
    seen: list[str] = field(default_factory=list)
    #: for a dependent skip: the check it names (legitimate only when that check failed in the run)
    depends_on: str = ""

    @property
    def not_configured(self) -> bool:
        return self.status == NOT_CONFIGURED

    @property
    def skipped(self) -> bool:
        return self.status in SKIP_KINDS


def classify(report: PhaseReport) -> tuple[str, str]:
    """The status and reason one phase report alone says."""
    if report.wasxfail is not None:
        if report.outcome == "passed":
            return FAILED, f"xpass: marked xfail ({report.wasxfail or 'no reason'}) but passed; {XFAIL_ADVICE}"
        return FAILED, f"xfail: {report.wasxfail or 'expected to fail'}; {XFAIL_ADVICE}"
    if report.outcome == "passed":
        return PASSED, ""
    if report.outcome == "skipped":
        return report.skip_kind, report.reason
    if report.when not in ("setup", "call", "teardown"):
        return ERRORED, report.reason or "the worker running it died"
    if report.when == "call" and report.judged:
        return FAILED, report.reason
    where = "teardown: " if report.when == "teardown" else ""
    return ERRORED, where + report.reason


class Recorder:
    """Folds phase reports into one :class:`Outcome` per check (controller side)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def record(self, report: PhaseReport) -> Outcome:
        status, reason = classify(report)
        current = self.outcomes.get(report.nodeid)
        if current is None:
            current = self.outcomes[report.nodeid] = Outcome(status, reason, depends_on=report.depends_on)
        else:
            self._merge(current, report.when, status, reason)
        current.duration_s += report.duration_s
        current.seen.append(report.when)
        if report.depends_on and current.status == DEPENDENT:
            current.depends_on = report.depends_on
        if report.convergence:
            current.convergence = list(report.convergence)
        return current

    @staticmethod
    def _merge(current: Outcome, when: str, status: str, reason: str) -> None:
        if current.status in (FAILED, ERRORED):
            return  # the first problem stays the reason
        if when == "call":
            if current.status == PASSED:  # setup passed: the call decides
                current.status, current.reason = status, reason
        elif status in (FAILED, ERRORED):
            # a teardown that breaks, or a worker that dies, after a pass or a skip: no judgement
            current.status, current.reason = status, reason

    def finish(self) -> dict[str, Outcome]:
        """Every outcome, with a 'passed' that never reached its call turned into 'not-run'."""
        for outcome in self.outcomes.values():
            if outcome.status == PASSED and "call" not in outcome.seen:
                outcome.status = NOT_RUN
                outcome.reason = "started but never finished: no result for its body"
        return self.outcomes
