"""Rollback: the release the stack runs and its rollback target, judged at two moments (``-m rollback``).

Runbook steps: RBK-3.2 (the current version read from the running services), RBK-3.1 and NPR-6
(before: the target exists, complete, for every service: "version X missing or incomplete" is a
NO-GO), BTQ-6.A and RBK-3.3 (after: every service runs the target), RBK-5.1 (after: the rollback
metrics file has this rollback's record). What else the phase judges after a rollback belongs to
its subject: health and frontend answer (RBK-3.3, SMK-5), ``manage.py check`` passes (SMK-5), the
database is at the target's migrations (``migrations.none_unknown[rollback]``, BTQ-6.B), the
backup restores (``restore``).

One run judges one moment: ``--rollback-moment=before|after``, or inferred (``auto``, the default)
from the release the services run and the target (``--rollback-to``, else ``[rollback] target``,
else ``[environment] previous_release``): every service on the target is "after", some of them a
partial rollback ("after", and ``runs_target`` fails), none of them and one release "before",
anything else (the engine does not answer, no container) unknown, and every moment-bound check
fails saying why. A check of the other moment is "not applicable", with the moment and why in its
reason (the gate's summary lists it); ``moment`` and ``current_version`` judge in both moments,
so neither moment is a run where nothing judged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from gonogo import judge, skips
from gonogo.probes.rollback import Moment, RollbackRecord, RunningRelease, infer_moment
from gonogo.sections.rollback import AFTER, BEFORE
from gonogo.stack import Stack

#: statuses of a rollback that went through (recyclic writes "success")
SUCCESS = ("success", "succeeded", "ok")
#: a record timestamped this far in the future is a clock problem, not this rollback
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Plan:
    """The rollback this run judges: its target (and where it came from), the running release, the moment."""

    target: str | None
    target_from: str
    running: RunningRelease
    moment: Moment


@pytest.fixture(scope="session")
def plan(stack: Stack, pytestconfig: pytest.Config) -> Plan:
    """The target, the running release (read once) and the moment of this run."""
    probe = stack.rollback
    section = stack.env.profile.rollback
    chosen = [(pytestconfig.getoption("gonogo_rollback_to"), "--rollback-to"),
              (section.target if section else None, "[rollback] target"),
              (stack.env.profile.environment.previous_release, "[environment] previous_release")]
    target, source = next(((t, s) for t, s in chosen if t), (None, "nothing"))
    running = probe.running()
    return Plan(target, source, running, infer_moment(running, target, pytestconfig.getoption("gonogo_rollback_moment")))


def _where(plan: Plan) -> str:
    r = plan.running
    return f"docker ps -a --filter label=com.docker.compose.project={r.project} (engine {r.host})"


def _target(plan: Plan) -> str:
    """The target, or fail the check: a rollback needs one."""
    judge("rollback target", bool(plan.target), expected="a release to roll back to",
          actual=f"none: {plan.target_from} is empty (set [rollback] target or pass --rollback-to)")
    return plan.target or ""


def _in_moment(plan: Plan, moment: str) -> str:
    """The target, when this run judges ``moment``; not applicable in the other; a failure when unknown."""
    target = _target(plan)
    known = plan.moment.name
    judge("rollback moment", known is not None, expected="before or after the rollback",
          actual=f"unknown: {plan.moment.why}", where=_where(plan), fact=plan.running)
    if known != moment:
        skips.not_applicable(f"not applicable {plan.moment.describe()}; this check judges {moment} the rollback")
    return target


@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RBK-3.2")
def test_moment(plan: Plan) -> None:
    """The run knows which side of the rollback it judges, and the running release agrees with it."""
    target = _target(plan)
    moment = plan.moment
    judge("rollback moment", moment.name is not None, expected="before or after the rollback",
          actual=f"unknown: {moment.why}", where=_where(plan), fact=plan.running)
    on_target = plan.running.on(target)
    if moment.name == BEFORE:
        judge("rollback moment", not on_target, expected=f"no service on the target {target} yet (before)",
              actual=f"{moment.describe()}, but {', '.join(on_target)} already run(s) {target}",
              where=_where(plan), fact=plan.running)
    else:
        judge("rollback moment", bool(on_target), expected=f"services on the target {target} (after)",
              actual=f"{moment.describe()}, but no service runs {target}: {plan.running.describe()}",
              where=_where(plan), fact=plan.running)


@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RBK-3.2")
def test_current_version(plan: Plan) -> None:
    """The current version is read from the running services: one image tag across the release's services."""
    running = plan.running
    services = ", ".join(s.service for s in running.services) or "the release's services"
    judge("current version", running.version is not None, expected=f"one image tag across {services}",
          actual="; ".join(running.problems()), where=_where(plan), fact=running)


