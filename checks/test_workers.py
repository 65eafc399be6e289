"""Workers: Redis answers, the Celery workers answer and consume their queues, beat holds its schedule.

Runbook steps: SMK-8 (Redis answers PING and reports its state: role, memory, clients, persistence),
SMK-7 (the Celery workers answer a ping; beat has its schedule), SMK-3.1 (the schedule holds the
backup task). Everything comes from ``[workers]``: the broker is reached from the gate's machine
(redis-py for PING and INFO; Celery's remote control for the ping and the queues, as ``celery
inspect ping`` does), the running beat's state through its status command in its container.
"""

from __future__ import annotations

import pytest

from gonogo import dependent, judge
from gonogo.environment import not_configured
from gonogo.probes.workers import WorkersFact
from gonogo.sections.workers import BeatSection
from gonogo.skips import not_configured as skip_not_configured
from gonogo.stack import Stack

pytestmark = [pytest.mark.postdeploy]

#: INFO fields whose value must be "ok" when Redis reports them (a failed save makes Redis refuse writes)
PERSISTENCE_OK = ("rdb_last_bgsave_status", "aof_last_write_status")


def _where(stack: Stack, what: str) -> str:
    return f"{what} ({stack.workers.url}; runbook SMK-7/SMK-8)"


@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-8")
def test_redis_answers(stack: Stack) -> None:
    """Redis answers PING and reports its state (role, memory, clients, persistence) in INFO."""
    fact = stack.workers.redis()
    judge("redis ping", fact.answered and fact.pong, expected="PONG", actual=fact.status_text,
          where=_where(stack, "redis-cli ping"), fact=fact)
    failed = [f"{key}={fact.info[key]}" for key in PERSISTENCE_OK if fact.info.get(key, "ok") != "ok"]
    judge("redis persistence", not failed, expected="the last save and append-only write ok",
          actual=", ".join(failed), where=_where(stack, "redis-cli info persistence"), fact=fact)


def _answering(stack: Stack) -> WorkersFact:
    fact = stack.workers.workers()
    judge("celery broker", fact.answered, expected="the broker to answer Celery's remote control",
          actual=fact.status_text, where=_where(stack, "celery inspect ping"), fact=fact)
    return fact


@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-7")
def test_workers_answer_ping(stack: Stack) -> None:
    """The expected Celery workers (at least min_workers) answer a ping through the broker within timeout_s."""
    section = stack.workers.section
    fact = _answering(stack)
    missing = [name for name in section.workers if name not in fact.replies]
    wanted = f"{', '.join(section.workers)}" if section.workers else f"at least {section.min_workers} worker(s)"
    judge("celery ping", not missing and len(fact.replies) >= section.min_workers,
          expected=f"{wanted} to answer within {section.timeout_s:g} s",
          actual=fact.status_text + (f"; no answer from {', '.join(missing)}" if missing and fact.replies else ""),
          where=_where(stack, "celery inspect ping"), fact=fact)


@pytest.mark.severity("critical")
@pytest.mark.runbook("SMK-7")
def test_queues_consumed(stack: Stack) -> None:
    """Every queue of [workers] queues is consumed by a worker that answers."""
    section = stack.workers.section
    fact = _answering(stack)
    if not fact.replies:
        dependent("workers.workers_answer_ping", "no worker answered: none can consume a queue")
    missing = sorted(set(section.queues) - fact.consumed)
    judge("celery queues", not missing, expected=f"queues {', '.join(section.queues)} consumed",
          actual=f"nobody consumes {', '.join(missing)}; workers: {fact.status_text}",
          where=_where(stack, "celery inspect active_queues"), fact=fact)


def _beat(stack: Stack) -> BeatSection:
    beat = stack.workers.section.beat
    if beat is None:
        skip_not_configured(not_configured(stack.env, "[workers.beat]"))
    return beat


@pytest.mark.severity("critical")
@pytest.mark.runbook("SMK-7", "SMK-3.1")
def test_beat_schedules(stack: Stack) -> None:
    """Celery beat is running (its last tick recent) and schedules the expected tasks (the backup task)."""
    beat = _beat(stack)
    fact = stack.workers.beat()
    where = f"{fact.command.where}: `{fact.command.command}`"
    judge("beat state", fact.error is None, expected="the running beat's state (tasks, last tick)",
          actual=fact.status_text, where=where, fact=fact)
    age = fact.tick_age_s if fact.tick_age_s is not None else float("inf")
    judge("beat tick", age <= beat.max_tick_age_s, expected=f"a tick within the last {beat.max_tick_age_s:g} s",
          actual=f"the last tick {age:.0f} s ago: beat has stopped scheduling", where=where, fact=fact)
    missing = [task for task in beat.tasks if task not in fact.tasks]
    judge("beat schedule", not missing, expected=f"{', '.join(beat.tasks)} scheduled",
          actual=f"{', '.join(missing)} not in the schedule ({', '.join(fact.tasks) or 'empty'})",
          where=where, fact=fact)
