"""The gate: the one place that turns a session's results into GO, GO-WITH-WARNINGS or NO-GO.

Pure: it takes what was collected and deselected, what ran and how (one
:class:`~gonogo.outcomes.Outcome` per check), the suite's inventory (what each phase must judge,
:mod:`gonogo.inventory`) and the check functions the run collected, the profile's [gate] table and
today's date, and returns the verdict with every reason. Only a check that ran to a judgement counts:
a check that did not judge (skipped at run time, xfailed, errored, never finished, left out of the
run however it was narrowed) is never a pass, and only "not configured" (the subject is absent from
the profile) is a legitimate skip. A dependent skip counts only when the check it names failed.
A check that cannot apply ("not applicable": an optional sub-check with no entry, a check that needs another
subject's absent table, a check the profile decided does not apply with a reason, ``[[gate.not_applicable]]``)
is no judgement and no failure: a required entry needs each of its checks that applies judged, and at least one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gonogo.checks import CheckInfo, selector_matches
from gonogo.inventory import COMMAND as INVENTORY_COMMAND
from gonogo.inventory import Entry, unlisted
from gonogo.outcomes import (DEPENDENT, ERRORED, FAILED, NOT_APPLICABLE, NOT_CONFIGURED, NOT_RUN, PASSED, SKIP_KINDS,
                             SKIPPED, Outcome)
from gonogo.profile import GateSection, NotApplicableDecision, Waiver
from gonogo.selection import LeftOut

GO = "GO"
GO_WITH_WARNINGS = "GO-WITH-WARNINGS"
NO_GO = "NO-GO"
BLOCKING = ("blocker", "critical")

__all__ = ["GO", "GO_WITH_WARNINGS", "NO_GO", "Outcome", "SessionFacts", "Verdict", "decide", "decision_for",
           "decision_problem", "inventory_checks", "left_out_of", "waiver_problem", "waiver_subjects"]


@dataclass
class SessionFacts:
    """Everything the gate needs about one run."""

    checks: dict[str, CheckInfo]
    deselected: set[str]
    outcomes: dict[str, Outcome]
    collection_errors: list[tuple[str, str]]
    phases: list[str]
    gate: GateSection
    today: dt.date
    interrupted: str | None = None
    #: --partial: the verdict covers the selection only
    partial_allowed: bool = False
    #: modules skipped at collection (importorskip, module-level skip): (where, reason)
    skipped_modules: list[tuple[str, str]] = field(default_factory=list)
    #: the suite's inventory (gonogo.inventory): every check function and its phases, what each phase must judge
    inventory: Mapping[str, Entry] = field(default_factory=dict)
    #: the check functions this run collected, as the inventory would write them
    seen: Mapping[str, Entry] = field(default_factory=dict)
    #: where the inventory is, for the reasons
    inventory_file: str = "inventory.toml"
    #: where the profile is, for the reasons about its [gate] table
    profile_file: str = "the profile"


@dataclass
class Verdict:
    verdict: str
    reasons: list[str]
    counts: dict[str, int]
    failed: list[dict[str, Any]]
    errored: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    waived: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    expired_waivers: list[dict[str, Any]]
    unused_waivers: list[dict[str, Any]]
    converged_after_retries: list[dict[str, Any]]
    not_in_phase: list[str]
    not_run: list[dict[str, Any]] = field(default_factory=list)
    partial: bool = False
    #: ids of the checks that passed (several runs merged: a required check judged in any run is not missing)
    passed: list[str] = field(default_factory=list)
    #: what the run left out of its phases (deselected checks, check functions not collected)
    left_out: LeftOut = field(default_factory=LeftOut)
    #: what makes the run a NO-GO outside any check's result (collection, inventory, waivers, partial run)
    run_problems: list[str] = field(default_factory=list)
    #: ids of the checks whose dependent skip is legitimate (the check they name failed in this run)
    dependent_ok: list[str] = field(default_factory=list)
    #: checks the profile decided do not apply to the stack ([[gate.not_applicable]]): not weighed, each with its reason
    decided_not_applicable: list[dict[str, Any]] = field(default_factory=list)


def _entry(check: CheckInfo, **extra: Any) -> dict[str, Any]:
    return {
        "id": check.qualified_id,
        "nodeid": check.nodeid,
        "title": check.title,
        "subject": check.subject,
        "severity": check.severity,
        "phases": check.phases,
        "runbook": check.runbook,
        "params": check.params,
        **extra,
    }


def in_run(check: CheckInfo, phases: list[str]) -> bool:
    """A check belongs to this run's phases (a check without a phase marker belongs to all)."""
    return not check.phases or any(p in phases for p in check.phases)


