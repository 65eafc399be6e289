"""The verdict block at the end of the terminal output."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gonogo import causes
from gonogo.environment import LoadedEnvironment
from gonogo.gate import GO, GO_WITH_WARNINGS, Verdict
from gonogo.outcomes import NOT_APPLICABLE
from gonogo.secrets import masker
from gonogo.selection import LeftOut

_COLOURS = {GO: {"green": True, "bold": True}, GO_WITH_WARNINGS: {"yellow": True, "bold": True}}


def _checks(entry: dict[str, Any]) -> str:
    steps = f" [{' '.join(entry['runbook'])}]" if entry.get("runbook") else ""
    return f"{entry['id']}{steps}"


def _colour(severity: str) -> dict[str, bool]:
    return {"red": severity != "warning", "yellow": severity == "warning"}


def _status(group: causes.Group) -> str:
    return "FAILED" if any(e["status"] == "failed" for e in group.entries) else "ERRORED"


def _head(group: causes.Group) -> str:
    """One cause's line: the check and its reason (or the cause and its checks), then its dependents."""
    after = causes.depending(len(group.dependents), several=len(group.entries) > 1)
    if len(group.entries) == 1:
        entry = group.entries[0]
        return f"{_checks(entry)}: {entry['reason']}{after}"
    return f"{group.words}: {len(group.entries)} checks ({causes.listing([_checks(e) for e in group.entries])}){after}"


def _gate_line(entry: dict[str, Any]) -> str:
    """The gate's reason for a failed or errored check (gonogo.gate.decide)."""
    return f"{entry['severity']} check {'failed' if entry['status'] == 'failed' else 'errored'}: {entry['id']}"


def _missing_line(entry: dict[str, Any]) -> str:
    """The gate's reason for a missing required check (gonogo.gate.decide)."""
    return (f"required {entry['required']}: {entry['id'] or entry['required']} {entry['status']}"
            + (f" ({entry['reason']})" if entry["reason"] else ""))


