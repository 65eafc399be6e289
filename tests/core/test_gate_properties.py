"""Property tests of the gate (Hypothesis): any mix of outcomes, phases, severities, dependent skips, waivers,
decisions that checks do not apply ([[gate.not_applicable]]), required entries, selections and inventories.

The rule under test, written here a second time and more simply than in gonogo/gate.py: a run is GO only
when every check of every selected phase ran to a passing judgement or was legitimately not applicable
(not configured), the inventory is true and the run whole (or ``--partial`` said otherwise, and no required
check was left out); GO-WITH-WARNINGS allows failures of warnings, and failures a valid waiver accepts,
never a blocker that did not judge. A check the profile decided does not apply (a non-blocker named by a
decision of one subject) is not weighed, whatever it ended with; a decision naming a blocker or the checks of
several subjects is a NO-GO; a required entry needs each of its checks that applies judged, and at least one.
And the verdict never gets better when a check gets worse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gonogo.checks import PHASES, CheckInfo, selector_matches
from gonogo.gate import GO, GO_WITH_WARNINGS, NO_GO, SessionFacts, decide
from gonogo.inventory import Entry, function_id
from gonogo.outcomes import (DEPENDENT, ERRORED, FAILED, NOT_APPLICABLE, NOT_CONFIGURED, NOT_RUN, PASSED, SKIPPED,
                             Outcome)
from gonogo.profile import GateSection, NotApplicableDecision, Waiver

TODAY = dt.date(2026, 12, 7)
SUBJECTS = ("db", "tls", "web")
FUNCTIONS = ("ready", "trusted", "sale_paid")
STATUSES = (PASSED, PASSED, PASSED, FAILED, ERRORED, SKIPPED, NOT_CONFIGURED, NOT_APPLICABLE, DEPENDENT, NOT_RUN, None)
SEVERITIES = ("blocker", "critical", "warning")
BLOCKING = ("blocker", "critical")
RANK = {NO_GO: 0, GO_WITH_WARNINGS: 1, GO: 2}
#: patterns a team might write, catch-alls included (a pattern made of wildcards alone is refused at load)
PATTERNS = ("*e*", "*_*", "*::*", "*/*", "test_*", "*.*y", "*[*", "*a*[p2]", "*")


@dataclasses.dataclass
class Suite:
    functions: dict[str, tuple[Entry, str]]  # function id -> (entry, severity)
    checks: dict[str, CheckInfo]


@st.composite
def suites(draw: st.DrawFn) -> Suite:
    functions: dict[str, tuple[Entry, str]] = {}
    checks: dict[str, CheckInfo] = {}
    for subject in SUBJECTS:
        for name in draw(st.lists(st.sampled_from(FUNCTIONS), min_size=1, max_size=3, unique=True)):
            phases = tuple(p for p in PHASES if p in draw(st.sets(st.sampled_from(PHASES), max_size=2)))
            severity = draw(st.sampled_from(SEVERITIES))
            function = f"checks/test_{subject}.py::test_{name}"
            functions[function] = (Entry(subject, phases), severity)
            for param in draw(st.sampled_from([[""], ["[p1]"], ["[p1]", "[p2]"]])):
                checks[function + param] = CheckInfo(
                    nodeid=function + param, check_id=name + param, subject=subject, title=name, phases=list(phases),
                    severity=draw(st.sampled_from(SEVERITIES)) if param else severity, runbook=[])
    return Suite(functions, checks)


def waivers(suite: Suite) -> st.SearchStrategy[Waiver | None]:
    names = [c.qualified_id for c in suite.checks.values()] + list(SUBJECTS) + [c.nodeid for c in suite.checks.values()]
    names += [f"{s}.*" for s in SUBJECTS]

    def make(pattern: str, days: int) -> Waiver | None:
        try:
            return Waiver(check=pattern, reason="known", until=TODAY + dt.timedelta(days=days))
        except ValidationError:
            return None

    return st.builds(make, st.sampled_from(names + list(PATTERNS)), st.integers(-3, 30))


def decisions(suite: Suite) -> st.SearchStrategy[NotApplicableDecision | None]:
    names = [c.qualified_id for c in suite.checks.values()] + list(SUBJECTS) + [f"{s}.*" for s in SUBJECTS]

    def make(pattern: str) -> NotApplicableDecision | None:
        try:
            return NotApplicableDecision(check=pattern, reason="does not apply to this stack")
        except ValidationError:
            return None

    return st.builds(make, st.sampled_from(names + list(PATTERNS)))


@st.composite
def runs(draw: st.DrawFn) -> SessionFacts:
    suite = draw(suites())
    phases = [p for p in PHASES if p in draw(st.sets(st.sampled_from(PHASES), min_size=1))]
    # what the run collected: every function, or fewer (--ignore, -o, collect_ignore, --lf...)
    collected_functions = draw(st.sampled_from([list(suite.functions), None]))
    if collected_functions is None:
        collected_functions = draw(st.lists(st.sampled_from(list(suite.functions)), unique=True))
    checks = {n: c for n, c in suite.checks.items() if function_id(n) in collected_functions}
    seen = {f: suite.functions[f][0] for f in collected_functions}
    inventory = {f: e for f, (e, _) in suite.functions.items()}
    stale = draw(st.sampled_from([None, None, None, "drop", "rephase"]))
    if stale and inventory:
        victim = draw(st.sampled_from(sorted(inventory)))
        if stale == "drop":
            del inventory[victim]
        else:
            inventory[victim] = Entry(inventory[victim].subject, ("rollback",) if inventory[victim].phases != ("rollback",) else ())
    # -m deselects checks of other phases; -k/--deselect may deselect more
    deselected = {n for n, c in checks.items() if c.phases and not any(p in phases for p in c.phases)}
    if checks and draw(st.booleans()):
        deselected |= set(draw(st.lists(st.sampled_from(sorted(checks)), max_size=2)))
    ids = [c.qualified_id for c in suite.checks.values()]
    outcomes: dict[str, Outcome] = {}
    for nodeid in checks:
        if nodeid in deselected:
            continue
        status = draw(st.sampled_from(STATUSES))
        if status is None:
            continue
        on = draw(st.sampled_from(ids + ["", "web.nothing"])) if status == DEPENDENT else ""
        outcomes[nodeid] = Outcome(status, "reason", depends_on=on)
    required = draw(st.lists(st.sampled_from(ids + list(SUBJECTS) + ["web.nothing"]), max_size=2))
    chosen = [w for w in draw(st.lists(waivers(suite), max_size=3)) if w is not None]
    decided = [d for d in draw(st.lists(decisions(suite), max_size=2)) if d is not None]
    return SessionFacts(
        checks=checks, deselected=deselected, outcomes=outcomes,
        collection_errors=draw(st.sampled_from([[], [], [], [("checks/test_x.py", "SyntaxError")]])),
        phases=phases, gate=GateSection(required=required, waivers=chosen, not_applicable=decided), today=TODAY,
        interrupted=draw(st.sampled_from([None, None, None, "interrupted by the user"])),
        partial_allowed=draw(st.booleans()), inventory=inventory, seen=seen)


def in_run(check: CheckInfo, phases: list[str]) -> bool:
    return not check.phases or any(p in phases for p in check.phases)


def subjects_of(pattern: str, facts: SessionFacts) -> set[str]:
    return {c.subject for c in facts.checks.values() if selector_matches(pattern, c)}


def valid_waivers(facts: SessionFacts) -> list[Waiver]:
    """Waivers the rule lets accept a failure: unexpired, and naming the checks of one subject."""
    return [w for w in facts.gate.waivers if w.until >= TODAY and len(subjects_of(w.check, facts)) <= 1]


def decided(facts: SessionFacts, check: CheckInfo) -> bool:
    """Taken out of the run by a decision the rule accepts: a non-blocker named by a decision of one subject."""
    return check.severity != "blocker" and any(
        selector_matches(d.check, check) and len(subjects_of(d.check, facts)) <= 1 for d in facts.gate.not_applicable)


def status_of(facts: SessionFacts, nodeid: str) -> str | None:
    outcome = facts.outcomes.get(nodeid)
    return outcome.status if outcome else None


def structural_problems(facts: SessionFacts, partial: bool) -> list[str]:
    """What makes any run NO-GO whatever its checks say (the oracle's own words)."""
    problems = []
    if facts.collection_errors or facts.interrupted:
        problems.append("collection error or interruption")
    if any(f not in facts.inventory or facts.inventory[f] != e for f, e in facts.seen.items()):
        problems.append("stale inventory")
    uncollected = [f for f, e in facts.inventory.items() if f not in facts.seen and e.in_run(facts.phases)]
    left = [n for n, c in facts.checks.items() if n in facts.deselected and in_run(c, facts.phases)]
    if (uncollected or left) and not facts.partial_allowed:
        problems.append("partial run without --partial")
    if any(len(subjects_of(w.check, facts)) > 1 for w in facts.gate.waivers):
        problems.append("a catch-all waiver")
    if any(len(subjects_of(d.check, facts)) > 1 for d in facts.gate.not_applicable):
        problems.append("a catch-all decision that checks do not apply")
    if any(c.severity == "blocker" and selector_matches(d.check, c) for d in facts.gate.not_applicable
           for n, c in facts.checks.items() if n not in facts.deselected):
        problems.append("a blocker decided not applicable")
    selected = [n for n, c in facts.checks.items() if n not in facts.deselected and not decided(facts, c)]
    if not any(status_of(facts, n) in (PASSED, FAILED, ERRORED) for n in selected):
        problems.append("nothing ran to a judgement")
    for selector in facts.gate.required:
        matching = [c for c in facts.checks.values() if selector_matches(selector, c)]
        if not matching:
            problems.append(f"required {selector} matches nothing")
            continue
        of_run = [c for c in matching if in_run(c, facts.phases)]
        statuses = [None if c.nodeid in facts.deselected else NOT_APPLICABLE if decided(facts, c)
                    else status_of(facts, c.nodeid) for c in of_run]
        if of_run and all(s == NOT_APPLICABLE for s in statuses):
            problems.append(f"required {selector} applies to nothing")
        if any(s not in (PASSED, FAILED, NOT_APPLICABLE) for s in statuses):
            problems.append(f"required {selector} did not judge")
    return problems


def excused_dependent(facts: SessionFacts, check: CheckInfo, waived: set[str]) -> bool:
    """A dependent skip the rule accepts: the check it names failed or errored, unwaived, and weighs as much."""
    on = facts.outcomes[check.nodeid].depends_on
    named = [c for c in facts.checks.values() if on and selector_matches(on, c)]
    failed = [c for c in named if status_of(facts, c.nodeid) in (FAILED, ERRORED) and c.nodeid not in waived]
    return bool(failed) and (check.severity not in BLOCKING or any(c.severity in BLOCKING for c in failed))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_go_only_when_every_check_of_the_phases_judged_and_passed(facts):
    verdict = decide(facts)

    problems = structural_problems(facts, verdict.partial)
    if problems:
        assert verdict.verdict == NO_GO, (problems, verdict.reasons)
    if verdict.partial:
        assert facts.partial_allowed
    if verdict.verdict == NO_GO:
        assert verdict.reasons
        return
    selected = [c for n, c in facts.checks.items() if n not in facts.deselected]
    waivers = valid_waivers(facts)
    waived = {c.nodeid for c in selected if status_of(facts, c.nodeid) == FAILED
              and any(selector_matches(w.check, c) for w in waivers)}
    for check in selected:
        status = status_of(facts, check.nodeid)
        if decided(facts, check):  # not weighed: listed with its reason, never as a failure or a check that did not run
            assert check.nodeid in {e["nodeid"] for e in verdict.decided_not_applicable}, check.qualified_id
            assert check.nodeid not in {e["nodeid"] for e in verdict.failed + verdict.errored + verdict.not_run}
            continue
        if verdict.verdict == GO:
            assert status in (PASSED, NOT_CONFIGURED, NOT_APPLICABLE), (check.qualified_id, status, verdict.reasons)
        elif check.severity in BLOCKING:  # GO-WITH-WARNINGS: a blocker passed, was waived, or legitimately skipped
            assert status in (PASSED, NOT_CONFIGURED, NOT_APPLICABLE) or check.nodeid in waived or (
                status == DEPENDENT and excused_dependent(facts, check, waived)), (check.qualified_id, status)
    if verdict.verdict == GO:
        assert not verdict.waived and not verdict.failed and not verdict.errored and not verdict.not_run
        assert not verdict.partial or facts.partial_allowed


def _worse(outcome: Outcome, status: str) -> Outcome:
    return Outcome(status, "worse", depends_on=outcome.depends_on)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs(), st.data())