def left_out_of(facts: SessionFacts) -> LeftOut:
    """What the run left out of its phases: checks deselected, and check functions of the inventory it never
    collected (whatever narrowed it: -k, --deselect, paths, --ignore, -o, collect_ignore, --lf, a plugin)."""
    return LeftOut(
        checks=[n for n, c in facts.checks.items() if n in facts.deselected and in_run(c, facts.phases)],
        uncollected=sorted(f for f, e in facts.inventory.items() if f not in facts.seen and e.in_run(facts.phases)),
    )


def inventory_checks(inventory: Mapping[str, Entry]) -> list[CheckInfo]:
    """The inventory's check functions as checks (each also with a parameter, for patterns that name one)."""
    checks = []
    for function, entry in inventory.items():
        name = function.rpartition("::")[2]
        check_id = name[len("test_"):] if name.startswith("test_") else name
        for suffix in ("", "[?]"):
            checks.append(CheckInfo(nodeid=function + suffix, check_id=check_id + suffix, subject=entry.subject,
                                    title=check_id, phases=list(entry.phases), severity="critical", runbook=[]))
    return checks


def waiver_subjects(pattern: str, checks: Iterable[CheckInfo]) -> list[str]:
    """The subjects whose checks a waiver's pattern matches."""
    return sorted({c.subject for c in checks if selector_matches(pattern, c)})


def _shown(subjects: list[str]) -> str:
    """The subjects a catch-all pattern matches, as a refusal lists them (six at most, then how many more)."""
    return ", ".join(subjects[:6]) + (f" and {len(subjects) - 6} more" if len(subjects) > 6 else "")


def waiver_problem(index: int, waiver: Waiver, checks: Iterable[CheckInfo], profile_file: str) -> str | None:
    """Why a waiver is refused: it matches the checks of more than one subject (a catch-all), or None."""
    subjects = waiver_subjects(waiver.check, checks)
    if len(subjects) <= 1:
        return None
    return (f"{profile_file}: [gate.waivers #{index + 1}] check = '{waiver.check}' matches checks of {len(subjects)} "
            f"subjects ({_shown(subjects)}): a waiver names the checks of one subject (e.g. 'tls.certificate_trusted'); it waived nothing")


def _of_inventory(pattern: str) -> str:
    """A pattern as it matches the inventory's checks: a parameter (``[api]``) stands for any (``[?]``)."""
    head, bracket, _ = pattern.partition("[")
    return f"{head}[?]" if bracket and pattern.endswith("]") else pattern


def decision_problem(index: int, decision: NotApplicableDecision, checks: Iterable[CheckInfo], required: Iterable[str],
                     profile_file: str) -> str | None:
    """Why a ``[[gate.not_applicable]]`` entry is refused before any check runs, or None: it matches the checks of
    several subjects (a catch-all), no check of the suite (a typo), or a check ``[gate] required`` names by its id
    (a check cannot be required and not apply). ``checks``: the inventory's (:func:`inventory_checks`)."""
    checks = list(checks)
    where = f"{profile_file}: [gate.not_applicable #{index + 1}] check = '{decision.check}'"
    matched = [c for c in checks if selector_matches(_of_inventory(decision.check), c)]
    subjects = sorted({c.subject for c in matched})
    if len(subjects) > 1:
        return (f"{where} matches checks of {len(subjects)} subjects ({_shown(subjects)}): a decision that checks do not apply "
                f"names the checks of one subject (e.g. 'traefik.service_health_checked')")
    if not matched:
        return f"{where} matches no check of the suite: name a check id (e.g. 'traefik.service_health_checked')"
    for selector in required:
        clash = [c for c in matched if selector != c.subject and selector_matches(_of_inventory(selector), c)]
        if clash:
            return (f"{where} names {clash[0].subject}.{clash[0].check_id.removesuffix('[?]')}, which [gate] required "
                    f"names too ('{selector}'): a required check cannot be decided not applicable; remove one of them")
    return None


