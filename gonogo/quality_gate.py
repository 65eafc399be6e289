"""Allure's quality gate, from the same profile as gonogo's gate (``reports/quality-gate.json``).

Allure Report 3 (``allure quality-gate``) judges a results folder with rules. ``reports/allurerc.mjs``
builds its rules from the file written here at the end of every run, so that the exit code of
``allure quality-gate`` agrees with ``gate.json``: 1 for a NO-GO, 0 for GO and GO-WITH-WARNINGS.

The file holds what the results alone cannot tell Allure, all of it decided before any check ran or
outside the checks: which severities block (``blocker``, ``critical``), the checks the profile's
active waivers accept, the checks each ``[gate] required`` entry needs in the run's phases, the
checks the run selected (one without a result did not run), the checks whose dependent skip the gate
accepted (the check each names failed), and the run's own problems as the gate found them (collection
errors, modules skipped at collection, an interruption, a stale inventory, a refused waiver, a partial
run without ``--partial``).
How each check ended, Allure reads from the results themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from gonogo.checks import CheckInfo, selector_matches
from gonogo.gate import BLOCKING, SessionFacts, Verdict, in_run, inventory_checks, waiver_problem

SCHEMA = "gonogo.quality-gate/1"
FILE_NAME = "quality-gate.json"


def active_waivers(facts: SessionFacts) -> list[Any]:
    """The waivers the gate applies: not expired, and not refused as a catch-all."""
    known = [*facts.checks.values(), *inventory_checks(facts.inventory)]
    return [w for i, w in enumerate(facts.gate.waivers)
            if w.until >= facts.today and waiver_problem(i, w, known, "") is None]


def waived_checks(facts: SessionFacts, selected: Iterable[CheckInfo]) -> dict[str, str]:
    """Check id -> the waiver that accepts its failure (the first matching active one, as the gate)."""
    waivers = active_waivers(facts)
    accepted: dict[str, str] = {}
    for check in selected:
        waiver = next((w for w in waivers if selector_matches(w.check, check)), None)
        if waiver is not None:
            accepted[check.qualified_id] = f"{waiver.reason} (until {waiver.until.isoformat()})"
    return accepted


def required_checks(facts: SessionFacts) -> list[dict[str, Any]]:
    """Each ``[gate] required`` entry with the checks of the run's phases it needs (none: a typo)."""
    entries = []
    for selector in facts.gate.required:
        matching = [c for c in facts.checks.values() if selector_matches(selector, c)]
        of_run = [c for c in matching if in_run(c, facts.phases)]
        if matching and not of_run:
            continue  # required in other phases only: nothing to ask of this run
        entries.append({"selector": selector, "checks": sorted({c.qualified_id for c in of_run})})
    return entries


def rules(facts: SessionFacts, verdict: Verdict, environment: str | None) -> dict[str, Any]:
    """The content of ``reports/quality-gate.json`` for one run (the run's own problems as the gate found them)."""
    selected = [c for n, c in facts.checks.items() if n not in facts.deselected]
    return {
        "schema": SCHEMA,
        "environment": environment,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "blocking_severities": list(BLOCKING),
        "waived": waived_checks(facts, selected),
        "required": required_checks(facts),
        "selected": sorted({c.qualified_id for c in selected}),
        "run_problems": verdict.run_problems,
        "dependent_ok": verdict.dependent_ok,
    }
