"""The gate: the one place that turns a session's results into GO, GO-WITH-WARNINGS or NO-GO.

Pure: it takes what was collected, what ran and how, the profile's [gate] table and today's
date, and returns the verdict with every reason. A required check that did not run and pass
(skipped, deselected, not configured, errored, not run) is never a pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gonogo.checks import CheckInfo, selector_matches
from gonogo.profile import GateSection, Waiver

GO = "GO"
GO_WITH_WARNINGS = "GO-WITH-WARNINGS"
NO_GO = "NO-GO"
BLOCKING = ("blocker", "critical")
NOT_CONFIGURED_PREFIX = "not configured in "


@dataclass
class Outcome:
    """How one check ended: passed, failed, errored, skipped, xfailed; with its reason."""

    status: str
    reason: str = ""
    duration_s: float = 0.0
    convergence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def not_configured(self) -> bool:
        return self.status == "skipped" and self.reason.startswith(NOT_CONFIGURED_PREFIX)


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


def _in_run(check: CheckInfo, phases: list[str]) -> bool:
    """A check belongs to this run's phases (a check without a phase marker belongs to all)."""
    return not check.phases or any(p in phases for p in check.phases)


def decide(facts: SessionFacts) -> Verdict:
    """Compute the verdict of one session."""
    reasons: list[str] = []
    active: list[Waiver] = []
    expired: list[dict[str, Any]] = []
    for waiver in facts.gate.waivers:
        if waiver.until < facts.today:
            expired.append({"check": waiver.check, "reason": waiver.reason, "until": waiver.until.isoformat()})
        else:
            active.append(waiver)
    used: set[int] = set()

    selected = {n: c for n, c in facts.checks.items() if n not in facts.deselected}
    failed: list[dict[str, Any]] = []
    errored: list[dict[str, Any]] = []
    waived: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    retried: list[dict[str, Any]] = []
    passed = not_run = not_configured = 0
    blocking: list[str] = []
    warnings: list[str] = []

    for nodeid, check in selected.items():
        outcome = facts.outcomes.get(nodeid)
        if outcome is None:
            not_run += 1
            continue
        if outcome.status == "passed":
            passed += 1
            retried += [_entry(check, **c) for c in outcome.convergence if c.get("attempts", 1) > 1]
            continue
        if outcome.status in ("skipped", "xfailed"):
            not_configured += outcome.not_configured
            skipped.append(_entry(check, status="not-configured" if outcome.not_configured else outcome.status, reason=outcome.reason))
            continue
        entry = _entry(check, status=outcome.status, reason=outcome.reason, duration_s=round(outcome.duration_s, 3))
        waiver = next((i for i, w in enumerate(active) if selector_matches(w.check, check)), None)
        if waiver is not None:
            used.add(waiver)
            w = active[waiver]
            waived.append({**entry, "waiver": {"check": w.check, "reason": w.reason, "until": w.until.isoformat()}})
            continue
        (failed if outcome.status == "failed" else errored).append(entry)
        verb = "failed" if outcome.status == "failed" else "errored"
        if check.severity in BLOCKING:
            blocking.append(f"{check.severity} check {verb}: {check.qualified_id}")
        else:
            warnings.append(f"warning check {verb}: {check.qualified_id}")

    missing, not_in_phase, required_failures = _required(facts, waived)

    if facts.collection_errors:
        reasons += [f"collection error in {where}: {msg}" for where, msg in facts.collection_errors]
    if facts.interrupted:
        reasons.append(f"run interrupted: {facts.interrupted}")
    if not_run and not facts.interrupted:
        reasons.append(f"{not_run} selected check(s) did not run")
    elif not_run:
        reasons.append(f"{not_run} selected check(s) did not run before the interruption")
    ran = passed + len(failed) + len(errored) + len(waived)
    if not selected and not facts.collection_errors:
        reasons.append("no checks ran")
    elif ran == 0 and selected and not facts.collection_errors:
        reasons.append(f"no checks ran ({len(selected)} selected, all skipped or not run)")
    reasons += blocking
    reasons += required_failures
    reasons += [f"required {m['required']}: {m['id'] or m['required']} {m['status']}" + (f" ({m['reason']})" if m["reason"] else "") for m in missing]

    if reasons:
        verdict = NO_GO
    elif warnings or waived:
        verdict = GO_WITH_WARNINGS
        reasons = warnings + [f"waived failure: {w['id']} ({w['waiver']['reason']}, until {w['waiver']['until']})" for w in waived]
    else:
        verdict = GO
    counts = {
        "collected": len(facts.checks),
        "selected": len(selected),
        "deselected": len(facts.checks) - len(selected),
        "passed": passed,
        "failed": len(failed),
        "errored": len(errored),
        "skipped": len(skipped),
        "not_configured": not_configured,
        "waived": len(waived),
        "missing": len(missing),
        "not_run": not_run,
        "collection_errors": len(facts.collection_errors),
    }
    unused = [
        {"check": w.check, "reason": w.reason, "until": w.until.isoformat()} for i, w in enumerate(active) if i not in used
    ]
    return Verdict(verdict, reasons, counts, failed, errored, missing, waived, skipped, expired, unused, retried, not_in_phase)


def _status(facts: SessionFacts, check: CheckInfo, waived_ids: set[str]) -> tuple[str, str]:
    if check.nodeid in facts.deselected:
        return "deselected", "deselected by the selection (-m, -k or arguments)"
    if check.nodeid in waived_ids:
        return "waived", ""
    outcome = facts.outcomes.get(check.nodeid)
    if outcome is None:
        return "not-run", "did not run"
    if outcome.not_configured:
        return "not-configured", outcome.reason
    return outcome.status, outcome.reason


def _required(facts: SessionFacts, waived: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Required entries that did not run to a judgement: (missing, entries of other phases, errors).

    "Required" guards against a check that never judged its subject: skipped, not configured,
    deselected, not run, or errored. A required check that ran and failed is judged by its
    severity like any other (a failed blocker is a NO-GO, a failed warning a warning).
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
        in_run = [c for c in matching if _in_run(c, facts.phases)]
        if not in_run:
            other_phase.append(selector)
            continue
        for check in in_run:
            status, reason = _status(facts, check, waived_ids)
            if status in ("passed", "waived"):
                continue
            if status == "failed":
                continue  # it ran and was judged: its severity decides (a required warning stays a warning)
            if status == "errored":
                if check.severity not in BLOCKING:  # blocker/critical errors are already reasons
                    failures.append(f"required check errored (it could not be judged): {check.qualified_id}")
                continue
            missing.append({"required": selector, "id": check.qualified_id, "nodeid": check.nodeid,
                            "status": status, "reason": reason, "runbook": check.runbook})
    return missing, other_phase, failures