def decision_for(check: CheckInfo, decisions: Iterable[NotApplicableDecision]) -> NotApplicableDecision | None:
    """The ``[[gate.not_applicable]]`` entry that takes this check out of the run, or None (never a blocker's: a
    blocker that does not apply to a stack is a subject the profile leaves out, and the gate refuses the entry)."""
    if check.severity == "blocker":
        return None
    return next((d for d in decisions if selector_matches(d.check, check)), None)


def decided_reason(decision: NotApplicableDecision, profile_file: str) -> str:
    """What a check taken out of the run by a decision says (its skip reason)."""
    return f"not applicable: decided in {profile_file} [gate.not_applicable] ({decision.reason})"


def _decisions(facts: SessionFacts, known: list[CheckInfo]) -> tuple[list[NotApplicableDecision], list[str]]:
    """The decisions the gate applies, and why the others are refused (a catch-all; one naming a blocker)."""
    applied: list[NotApplicableDecision] = []
    refused: list[str] = []
    for position, decision in enumerate(facts.gate.not_applicable):
        where = f"{facts.profile_file}: [gate.not_applicable #{position + 1}] check = '{decision.check}'"
        subjects = waiver_subjects(decision.check, known)
        # the blockers it names among the checks this run judges (one left out of the run is not weighed either)
        blockers = [c for n, c in facts.checks.items()
                    if n not in facts.deselected and c.severity == "blocker" and selector_matches(decision.check, c)]
        if len(subjects) > 1:
            refused.append(f"{where} matches checks of {len(subjects)} subjects ({', '.join(subjects[:6])}): a decision "
                           "names the checks of one subject; it decided nothing")
        elif blockers:
            refused.append(f"{where} names the blocker check {blockers[0].qualified_id}: a blocker cannot be decided "
                           "not applicable (leave its subject's table out of the profile, or fix the stack); it was run "
                           "and weighed")
            applied.append(decision)  # still takes the non-blocker checks it names out, as the run did
        else:
            applied.append(decision)
    return applied, refused


def _waiver_entry(waiver: Waiver) -> dict[str, Any]:
    """A waiver as the verdict lists it (expired, accepting a failure, or unused)."""
    return {"check": waiver.check, "reason": waiver.reason, "until": waiver.until.isoformat()}


@dataclass
class Waivers:
    """The profile's waivers as the gate sorts them."""

    #: in force: each may accept the failures it names
    active: list[Waiver] = field(default_factory=list)
    #: past their date: they accept nothing, and are listed
    expired: list[dict[str, Any]] = field(default_factory=list)
    #: why each catch-all is refused (a NO-GO)
    refused: list[str] = field(default_factory=list)


def sort_waivers(waivers: Iterable[Waiver], known: list[CheckInfo], today: dt.date, profile_file: str) -> Waivers:
    """Which waivers are in force: one matching the checks of several subjects is refused (whatever its date), one
    whose date is past has expired, any other (its last day included) accepts the failures it names.
    ``known``: the run's checks and the inventory's (:func:`inventory_checks`)."""
    sorted_waivers = Waivers()
    for position, waiver in enumerate(waivers):
        problem = waiver_problem(position, waiver, known, profile_file)
        if problem:
            sorted_waivers.refused.append(problem)
        elif waiver.until < today:
            sorted_waivers.expired.append(_waiver_entry(waiver))
        else:
            sorted_waivers.active.append(waiver)
    return sorted_waivers


