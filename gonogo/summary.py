"""The verdict block at the end of the terminal output."""

from __future__ import annotations

from typing import Any

from gonogo.environment import LoadedEnvironment
from gonogo.gate import GO, GO_WITH_WARNINGS, Verdict
from gonogo.outcomes import NOT_APPLICABLE
from gonogo.secrets import masker
from gonogo.selection import LeftOut

_COLOURS = {GO: {"green": True, "bold": True}, GO_WITH_WARNINGS: {"yellow": True, "bold": True}}


def _checks(entry: dict[str, Any]) -> str:
    steps = f" [{' '.join(entry['runbook'])}]" if entry.get("runbook") else ""
    return f"{entry['id']}{steps}"


def render(tr: Any, verdict: Verdict, env: LoadedEnvironment | None, phases: list[str], gate_file: str,
           partial: LeftOut | None = None) -> None:
    """Write the gate's summary: verdict, counts, then every failed, missing and waived check."""
    write = lambda text, **markup: tr.write_line(masker.mask(text), **markup)  # noqa: E731
    tr.write_sep("=", "gonogo release gate", bold=True)
    if partial:
        write(f"PARTIAL RUN: this verdict covers only the selection, not the whole phase ({partial.describe()}; "
              f"see left_out in {gate_file})", yellow=True, bold=True)
    c = verdict.counts
    name = env.name if env else "?"
    release = (env.profile.environment.release if env else None) or "not set"
    write(f"environment {name} (chosen by {env.source if env else '?'}), target release {release}, phases {', '.join(phases) or 'none'}")
    write(
        f"{c.get('selected', 0)} selected of {c.get('collected', 0)} collected: {c.get('passed', 0)} passed, "
        f"{c.get('failed', 0)} failed, {c.get('errored', 0)} errored, {c.get('skipped', 0)} skipped "
        f"({c.get('not_configured', 0)} not configured), {c.get('waived', 0)} waived, {c.get('missing', 0)} required missing"
    )
    for entry in verdict.failed + verdict.errored:
        write(f"  {entry['status'].upper():8} {entry['severity']:8} {_checks(entry)}: {entry['reason']}", red=entry["severity"] != "warning", yellow=entry["severity"] == "warning")
    for entry in verdict.not_run:
        write(f"  NOT RUN  {entry['severity']:8} {_checks(entry)}: {entry['status']}" + (f" ({entry['reason']})" if entry["reason"] else ""),
              red=entry["severity"] != "warning", yellow=entry["severity"] == "warning")
    for entry in verdict.missing:
        what = entry["id"] or entry["required"]
        write(f"  MISSING  required {entry['required']}: {what} {entry['status']}" + (f" ({entry['reason']})" if entry["reason"] else ""), red=True)
    for entry in verdict.waived:
        w = entry["waiver"]
        write(f"  WAIVED   {entry['severity']:8} {_checks(entry)}: {w['reason']} (until {w['until']})", yellow=True)
    for w in verdict.expired_waivers:
        write(f"  note: waiver for {w['check']} expired on {w['until']} and was ignored ({w['reason']})", yellow=True)
    for w in verdict.unused_waivers:
        write(f"  note: waiver for {w['check']} matched no failure")
    for entry in verdict.converged_after_retries:
        write(f"  note: {entry['id']} passed after {entry['attempts']} attempts in {entry['seconds']}s ({entry['what']})")
    for entry in verdict.skipped:  # what was not judged on purpose, and why (a rollback check of the other moment)
        if entry["status"] == NOT_APPLICABLE:
            write(f"  note: {entry['id']} {entry['reason']}")
    if verdict.reasons and verdict.verdict != GO:
        for reason in verdict.reasons[:20]:
            write(f"  because: {reason}")
        if len(verdict.reasons) > 20:
            write(f"  ... and {len(verdict.reasons) - 20} more reasons in {gate_file}")
    markup = _COLOURS.get(verdict.verdict, {"red": True, "bold": True})
    tr.write_sep("=", f"VERDICT: {verdict.verdict}  ({gate_file})", **markup)