def test_a_check_getting_worse_never_makes_the_verdict_better(facts, data):
    passed = sorted(n for n, o in facts.outcomes.items() if o.status == PASSED)
    if not passed:
        return
    nodeid = data.draw(st.sampled_from(passed))
    status = data.draw(st.sampled_from([FAILED, ERRORED, SKIPPED, NOT_RUN, DEPENDENT, None]))
    outcomes: dict[str, Any] = dict(facts.outcomes)
    if status is None:
        del outcomes[nodeid]
    else:
        outcomes[nodeid] = _worse(outcomes[nodeid], status)
    before, after = decide(facts), decide(dataclasses.replace(facts, outcomes=outcomes))
    assert RANK[after.verdict] <= RANK[before.verdict], (nodeid, status, before.reasons, after.reasons)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs(), st.data())
def test_collecting_less_never_makes_the_verdict_better(facts, data):
    # a check the inventory does not list, or lists otherwise (stale: NO-GO while it is collected), is no part of the
    # gate's contract: leaving it out removes the difference the gate saw, not a check it owed (tests keep it listed)
    listed = sorted(f for f, entry in facts.seen.items() if facts.inventory.get(f) == entry)
    if not listed:
        return
    gone = data.draw(st.sampled_from(listed))
    narrowed = dataclasses.replace(
        facts, seen={f: e for f, e in facts.seen.items() if f != gone},
        checks={n: c for n, c in facts.checks.items() if function_id(n) != gone},
        outcomes={n: o for n, o in facts.outcomes.items() if function_id(n) != gone})
    before, after = decide(facts), decide(narrowed)
    if not facts.partial_allowed:
        assert RANK[after.verdict] <= RANK[before.verdict], (gone, before.reasons, after.reasons)
    if after.verdict != NO_GO and facts.inventory.get(gone) is not None and facts.inventory[gone].in_run(facts.phases):
        assert after.partial and gone in after.left_out.uncollected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_partial_never_excuses_a_required_check_it_left_out(facts):
    left_required = [c for n, c in facts.checks.items() if n in facts.deselected and in_run(c, facts.phases)
                     and any(selector_matches(r, c) for r in facts.gate.required)]
    if left_required:
        assert decide(facts).verdict == NO_GO