def take_out_decided(checks: Mapping[str, CheckInfo], outcomes: Mapping[str, Outcome],
                     decisions: list[NotApplicableDecision]) -> tuple[list[dict[str, Any]], dict[str, CheckInfo]]:
    """Which selected checks a decision takes out of the run (:func:`decision_for`): each listed with how it ended
    (``not-run`` without a result) and the decision, and never weighed; and the checks left to weigh."""
    decided: list[dict[str, Any]] = []
    weighed: dict[str, CheckInfo] = {}
    for nodeid, check in checks.items():
        decision = decision_for(check, decisions)
        if decision is None:
            weighed[nodeid] = check
            continue
        outcome = outcomes.get(nodeid)
        decided.append(_entry(check, status=outcome.status if outcome else NOT_RUN,
                              decision={"check": decision.check, "reason": decision.reason}))
    return decided, weighed


@dataclass
class Tally:
    """The weighed checks' outcomes, sorted by what they count as."""

    #: ids of the checks that ran to a passing judgement
    passed: list[str] = field(default_factory=list)
    #: passes that converged after retries
    retried: list[dict[str, Any]] = field(default_factory=list)
    #: every skip: not configured, not applicable, skipped at run time, dependent
    skipped: list[dict[str, Any]] = field(default_factory=list)
    #: the checks that did not judge (no result, not run, skipped at run time, a dependent skip nothing excuses)
    not_run: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    errored: list[dict[str, Any]] = field(default_factory=list)
    #: failures a waiver in force accepts, each with its waiver
    waived: list[dict[str, Any]] = field(default_factory=list)
    #: dependent skips, for :func:`excuse_dependents`
    dependents: list[tuple[CheckInfo, Outcome]] = field(default_factory=list)
    #: how many checks have no result at all
    unanswered: int = 0
    #: positions of the waivers in force that accepted a failure
    used: set[int] = field(default_factory=set)
    #: what each check that failed, errored or did not judge says, in order, for :func:`weigh_by_severity`
    lines: list[tuple[CheckInfo, str]] = field(default_factory=list)


def did_not_judge(tally: Tally, check: CheckInfo, status: str, reason: str) -> None:
    """Count a check that did not judge (how it ended: ``status``, ``reason``): listed as not run, with its line."""
    tally.not_run.append(_entry(check, status=status, reason=reason))
    tally.lines.append((check, f"{check.severity} check did not run: {check.qualified_id} ({status}"
                        + (f": {reason})" if reason else ")")))


def waiver_for(check: CheckInfo, active: list[Waiver]) -> int | None:
    """The position of the first waiver in force that names this check, or None."""
    return next((i for i, w in enumerate(active) if selector_matches(w.check, check)), None)


def weigh_failure(tally: Tally, check: CheckInfo, outcome: Outcome, active: list[Waiver]) -> None:
    """Count a check that failed or errored: a failure a waiver in force names is waived (waivers accept failures
    only: never an error, a missing check or a collection error); any other is a failure or an error, with its line."""
    entry = _entry(check, status=outcome.status, reason=outcome.reason, duration_s=round(outcome.duration_s, 3))
    index = waiver_for(check, active) if outcome.status == FAILED else None
    if index is not None:
        tally.used.add(index)
        tally.waived.append({**entry, "waiver": _waiver_entry(active[index])})
        return
    verb = "failed" if outcome.status == FAILED else "errored"
    (tally.failed if outcome.status == FAILED else tally.errored).append(entry)
    tally.lines.append((check, f"{check.severity} check {verb}: {check.qualified_id}"))


