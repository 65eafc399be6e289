"""Each step of :func:`gonogo.gate.decide` on its own: the waivers in force, the decisions applied, the checks
decided not applicable, what each outcome counts as, the dependent skips excused, the weighing by severity, the
run's own problems, what the selection as a whole did not judge, the required entries' lines, the verdict and
its counts. Hand-written cases for the edges each step decides, and Hypothesis properties (over the runs
``test_gate_properties`` generates) where a step has many combinations. ``decide`` as a whole: test_units,
test_gate_properties and the run_gate tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gate_properties import runs
from test_units import TODAY, check, facts

from gonogo.checks import CheckInfo, selector_matches
from gonogo.gate import (BLOCKING, GO, GO_WITH_WARNINGS, NO_GO, Outcome, SessionFacts, Tally, _decisions,
                         counts_of, did_not_judge, excuse_dependents, inventory_checks, missing_reasons, run_problems,
                         sort_waivers, take_out_decided, tally_outcomes, unjudged_reasons, verdict_of,
                         weigh_by_severity, weigh_failure)
from gonogo.inventory import Entry
from gonogo.outcomes import (DEPENDENT, ERRORED, FAILED, NOT_APPLICABLE, NOT_CONFIGURED, NOT_RUN, PASSED, SKIP_KINDS,
                             SKIPPED)
from gonogo.profile import GateSection, NotApplicableDecision, Waiver
from gonogo.selection import LeftOut

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
A, B = check("a"), check("b", severity="warning")
TLS = check("trusted", subject="tls", severity="blocker")


def waiver(pattern: str, days: int = 0) -> Waiver:
    return Waiver(check=pattern, reason="known", until=TODAY + dt.timedelta(days=days))


def decision(pattern: str) -> NotApplicableDecision:
    return NotApplicableDecision(check=pattern, reason="does not apply here")


def known_of(run: SessionFacts) -> list[CheckInfo]:
    return [*run.checks.values(), *inventory_checks(run.inventory)]


# -- which waivers are in force -----------------------------------------------------------------


def test_a_waiver_is_in_force_on_its_last_day_and_expired_the_day_after():
    waivers = sort_waivers([waiver("shop.a"), waiver("shop.b", days=-1)], [A, B], TODAY, "p.toml")

    assert waivers.active == [waiver("shop.a")]
    assert waivers.expired == [{"check": "shop.b", "reason": "known", "until": "2026-03-09"}]
    assert waivers.refused == []


def test_a_catch_all_waiver_is_refused_whatever_its_date():
    waivers = sort_waivers([waiver("shop.a"), waiver("*t*", days=-5)], [A, TLS], TODAY, "p.toml")

    assert waivers.active == [waiver("shop.a")] and waivers.expired == []
    assert waivers.refused == ["p.toml: [gate.waivers #2] check = '*t*' matches checks of 2 subjects (shop, tls): a waiver "
                               "names the checks of one subject (e.g. 'tls.certificate_trusted'); it waived nothing"]


def test_a_waiver_is_a_catch_all_by_the_inventory_too():
    inventory = {"test_tls.py::test_trusted": Entry("tls", ())}
    waivers = sort_waivers([waiver("*t*")], [A, *inventory_checks(inventory)], TODAY, "p.toml")

    assert waivers.active == [] and len(waivers.refused) == 1


@PROPERTY
@given(runs())
def test_each_waiver_is_refused_expired_or_in_force(run):
    known = known_of(run)
    waivers = sort_waivers(run.gate.waivers, known, run.today, "p.toml")

    assert len(waivers.active) + len(waivers.expired) + len(waivers.refused) == len(run.gate.waivers)
    catch_alls = [w for w in run.gate.waivers if len({c.subject for c in known if selector_matches(w.check, c)}) > 1]
    assert len(waivers.refused) == len(catch_alls)
    assert waivers.active == [w for w in run.gate.waivers if w not in catch_alls and w.until >= run.today]
    assert [e["until"] for e in waivers.expired] == [
        w.until.isoformat() for w in run.gate.waivers if w not in catch_alls and w.until < run.today]


# -- which decisions that checks do not apply are applied --------------------------------------


def test_a_catch_all_decision_is_refused_and_decides_nothing():
    run = dataclasses.replace(facts((A, "passed"), (TLS, "passed")), gate=GateSection(not_applicable=[decision("*t*")]))

    applied, refused = _decisions(run, known_of(run))

    assert applied == []
    assert refused == ["the profile: [gate.not_applicable #1] check = '*t*' matches checks of 2 subjects (shop, tls): a "
                       "decision names the checks of one subject; it decided nothing"]


def test_a_decision_naming_a_blocker_of_the_run_is_refused_but_still_applied():
    run = dataclasses.replace(facts((A, "passed"), (TLS, "passed")), gate=GateSection(not_applicable=[decision("tls")]))

    applied, refused = _decisions(run, known_of(run))

    assert applied == [decision("tls")]
    assert refused == ["the profile: [gate.not_applicable #1] check = 'tls' names the blocker check tls.trusted: a blocker "
                       "cannot be decided not applicable (leave its subject's table out of the profile, or fix the "
                       "stack); it was run and weighed"]


def test_a_decision_naming_a_deselected_blocker_is_not_refused():
    run = dataclasses.replace(facts((A, "passed"), (TLS, None), deselected=[TLS]),
                              gate=GateSection(not_applicable=[decision("tls")]))

    assert _decisions(run, known_of(run)) == ([decision("tls")], [])


# -- which checks a decision takes out ---------------------------------------------------------


def test_a_decided_check_is_listed_with_how_it_ended_and_not_weighed():
    shop_c = check("c", severity="warning")
    checks = {c.nodeid: c for c in (A, B, shop_c, TLS)}
    outcomes = {A.nodeid: Outcome(FAILED, "boom"), TLS.nodeid: Outcome(FAILED, "boom")}

    decided, weighed = take_out_decided(checks, outcomes, [decision("shop.a"), decision("shop.c"), decision("tls")])

    assert [(e["id"], e["status"], e["decision"]) for e in decided] == [
        ("shop.a", FAILED, {"check": "shop.a", "reason": "does not apply here"}),
        ("shop.c", NOT_RUN, {"check": "shop.c", "reason": "does not apply here"})]
    assert list(weighed) == [B.nodeid, TLS.nodeid]  # a blocker is never decided away


@PROPERTY
@given(runs())
def test_decided_and_weighed_share_out_the_checks_and_no_blocker_is_decided(run):
    decided, weighed = take_out_decided(run.checks, run.outcomes, list(run.gate.not_applicable))

    named = [n for n, c in run.checks.items() if c.severity != "blocker"
             and any(selector_matches(d.check, c) for d in run.gate.not_applicable)]
    assert [e["nodeid"] for e in decided] == named
    assert list(weighed) == [n for n in run.checks if n not in named]
    assert all(e["status"] == (run.outcomes[e["nodeid"]].status if e["nodeid"] in run.outcomes else NOT_RUN)
               for e in decided)


# -- what each outcome counts as ---------------------------------------------------------------


def tally(*results: tuple[CheckInfo, Outcome | None], active: list[Waiver] | None = None) -> Tally:
    return tally_outcomes({c.nodeid: c for c, _ in results}, {c.nodeid: o for c, o in results if o}, active or [])


def test_only_a_passing_judgement_is_a_pass():
    counted = tally((A, Outcome(PASSED)), (B, Outcome(NOT_RUN, "worker died")), (check("c"), None),
                    (check("d"), Outcome(SKIPPED, "no tool")))

    assert counted.passed == ["shop.a"]
    assert [(e["id"], e["status"], e["reason"]) for e in counted.not_run] == [
        ("shop.b", NOT_RUN, "worker died"), ("shop.c", NOT_RUN, "no result"), ("shop.d", SKIPPED, "no tool")]
    assert counted.unanswered == 1  # no result at all: counted, not a line of its own
    assert [line for _, line in counted.lines] == ["warning check did not run: shop.b (not-run: worker died)",
                                                    "critical check did not run: shop.d (skipped: no tool)"]


def test_skips_are_listed_and_only_a_run_time_skip_did_not_judge():
    counted = tally((A, Outcome(NOT_CONFIGURED, "no [shop]")), (B, Outcome(NOT_APPLICABLE, "needs [docker]")),
                    (check("c"), Outcome(DEPENDENT, "after a", depends_on="shop.a")), (check("d"), Outcome(SKIPPED)))

    assert [e["status"] for e in counted.skipped] == [NOT_CONFIGURED, NOT_APPLICABLE, DEPENDENT, SKIPPED]
    assert [e["id"] for e in counted.not_run] == ["shop.d"]
    assert [c.check_id for c, _ in counted.dependents] == ["c"]
    assert [line for _, line in counted.lines] == ["critical check did not run: shop.d (skipped)"]


def test_a_pass_after_retries_is_listed():
    counted = tally((A, Outcome(PASSED, convergence=[{"attempts": 3}, {"attempts": 1}])), (B, Outcome(PASSED)))

    assert counted.passed == ["shop.a", "shop.b"]
    assert [(e["id"], e["attempts"]) for e in counted.retried] == [("shop.a", 3)]


def test_a_waiver_accepts_a_failure_it_names_never_an_error():
    active = [waiver("shop.b"), waiver("shop.a"), waiver("shop")]
    counted = tally((A, Outcome(FAILED, "boom", duration_s=1.23456)), (B, Outcome(ERRORED, "crash")),
                    (TLS, Outcome(FAILED, "expired")), active=active)

    assert [(e["id"], e["duration_s"], e["waiver"]["check"]) for e in counted.waived] == [("shop.a", 1.235, "shop.a")]
    assert counted.used == {1}
    assert [e["id"] for e in counted.errored] == ["shop.b"] and [e["id"] for e in counted.failed] == ["tls.trusted"]
    assert [line for _, line in counted.lines] == ["warning check errored: shop.b", "blocker check failed: tls.trusted"]


def test_a_status_the_gate_does_not_know_is_an_error():
    counted = Tally()
    weigh_failure(counted, A, Outcome("xpassed", "unexpected"), [waiver("shop.a")])

    assert [(e["id"], e["status"]) for e in counted.errored] == [("shop.a", "xpassed")] and counted.waived == []


def test_a_check_that_did_not_judge_says_how_it_ended():
    counted = Tally()
    did_not_judge(counted, A, SKIPPED, "")
    did_not_judge(counted, B, DEPENDENT, "after a, but shop.a did not fail")

    assert [line for _, line in counted.lines] == [
        "critical check did not run: shop.a (skipped)",
        "warning check did not run: shop.b (dependent: after a, but shop.a did not fail)"]
    assert [(e["id"], e["status"]) for e in counted.not_run] == [("shop.a", SKIPPED), ("shop.b", DEPENDENT)]


@PROPERTY
@given(runs())
def test_each_outcome_counts_once_and_only_a_pass_passes(run):
    active = [w for w in run.gate.waivers if w.until >= run.today]
    counted = tally_outcomes(run.checks, run.outcomes, active)

    def status(nodeid: str) -> str | None:
        return run.outcomes[nodeid].status if nodeid in run.outcomes else None

    ids = {c.qualified_id: n for n, c in run.checks.items()}
    assert sorted(ids[i] for i in counted.passed) == sorted(n for n in run.checks if status(n) == PASSED)
    for key, statuses in (("failed", {FAILED}), ("errored", {ERRORED}), ("waived", {FAILED}),
                          ("skipped", set(SKIP_KINDS)), ("not_run", {None, NOT_RUN, SKIPPED})):
        assert all(status(e["nodeid"]) in statuses for e in getattr(counted, key)), key
    waived = {e["nodeid"] for e in counted.waived}
    assert waived == {n for n, c in run.checks.items()
                      if status(n) == FAILED and any(selector_matches(w.check, c) for w in active)}
    judged = [e["nodeid"] for e in counted.failed + counted.errored + counted.waived] + [ids[i] for i in counted.passed]
    assert sorted(judged + [e["nodeid"] for e in counted.skipped if e["status"] != SKIPPED]
                  + [e["nodeid"] for e in counted.not_run]) == sorted(run.checks)
    assert sorted(c.nodeid for c, _ in counted.lines) == sorted(
        e["nodeid"] for e in counted.failed + counted.errored + counted.not_run if e["reason"] != "no result")


# -- which dependent skips are excused ---------------------------------------------------------


def dependent_of(on: str, severity: str = "critical") -> tuple[CheckInfo, Outcome]:
    return check("after", severity=severity), Outcome(DEPENDENT, "after it", depends_on=on)


def excused(*results: tuple[CheckInfo, Outcome], on: str, severity: str = "critical",
            active: list[Waiver] | None = None) -> tuple[list[str], list[str]]:
    """The ids a dependent skip on ``on`` is excused with, and the lines of the checks that did not judge."""
    dependent = dependent_of(on, severity)
    counted = tally(*results, dependent, active=active)
    run = facts(*((c, o.status) for c, o in (*results, dependent)))
    ok = excuse_dependents(run, counted)
    return ok, [line for c, line in counted.lines if c.check_id == "after"]


def test_a_dependent_skip_is_excused_by_a_failure_or_an_error_of_the_check_it_names():
    assert excused((A, Outcome(FAILED)), on="shop.a") == (["shop.after"], [])
    assert excused((A, Outcome(ERRORED)), on="shop.a") == (["shop.after"], [])


def test_a_dependent_skip_nothing_excuses_did_not_judge():
    assert excused((A, Outcome(PASSED)), on="shop.a") == (
        [], ["critical check did not run: shop.after (dependent: after it, but shop.a did not fail)"])
    assert excused((A, Outcome(FAILED)), on="shop.nothing")[1] == [
        "critical check did not run: shop.after (dependent: after it, but shop.nothing is not a check of this run)"]


def test_a_waived_failure_excuses_no_dependent_skip():
    assert excused((A, Outcome(FAILED)), on="shop.a", active=[waiver("shop.a")]) == (
        [], ["critical check did not run: shop.after (dependent: after it, but the failure of shop.a was waived (a waiver "
             "accepts the failure it names, not the checks after it))"])


def test_a_failed_warning_excuses_no_blocker():
    assert excused((B, Outcome(FAILED)), on="shop.b", severity="blocker") == (
        [], ["blocker check did not run: shop.after (dependent: after it, but shop.b is a warning (its failure cannot "
             "excuse a blocker that never judged))"])
    assert excused((B, Outcome(FAILED)), on="shop.b", severity="warning")[0] == ["shop.after"]


# -- weighing by severity ----------------------------------------------------------------------


def test_a_blocker_or_a_critical_line_blocks_a_warning_line_warns():
    lines = [(B, "w1"), (TLS, "b1"), (A, "c1"), (B, "w2")]

    assert weigh_by_severity(lines) == (["b1", "c1"], ["w1", "w2"])


@given(st.lists(st.tuples(st.sampled_from(["blocker", "critical", "warning"]), st.text(max_size=3))))
def test_weighing_keeps_every_line_in_its_order(drawn):
    lines = [(check(f"c{i}", severity=severity), text) for i, (severity, text) in enumerate(drawn)]

    blocking, warnings = weigh_by_severity(lines)

    assert blocking == [text for severity, text in drawn if severity in BLOCKING]
    assert warnings == [text for severity, text in drawn if severity not in BLOCKING]


# -- what makes the run a NO-GO outside any check's result -------------------------------------


def test_the_run_problems_in_their_order():
    run = facts((A, "passed"), collection_errors=[("test_x.py", "SyntaxError")], interrupted="by the user",
                skipped_modules=[("test_y.py", "no module named y")], seen={"test_shop.py::test_a": Entry("shop", ())},
                inventory_file="inv.toml")
    left_out = LeftOut(checks=[B.nodeid])

    assert run_problems(run, ["a refused waiver"], left_out) == [
        "collection error in test_x.py: SyntaxError",
        "module skipped at collection, its checks did not run: test_y.py (no module named y)",
        "run interrupted: by the user",
        "inv.toml is out of date (1 difference(s); not in the inventory: test_shop.py::test_a (subject shop, phases every "
        "phase)): the gate cannot tell what each "
        "phase must judge; run `python -m gonogo.inventory` and commit it",
        "a refused waiver",
        "partial run: 1 check(s) of the phase deselected; a verdict covers the whole of each selected phase (pass "
        "--partial to judge only the selection)"]


def test_partial_lets_a_run_leave_checks_out():
    left_out = LeftOut(uncollected=["test_shop.py::test_b"])

    assert run_problems(facts((A, "passed"), partial_allowed=True), [], left_out) == []
    assert run_problems(facts((A, "passed")), [], LeftOut()) == []


# -- what the selection as a whole did not judge -----------------------------------------------


def test_checks_with_no_result_are_one_reason():
    counted = Tally(passed=["shop.a"], unanswered=2)

    assert unjudged_reasons(facts(), 3, counted) == ["2 selected check(s) did not run"]
    assert unjudged_reasons(facts(interrupted="by the user"), 3, counted) == [
        "2 selected check(s) did not run before the interruption"]


def test_nothing_selected_is_no_checks_ran_unless_collection_says_why():
    assert unjudged_reasons(facts(), 0, Tally()) == ["no checks ran"]
    assert unjudged_reasons(facts(collection_errors=[("x", "y")]), 0, Tally()) == []
    assert unjudged_reasons(facts(skipped_modules=[("x", "y")]), 0, Tally()) == []


def test_a_selection_none_of_which_judged_is_no_checks_ran():
    assert unjudged_reasons(facts(), 2, Tally(skipped=[{}, {}])) == ["no checks ran (2 selected, none ran to a judgement)"]
    assert unjudged_reasons(facts(collection_errors=[("x", "y")]), 2, Tally()) == []
    for judged in ("passed", "failed", "errored", "waived"):
        assert unjudged_reasons(facts(), 2, Tally(**{judged: [{}]})) == [], judged


# -- what a required entry that did not judge says ---------------------------------------------


def test_a_missing_required_entry_names_its_check_or_itself():
    assert missing_reasons([{"required": "tls", "id": "tls.trusted", "status": SKIPPED, "reason": "no tool"},
                            {"required": "web.nothing", "id": None, "status": "no-match", "reason": ""}]) == [
        "required tls: tls.trusted skipped (no tool)", "required web.nothing: web.nothing no-match"]


# -- the verdict -------------------------------------------------------------------------------

WAIVED = {"id": "shop.a", "waiver": {"reason": "known", "until": "2026-03-10"}}


def test_any_reason_is_a_no_go_whatever_warns():
    assert verdict_of(["r"], ["w"], [WAIVED]) == (NO_GO, ["r"])


def test_warnings_or_a_waived_failure_are_go_with_warnings():
    assert verdict_of([], ["w"], []) == (GO_WITH_WARNINGS, ["w"])
    assert verdict_of([], ["w"], [WAIVED]) == (GO_WITH_WARNINGS, ["w", "waived failure: shop.a (known, until 2026-03-10)"])
    assert verdict_of([], [], [WAIVED]) == (GO_WITH_WARNINGS, ["waived failure: shop.a (known, until 2026-03-10)"])


def test_nothing_to_say_is_go():
    assert verdict_of([], [], []) == (GO, [])


def test_the_counts():
    run = facts((A, "passed"), (B, None), (check("c"), None), collection_errors=[("x", "y")], deselected=[B])
    counted = Tally(passed=["shop.a"], failed=[{}], errored=[{}, {}], waived=[{}], not_run=[{}],
                    skipped=[{"status": NOT_CONFIGURED}, {"status": NOT_APPLICABLE}, {"status": NOT_APPLICABLE},
                             {"status": SKIPPED}])

    assert counts_of(run, 2, counted, [{}], LeftOut(checks=["b"], uncollected=["x", "y"]), [{}]) == {
        "collected": 3, "selected": 2, "deselected": 1, "passed": 1, "failed": 1, "errored": 2, "skipped": 4,
        "not_configured": 1, "not_applicable": 2, "waived": 1, "missing": 1, "not_run": 1, "collection_errors": 1,
        "skipped_modules": 0, "left_out": 3, "decided_not_applicable": 1}