def _by_reason(entries: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        grouped.setdefault(entry["reason"], []).append(entry)
    return grouped


class _View:
    """The verdict one line per cause (issue 22, item 8): failures that share a cause grouped under it, each
    with the checks skipped as dependent on it; the gate's reasons said the same way."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        document = {"failed": verdict.failed, "errored": verdict.errored, "skipped": verdict.skipped,
                    "not_run": verdict.not_run}
        self.failures, self.folded = causes.failure_groups(document)
        self._group_of = {id(e): g for g in self.failures for e in g.entries}
        owner = {d["nodeid"]: g for g in self.failures for d in g.dependents}
        #: the gate's reason of each missing required check said on the line of the failure it depends on
        self._missing = {_missing_line(m): (owner[m["nodeid"]], m) for m in verdict.missing if m.get("nodeid") in owner}

    def grouped(self) -> bool:
        """Whether a line stands for more than one check (so -v would say more)."""
        notes = _by_reason(e for e in self.verdict.skipped if e["status"] == NOT_APPLICABLE)
        return (any(len(g.entries) > 1 or g.dependents for g in self.failures)
                or any(len(entries) > 1 for entries in notes.values()))

    def reasons(self) -> list[str]:
        """The gate's reasons, those of one cause on one line (every check still named, none hidden)."""
        given = set(self.verdict.reasons)
        lines = {id(e): _gate_line(e) for g in self.failures for e in g.entries}
        by_line = {line: self._group_of[key] for key, line in lines.items()}
        said: set[int] = set()
        shown: list[str] = []
        for reason in self.verdict.reasons:
            group = by_line.get(reason)
            if group is None:
                owner = self._missing.get(reason, (None, None))[0]
                if owner is not None and any(lines[id(e)] in given for e in owner.entries):
                    continue  # said on the line of the failure it depends on
                shown.append(reason)
                continue
            if id(group) in said:
                continue
            said.add(id(group))
            present = [e for e in group.entries if lines[id(e)] in given]
            ids = [m["id"] for line, (owner, m) in self._missing.items() if owner is group and line in given]
            after = causes.depending(len(group.dependents), several=len(present) > 1)
            after += f" (required, not judged: {causes.listing(ids)})" if ids else ""
            if len(present) == 1:
                shown.append(lines[id(present[0])] + after)
                continue
            kinds: dict[str, list[str]] = {}
            for entry in present:
                verb = "failed" if entry["status"] == "failed" else "errored"
                kinds.setdefault(f"{entry['severity']} check{{s}} {verb}", []).append(entry["id"])
            said_kinds = "; ".join(f"{kind.format(s='s' if len(ids_) > 1 else '')}: {', '.join(ids_)}"
                                   for kind, ids_ in kinds.items())
            shown.append(f"{group.words}: {said_kinds}{after}")
        return shown


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
    full = bool(getattr(tr.config.option, "verbose", 0) > 0)  # -v: every check and note on its own line
    view = _View(verdict)
    if full:
        for entry in verdict.failed + verdict.errored:
            write(f"  {entry['status'].upper():8} {entry['severity']:8} {_checks(entry)}: {entry['reason']}", **_colour(entry['severity']))
    else:  # one line per cause: the checks that share it, and the checks skipped as dependent on them
        for group in view.failures:
            write(f"  {_status(group):8} {group.severity:8} {_head(group)}", **_colour(group.severity))
    for entry in verdict.not_run:
        write(f"  NOT RUN  {entry['severity']:8} {_checks(entry)}: {entry['status']}" + (f" ({entry['reason']})" if entry["reason"] else ""),
              red=entry["severity"] != "warning", yellow=entry["severity"] == "warning")
    for entry in verdict.missing:
        if not full and entry.get("nodeid") in view.folded:
            continue  # said on its failure's line: "and N checks that depend on it"
        what = entry["id"] or entry["required"]
        write(f"  MISSING  required {entry['required']}: {what} {entry['status']}" + (f" ({entry['reason']})" if entry["reason"] else ""), red=True)
    for entry in verdict.waived:
        w = entry["waiver"]
        write(f"  WAIVED   {entry['severity']:8} {_checks(entry)}: {w['reason']} (until {w['until']})", yellow=True)
    for entry in verdict.decided_not_applicable:  # [[gate.not_applicable]]: not run, not weighed, said every run
        write(f"  DECIDED NOT APPLICABLE {entry['severity']} {_checks(entry)}: {entry['decision']['reason']} "
              f"([gate.not_applicable] check = '{entry['decision']['check']}')", yellow=True)
    for w in verdict.expired_waivers:
        write(f"  note: waiver for {w['check']} expired on {w['until']} and was ignored ({w['reason']})", yellow=True)
    for w in verdict.unused_waivers:
        write(f"  note: waiver for {w['check']} matched no failure")
    for entry in verdict.converged_after_retries:
        write(f"  note: {entry['id']} passed after {entry['attempts']} attempts in {entry['seconds']}s ({entry['what']})")
    # what was not judged on purpose, and why (a rollback check of the other moment): by reason, with their count
    notes = [e for e in verdict.skipped if e["status"] == NOT_APPLICABLE]
    for reason, entries in ({str(i): [e] for i, e in enumerate(notes)} if full else _by_reason(notes)).items():
        if len(entries) == 1:
            write(f"  note: {entries[0]['id']} {entries[0]['reason']}")
        else:
            write(f"  note: {len(entries)} checks {reason} ({causes.listing([e['id'] for e in entries])})")
    if verdict.reasons and verdict.verdict != GO:
        reasons = verdict.reasons if full else view.reasons()
        for reason in reasons[:20]:
            write(f"  because: {reason}")
        if len(reasons) > 20:
            write(f"  ... and {len(reasons) - 20} more reasons in {gate_file}")
    if not full and view.grouped():
        write(f"  (one line per cause: -v lists each check in full, as {gate_file} and the report do)")
    markup = _COLOURS.get(verdict.verdict, {"red": True, "bold": True})
    tr.write_sep("=", f"VERDICT: {verdict.verdict}  ({gate_file})", **markup)