def tally_outcomes(checks: Mapping[str, CheckInfo], outcomes: Mapping[str, Outcome], active: list[Waiver]) -> Tally:
    """What each check's outcome counts as: a pass only when it ran to a passing judgement; no result, or not run,
    did not judge; every skip is listed, and a skip at run time did not judge either (a dependent skip waits for
    :func:`excuse_dependents`); a failure or an error is weighed by :func:`weigh_failure`."""
    tally = Tally()
    for nodeid, check in checks.items():
        outcome = outcomes.get(nodeid)
        if outcome is None:
            tally.unanswered += 1
            tally.not_run.append(_entry(check, status=NOT_RUN, reason="no result"))
        elif outcome.status == PASSED:
            tally.passed.append(check.qualified_id)
            tally.retried += [_entry(check, **c) for c in outcome.convergence if c.get("attempts", 1) > 1]
        elif outcome.status in SKIP_KINDS:
            tally.skipped.append(_entry(check, status=outcome.status, reason=outcome.reason))
            if outcome.status == SKIPPED:
                did_not_judge(tally, check, SKIPPED, outcome.reason)
            elif outcome.status == DEPENDENT:
                tally.dependents.append((check, outcome))
        elif outcome.status == NOT_RUN:
            did_not_judge(tally, check, NOT_RUN, outcome.reason)
        else:
            weigh_failure(tally, check, outcome, active)
    return tally


def excuse_dependents(facts: SessionFacts, tally: Tally) -> list[str]:
    """Which dependent skips are legitimate (:func:`_dependency_problem`: the check each names failed, unwaived, in
    this run): their ids; each other did not judge."""
    did_not_pass = {e["nodeid"] for e in tally.failed + tally.errored}
    waived = {e["nodeid"] for e in tally.waived}
    excused: list[str] = []
    for check, outcome in tally.dependents:
        problem = _dependency_problem(facts, check, outcome, did_not_pass, waived)
        if problem:
            did_not_judge(tally, check, DEPENDENT, f"{outcome.reason}, but {problem}")
        else:
            excused.append(check.qualified_id)
    return excused


def weigh_by_severity(lines: Iterable[tuple[CheckInfo, str]]) -> tuple[list[str], list[str]]:
    """Which lines make a NO-GO (a blocker's or a critical check's) and which are warnings (a warning check's),
    each in its order."""
    lines = list(lines)
    return ([line for check, line in lines if check.severity in BLOCKING],
            [line for check, line in lines if check.severity not in BLOCKING])


def run_problems(facts: SessionFacts, refused: list[str], left_out: LeftOut) -> list[str]:
    """What makes the run a NO-GO outside any check's result: collection errors, modules skipped at collection, an
    interruption, an out-of-date inventory, refused waivers and decisions (``refused``), a partial run without
    ``--partial``."""
    problems = [f"collection error in {where}: {msg}" for where, msg in facts.collection_errors]
    problems += [f"module skipped at collection, its checks did not run: {where} ({why})"
                 for where, why in facts.skipped_modules]
    if facts.interrupted:
        problems.append(f"run interrupted: {facts.interrupted}")
    stale = unlisted(facts.inventory, facts.seen)
    if stale:
        problems.append(f"{facts.inventory_file} is out of date ({len(stale)} difference(s); {stale[0]}): the gate cannot "
                        f"tell what each phase must judge; run `{INVENTORY_COMMAND}` and commit it")
    problems += refused
    if left_out and not facts.partial_allowed:
        problems.append(f"partial run: {left_out.describe()}; a verdict covers the whole of each selected "
                        "phase (pass --partial to judge only the selection)")
    return problems


def unjudged_reasons(facts: SessionFacts, selected: int, tally: Tally) -> list[str]:
    """Why the selection as a whole was not judged: checks with no result (before an interruption or not), no check
    selected (without a collection error or a module skipped at collection to say why), or none of the ``selected``
    checks ran to a judgement."""
    reasons: list[str] = []
    if tally.unanswered:
        reasons.append(f"{tally.unanswered} selected check(s) did not run"
                       + (" before the interruption" if facts.interrupted else ""))
    ran = len(tally.passed) + len(tally.failed) + len(tally.errored) + len(tally.waived)
    if not selected and not facts.collection_errors and not facts.skipped_modules:
        reasons.append("no checks ran")
    elif ran == 0 and selected and not facts.collection_errors:
        reasons.append(f"no checks ran ({selected} selected, none ran to a judgement)")
    return reasons


