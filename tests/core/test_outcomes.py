"""The outcome recorder alone (pure): how pytest's phase reports fold into one outcome per check."""

from __future__ import annotations

import pytest

from gonogo.outcomes import PhaseReport, Recorder, classify

ID = "checks/test_shop.py::test_sale"


def report(when: str, outcome: str, **kw) -> PhaseReport:
    return PhaseReport(nodeid=kw.pop("nodeid", ID), when=when, outcome=outcome, **kw)


def fold(*reports: PhaseReport) -> tuple[str, str]:
    recorder = Recorder()
    for r in reports:
        recorder.record(r)
    outcome = recorder.finish()[ID]
    return outcome.status, outcome.reason


PASSED = (report("setup", "passed"), report("call", "passed"), report("teardown", "passed"))


@pytest.mark.parametrize(("reports", "expected"), [
    pytest.param(PASSED, ("passed", ""), id="passed"),
    pytest.param((report("setup", "passed"), report("call", "failed", reason="AssertionError: 2 != 3"),
                  report("teardown", "passed")), ("failed", "AssertionError: 2 != 3"), id="assertion-is-a-judgement"),
    pytest.param((report("setup", "passed"), report("call", "failed", reason="KeyError: 'x'", judged=False),
                  report("teardown", "passed")), ("errored", "KeyError: 'x'"), id="exception-in-body-is-an-error"),
    pytest.param((report("setup", "failed", reason="ConnectionError: refused", judged=False),
                  report("teardown", "passed")), ("errored", "ConnectionError: refused"), id="fixture-error"),
    pytest.param((*PASSED[:2], report("teardown", "failed", reason="OSError: close", judged=False)),
                 ("errored", "teardown: OSError: close"), id="teardown-error-after-a-pass"),
    pytest.param((report("setup", "passed"), report("call", "failed", reason="AssertionError: a"),
                  report("teardown", "failed", reason="OSError: b", judged=False)),
                 ("failed", "AssertionError: a"), id="teardown-error-after-a-failure-keeps-the-failure"),
    pytest.param((report("setup", "passed"), report("call", "skipped", wasxfail="flaky"), report("teardown", "passed")),
                 ("failed", None), id="xfail"),
    pytest.param((report("setup", "passed"), report("call", "passed", wasxfail="was broken"), report("teardown", "passed")),
                 ("failed", None), id="xpass"),
    pytest.param((report("setup", "passed"), report("call", "skipped", reason="no docker"), report("teardown", "passed")),
                 ("skipped", "no docker"), id="run-time-skip"),
    pytest.param((report("setup", "skipped", reason="not configured in x.toml ([docker])", skip_kind="not-configured"),
                  report("teardown", "passed")), ("not-configured", "not configured in x.toml ([docker])"),
                 id="not-configured"),
    pytest.param((report("setup", "passed"), report("???", "failed", reason="worker 'gw0' crashed while running")),
                 ("errored", "worker 'gw0' crashed while running"), id="worker-crash"),
    pytest.param((report("setup", "passed"),), ("not-run", "started but never finished: no result for its body"),
                 id="interrupted-before-its-call"),
    pytest.param((report("setup", "skipped", reason="no docker"), report("teardown", "failed", reason="E", judged=False)),
                 ("errored", "teardown: E"), id="teardown-error-after-a-skip"),
])
def test_recorder(reports, expected):
    status, reason = fold(*reports)
    assert status == expected[0]
    if expected[1] is not None:
        assert reason == expected[1]


def test_xfail_reasons_say_what_to_do_instead():
    assert classify(report("call", "skipped", wasxfail="flaky"))[1].startswith("xfail: flaky; a check is judged")
    assert "use a [gate] waiver" in classify(report("call", "passed", wasxfail=""))[1]


def test_durations_add_up_and_convergence_is_kept():
    recorder = Recorder()
    recorder.record(report("setup", "passed", duration_s=0.5))
    recorder.record(report("call", "passed", duration_s=1.0, convergence=({"attempts": 3},)))
    recorder.record(report("teardown", "passed", duration_s=0.25))
    outcome = recorder.finish()[ID]
    assert outcome.duration_s == pytest.approx(1.75)
    assert outcome.convergence == [{"attempts": 3}]
