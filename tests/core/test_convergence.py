"""Waiting for convergence: the ``converge`` fixture end to end, and ``wait_until`` with a fake clock."""

from __future__ import annotations

import re

import pytest

from gonogo.waiting import ConvergenceTimeout, expect, wait_until

CHECKS = """
import itertools

def test_ready(converge):
    answers = itertools.chain(["starting", "starting"], itertools.repeat("ok"))
    converge(lambda: next(answers), lambda state: state == "ok", timeout_s=10, interval_s=0.01, what="ready endpoint")

def test_live(converge):
    converge(lambda: "ok", lambda state: state == "ok", timeout_s=10, interval_s=0.01, what="live endpoint")

def test_workers(converge):
    converge(lambda: "0 of 2 workers", lambda state: state.startswith("2"), timeout_s=0.3, interval_s=0.05,
             what="celery workers")
"""


def test_converge_records_retries_and_lists_every_attempt_on_timeout(run_gate):
    run = run_gate({"test_stack.py": CHECKS})
    gate = run.gate

    # passed after retries: named in gate.json with its attempts (not the one that passed at once)
    assert run.ids("converged_after_retries") == ["stack.ready"], run.log
    [retried] = gate["converged_after_retries"]
    assert (retried["what"], retried["attempts"], retried["converged"]) == ("ready endpoint", 3, True)
    assert retried["timeout_s"] == 10
    assert "stack.ready passed after 3 attempts" in run.out

    # timed out: the check fails and its failure lists every attempt
    assert run.ids("failed") == ["stack.workers"]
    reason = gate["failed"][0]["reason"]
    found = re.search(r"celery workers: did not converge after (\d+) attempt\(s\)", reason)
    assert found, reason
    attempts = int(found.group(1))
    assert attempts >= 2
    listed = re.findall(r"#(\d+) at +[\d.]+s no +'0 of 2 workers'", run.out)
    assert listed == [str(n) for n in range(1, attempts + 1)], run.log
    attachments = [p.read_text() for p in run.allure_dir.glob("*-attachment*")]
    assert any("celery workers: did not converge" in text and f"#{attempts} at" in text for text in attachments)


class FakeClock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def sequence(*values):
    items = iter(values)

    def probe():
        value = next(items)
        if isinstance(value, Exception):
            raise value
        return value

    return probe


def test_wait_until_converges_after_retries():
    clock = FakeClock()
    result = wait_until(sequence(0, 1, 2, 5), lambda n: n >= 2, timeout_s=10, interval_s=2, what="replicas",
                        clock=clock, sleep=clock.sleep)

    assert result.converged and result.retried
    assert result.value == 2
    assert [(a.number, a.at_s, a.ok, a.summary) for a in result.attempts] == [
        (1, 0.0, False, "0"), (2, 2.0, False, "1"), (3, 4.0, True, "2")]
    assert clock.sleeps == [2, 2]
    assert expect(result) == 2
    assert result.as_dict() == {"what": "replicas", "converged": True, "attempts": 3, "seconds": 4.0, "timeout_s": 10}


def test_wait_until_times_out_and_expect_lists_every_attempt():
    clock = FakeClock()
    result = wait_until(lambda: "down", lambda s: s == "up", timeout_s=5, interval_s=1, what="db",
                        clock=clock, sleep=clock.sleep)

    assert not result.converged
    assert [a.at_s for a in result.attempts] == [0, 1, 2, 3, 4, 5]  # never sleeps past the deadline
    assert result.value == "down"
    with pytest.raises(ConvergenceTimeout) as caught:
        expect(result)
    message = str(caught.value)
    assert message.startswith("db: did not converge after 6 attempt(s) in 5.0s (deadline 5s)")
    assert [int(n) for n in re.findall(r"#(\d+) at", message)] == [1, 2, 3, 4, 5, 6]
    assert caught.value.convergence is result


def test_first_attempt_success_is_not_a_retry():
    clock = FakeClock()
    result = wait_until(lambda: 1, timeout_s=5, clock=clock, sleep=clock.sleep)

    assert result.converged and not result.retried
    assert clock.sleeps == []


def test_probe_errors_are_failed_attempts():
    clock = FakeClock()
    result = wait_until(sequence(ConnectionError("refused"), TimeoutError("slow"), "ok"), timeout_s=10,
                        interval_s=1, clock=clock, sleep=clock.sleep)

    assert result.converged and result.value == "ok"
    assert [a.summary for a in result.attempts] == ["ConnectionError: refused", "TimeoutError: slow", "'ok'"]


def test_probe_error_at_the_deadline_is_raised_when_nothing_ever_answered():
    clock = FakeClock()

    def probe():
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError, match="refused"):
        wait_until(probe, timeout_s=3, interval_s=1, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [1, 1, 1]


def test_probe_error_at_the_deadline_after_an_answer_keeps_the_answer():
    clock = FakeClock()
    result = wait_until(sequence("starting", ConnectionError("refused")), lambda s: s == "ok", timeout_s=1,
                        interval_s=1, clock=clock, sleep=clock.sleep)

    assert not result.converged
    assert result.value == "starting"
    assert result.attempts[-1].summary == "ConnectionError: refused"


def test_wait_until_stops_when_waiting_cannot_change_the_fact():
    clock = FakeClock()
    result = wait_until(sequence("starting", "exited", "up"), lambda s: s == "up", timeout_s=60, interval_s=1,
                        what="web", hopeless=lambda s: "it stopped" if s == "exited" else None,
                        clock=clock, sleep=clock.sleep)

    assert not result.converged and result.value == "exited" and result.gave_up == "it stopped"
    assert [a.at_s for a in result.attempts] == [0, 1]  # not the 60 s deadline
    assert result.describe() == "web: did not converge after 2 attempt(s) in 1.0s (deadline 60s); stopped waiting: it stopped"
    assert result.as_dict()["gave_up"] == "it stopped"


def test_a_hopeless_fact_that_is_accepted_converges():
    clock = FakeClock()
    result = wait_until(lambda: "up", lambda s: s == "up", timeout_s=5, hopeless=lambda s: "never asked",
                        clock=clock, sleep=clock.sleep)

    assert result.converged and result.gave_up is None and "gave_up" not in result.as_dict()