def missing_reasons(missing: list[dict[str, Any]]) -> list[str]:
    """What each required entry that did not run to a judgement says (:func:`_required`)."""
    return [f"required {m['required']}: {m['id'] or m['required']} {m['status']}" + (f" ({m['reason']})" if m["reason"] else "")
            for m in missing]


def verdict_of(reasons: list[str], warnings: list[str], waived: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """The verdict and the reasons it gives: NO-GO when there is any reason; else GO-WITH-WARNINGS when a warning
    check did not pass or a failure was waived (its reasons: those warnings, then the waived failures); else GO."""
    if reasons:
        return NO_GO, reasons
    if warnings or waived:
        return GO_WITH_WARNINGS, warnings + [
            f"waived failure: {w['id']} ({w['waiver']['reason']}, until {w['waiver']['until']})" for w in waived]
    return GO, []


def counts_of(facts: SessionFacts, selected: int, tally: Tally, missing: list[dict[str, Any]], left_out: LeftOut,
              decided: list[dict[str, Any]]) -> dict[str, int]:
    """How many checks of the run ended each way (the verdict's ``counts``)."""
    return {
        "collected": len(facts.checks),
        "selected": selected,
        "deselected": len(facts.checks) - selected,
        "passed": len(tally.passed),
        "failed": len(tally.failed),
        "errored": len(tally.errored),
        "skipped": len(tally.skipped),
        "not_configured": sum(e["status"] == NOT_CONFIGURED for e in tally.skipped),
        "not_applicable": sum(e["status"] == NOT_APPLICABLE for e in tally.skipped),
        "waived": len(tally.waived),
        "missing": len(missing),
        "not_run": len(tally.not_run),
        "collection_errors": len(facts.collection_errors),
        "skipped_modules": len(facts.skipped_modules),
        "left_out": len(left_out.checks) + len(left_out.uncollected),
        "decided_not_applicable": len(decided),
    }


def decide(facts: SessionFacts) -> Verdict:
    """Compute the verdict of one session: the waivers and decisions in force; the selected checks, those decided
    not applicable taken out; what each outcome counts as, dependent skips excused only by a failure; what was
    required and did not judge; the run's own problems; then the reasons, weighed by severity, and the verdict."""
    known = [*facts.checks.values(), *inventory_checks(facts.inventory)]
    waivers = sort_waivers(facts.gate.waivers, known, facts.today, facts.profile_file)
    decisions, refused_decisions = _decisions(facts, known)
    selected = {n: c for n, c in facts.checks.items() if n not in facts.deselected}
    decided, weighed = take_out_decided(selected, facts.outcomes, decisions)
    tally = tally_outcomes(weighed, facts.outcomes, waivers.active)
    dependent_ok = excuse_dependents(facts, tally)
    blocking, warnings = weigh_by_severity(tally.lines)
    missing, not_in_phase, required_failures = _required(facts, tally.waived, {e["nodeid"] for e in decided})
    left_out = left_out_of(facts)
    problems = run_problems(facts, waivers.refused + refused_decisions, left_out)
    verdict, reasons = verdict_of(
        [*problems, *unjudged_reasons(facts, len(selected), tally), *blocking, *required_failures, *missing_reasons(missing)],
        warnings, tally.waived)
    unused = [_waiver_entry(w) for i, w in enumerate(waivers.active) if i not in tally.used]
    return Verdict(verdict, reasons, counts_of(facts, len(selected), tally, missing, left_out, decided), tally.failed,
                   tally.errored, missing, tally.waived, tally.skipped, waivers.expired, unused, tally.retried, not_in_phase,
                   tally.not_run, partial=bool(left_out) and facts.partial_allowed, passed=tally.passed, left_out=left_out,
                   run_problems=problems, dependent_ok=dependent_ok, decided_not_applicable=decided)


def _dependency_problem(facts: SessionFacts, check: CheckInfo, outcome: Outcome, did_not_pass: set[str],
                        waived: set[str]) -> str | None:
    """Why a dependent skip is not legitimate, or None: the check it names must have failed (or errored),
    not been waived, and weigh at least as much (a failed warning cannot excuse a blocker that never judged)."""
    on = outcome.depends_on
    if not on:
        return "it names no check it depends on"
    named = [c for c in facts.checks.values() if selector_matches(on, c)]
    if not named:
        return f"{on} is not a check of this run"
    failed = [c for c in named if c.nodeid in did_not_pass]
    if not failed:
        if any(c.nodeid in waived for c in named):
            return f"the failure of {on} was waived (a waiver accepts the failure it names, not the checks after it)"
        return f"{on} did not fail"
    if check.severity in BLOCKING and all(c.severity not in BLOCKING for c in failed):
        return f"{on} is a {failed[0].severity} (its failure cannot excuse a {check.severity} that never judged)"
    return None


def _status(facts: SessionFacts, check: CheckInfo, waived_ids: set[str], decided: set[str]) -> tuple[str, str]:
    if check.nodeid in facts.deselected:
        return "deselected", "deselected by the selection (-m, -k or arguments)"
    if check.nodeid in decided:
        return NOT_APPLICABLE, "decided not applicable ([gate.not_applicable])"
    if check.nodeid in waived_ids:
        return "waived", ""
    outcome = facts.outcomes.get(check.nodeid)
    if outcome is None:
        return NOT_RUN, "did not run"
    return outcome.status, outcome.reason


def _required(facts: SessionFacts, waived: list[dict[str, Any]],
              decided: set[str]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Required entries that did not run to a judgement: (missing, entries of other phases, errors).

    "Required" guards against a check that never judged its subject: skipped, not configured,
    deselected, not run, or errored. A required check that ran and failed is judged by its
    severity like any other (a failed blocker is a NO-GO, a failed warning a warning). An optional
    sub-check that applies to nothing, a check that needs another subject's absent table ("not applicable:
    needs [docker]") and a check the profile decided does not apply ([[gate.not_applicable]]) never make their
    subject missing; but a required entry none of whose checks applies (none judged anything) is missing.
    """
    waived_ids = {w["nodeid"] for w in waived}
    missing: list[dict[str, Any]] = []
    failures: list[str] = []
    other_phase: list[str] = []
    for selector in facts.gate.required:
        matching = [c for c in facts.checks.values() if selector_matches(selector, c)]
        if not matching:
            if not facts.collection_errors:
                missing.append({"required": selector, "id": None, "nodeid": None, "status": "no-match",
                                "reason": "no collected check matches it"})
            continue
        of_run = [c for c in matching if in_run(c, facts.phases)]
        if not of_run:
            other_phase.append(selector)
            continue
        judged = [(c, *_status(facts, c, waived_ids, decided)) for c in of_run]  # --partial never excuses a required check
        applicable = [(c, s, r) for c, s, r in judged if s != NOT_APPLICABLE]
        if judged and not applicable:  # none of its checks applies: nothing of it was judged
            check, _, reason = judged[0]
            missing.append({"required": selector, "id": check.qualified_id, "nodeid": check.nodeid,
                            "status": NOT_CONFIGURED, "reason": reason, "runbook": check.runbook})
            continue
        for check, status, reason in applicable:
            if status in (PASSED, "waived", FAILED):
                continue  # it ran and was judged: its severity decides (a required warning stays a warning)
            if status == ERRORED:
                if check.severity not in BLOCKING:  # blocker/critical errors are already reasons
                    failures.append(f"required check errored (it could not be judged): {check.qualified_id}")
                continue
            missing.append({"required": selector, "id": check.qualified_id, "nodeid": check.nodeid,
                            "status": status, "reason": reason, "runbook": check.runbook})
    return missing, other_phase, failures