@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RBK-3.1", "NPR-6")
def test_target_complete(plan: Plan, stack: Stack) -> None:
    """Before the rollback, the target exists, complete: each service's image at the target tag is in the engine."""
    target = _in_moment(plan, BEFORE)
    fact = stack.rollback.target(target, plan.running)
    incomplete = fact.incomplete
    judge(f"rollback target {target}", not incomplete,
          expected=f"the image of {target} in the engine for every service (nothing is pulled)",
          actual=f"version {target} missing or incomplete for service {', '.join(i.service for i in incomplete)}: "
                 + "; ".join(i.describe() for i in incomplete),
          where=f"docker image ls (engine {plan.running.host}); runbook RBK-3.1", fact=fact)


@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-6.A", "RBK-3.3")
def test_runs_target(plan: Plan) -> None:
    """After the rollback, every service runs the target release (its containers' image tag)."""
    target = _in_moment(plan, AFTER)
    off = [s.describe() for s in plan.running.services if s.tags != (target,)]
    judge(f"services on {target}", not off, expected=f"every service on {target}",
          actual=f"not on {target}: {', '.join(off)}", where=_where(plan), fact=plan.running)


def record_problems(record: RollbackRecord, target: str, max_age_h: float, now: dt.datetime) -> list[str]:
    """What keeps ``record`` from being the record of the rollback to ``target`` that just happened."""
    problems = []
    if record.version != target:
        problems.append(f"it records a rollback to {record.version or 'an unnamed version'}, not to {target}")
    if record.from_version == target:
        problems.append(f"it records a rollback from {target} to itself")
    if record.timestamp is None:
        problems.append("it has no readable timestamp")
    elif record.timestamp > now + CLOCK_SKEW:
        problems.append(f"its timestamp is in the future ({record.timestamp.isoformat()})")
    elif now - record.timestamp > dt.timedelta(hours=max_age_h):
        problems.append(f"it is older than {max_age_h:g} h ({record.timestamp.isoformat()})")
    if record.duration_s is None:
        problems.append("it has no duration")
    if (record.status or "").lower() not in SUCCESS:
        problems.append(f"its status is {record.status or 'missing'}, not success")
    return problems


@pytest.mark.rollback
@pytest.mark.severity("critical")
@pytest.mark.runbook("RBK-5.1")
def test_metrics_recorded(plan: Plan, stack: Stack) -> None:
    """After the rollback, the metrics file's newest record is this rollback's: time, versions, duration, success."""
    target = _in_moment(plan, AFTER)
    metrics = stack.rollback.metrics()
    where = f"{metrics.path}; runbook RBK-5.1"
    judge("rollback metrics file", metrics.error is None, expected="the rollback's records",
          actual=metrics.error, where=where, fact=metrics)
    newest = metrics.newest
    section = stack.env.profile.rollback
    max_age_h = section.metrics_max_age_h if section else 24
    problems = ["no record is readable"] if newest is None else \
        record_problems(newest, target, max_age_h, dt.datetime.now(dt.timezone.utc))
    judge("rollback metrics record", not problems,
          expected=f"the newest record: the rollback to {target}, within {max_age_h:g} h, with its duration, success",
          actual=f"{newest.describe() if newest else metrics.path.name}: {'; '.join(problems)}", where=where,
          fact=metrics)
