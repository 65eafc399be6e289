"""Several runs, one decision: ``python -m gonogo.merge GATE.json... -o reports/gate.json``.

A gate spread over several runs (predeploy, postdeploy and smoke; the jobs of a CI matrix over hosts
or environments) is decided once, by the same rules as one run:

- a NO-GO anywhere is a NO-GO: every blocking reason of every run stays, named by its run;
- a required check is missing only when no run *of the same stack* judged it (a run judged a check it
  passed, failed or had waived; the stack is ``[environment] name``, which the profiles of the hosts of
  one stack share, else the profile's name): staging having judged a check never excuses prod; a
  ``[gate] required`` entry that matches no check is missing only when it matches none in every run
  of that stack; a ``--partial`` run's left-out required check is missing like any other;
- runs that judged different target versions cannot make one decision: NO-GO;
- otherwise any warning, waived failure or not-run warning check makes GO-WITH-WARNINGS, else GO.

With ``--results DIR`` (once per run, in the order of the gate files) the Allure results are merged
into ``--results-out`` (default: ``allure-results`` beside the output) with one verdict result for
the merged decision, and ``coverage.md`` and ``quality-gate.json`` are merged beside the output, so
``python -m gonogo.report`` renders and gates the whole as one report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from gonogo import allure_results, coverage, quality_gate, verdict_result
from gonogo.gate import GO, GO_WITH_WARNINGS, NO_GO
from gonogo.verdict_file import SCHEMA

#: entry lists of gate.json that the merge concatenates, each entry labelled with its run
_LISTS = ("failed", "errored", "not_run", "waived", "skipped", "expired_waivers", "unused_waivers",
          "converged_after_retries")


class MergeError(Exception):
    """A gate file that cannot be merged: the message names it."""


def load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MergeError(f"{path}: cannot read it as JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise MergeError(f"{path}: not a gonogo verdict file (schema {SCHEMA})")
    return document


def run_name(document: dict[str, Any], path: Path) -> str:
    """``postdeploy@prod (gate-host1.json)``: which run an entry or a reason comes from."""
    env = (document.get("environment") or {}).get("name") or "no environment"
    return f"{'+'.join(document.get('phases') or []) or 'no phase'}@{env} ({path.name})"


def _judged(document: dict[str, Any]) -> set[str]:
    return set(document.get("passed", [])) | {e["id"] for e in document["failed"] + document["waived"]}


def _environment(document: dict[str, Any]) -> str | None:
    """The stack a run judged: ``[environment] name`` (hosts of one stack share it), else the profile's name."""
    environment = document.get("environment") or {}
    return environment.get("stack") or environment.get("name")


def _is_missing_reason(reason: str) -> bool:
    """A reason that says a required entry is missing (recomputed across runs), not that a check errored."""
    return reason.startswith("required ") and not reason.startswith("required check errored")


def merge(documents: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """One verdict document from several (see the module's rules)."""
    if not documents:
        raise MergeError("no gate file to merge")
    environments = {_environment(d) for _, d in documents}
    of = {env: [d for _, d in documents if _environment(d) == env] for env in environments}
    judged = {env: set().union(*(_judged(d) for d in docs)) for env, docs in of.items()}
    no_match_everywhere = {env: set.intersection(*({m["required"] for m in d["missing"] if m["status"] == "no-match"}
                                                   for d in docs)) for env, docs in of.items()}
    missing: list[dict[str, Any]] = []
    for path, document in documents:
        env = _environment(document)
        for entry in document["missing"]:
            gone = (entry["id"] in judged[env] if entry["status"] != "no-match"
                    else entry["required"] not in no_match_everywhere[env])
            if not gone and all(entry["required"] != m["required"] or entry["id"] != m["id"] or m["environment"] != env
                                for m in missing):
                missing.append({**entry, "run": run_name(document, path), "environment": env})
    blocking = [f"{run_name(d, p)}: {r}" for p, d in documents if d["verdict"] == NO_GO for r in d["reasons"]
                if not _is_missing_reason(r)]
    versions = sorted({str(d.get("target_version")) for _, d in documents})
    if len(versions) > 1:
        blocking.append(f"the runs judged different target versions ({', '.join(versions)}): one decision needs one release")
    blocking += [f"required {m['required']}: {m['id'] or m['required']} {m['status']} in every run of "
                 f"{m['environment'] or 'no environment'}" for m in missing]
    lists = {key: [{**e, "run": run_name(d, p)} for p, d in documents for e in d[key]] for key in _LISTS}
    warned = any(d["verdict"] == GO_WITH_WARNINGS for _, d in documents) or lists["waived"] or any(
        e.get("severity") == "warning" for key in ("failed", "errored", "not_run") for e in lists[key])
    if blocking:
        verdict, reasons = NO_GO, blocking
    elif warned:
        verdict = GO_WITH_WARNINGS
        reasons = [f"{run_name(d, p)}: {r}" for p, d in documents for r in d["reasons"]] or ["warnings in the runs"]
    else:
        verdict, reasons = GO, []
    first = documents[0][1]
    counts: dict[str, int] = {}
    for _, document in documents:
        for key, value in document["counts"].items():
            counts[key] = counts.get(key, 0) + value
    counts["missing"] = len(missing)
    starts = [d["started_at"] for _, d in documents]
    ends = [d["finished_at"] for _, d in documents]
    return {
        "schema": SCHEMA,
        "verdict": verdict,
        "reasons": reasons,
        "exit_code": 1 if verdict == NO_GO else 0,
        "environment": first["environment"],
        "target_version": first["target_version"],
        "phases": sorted({p for _, d in documents for p in d["phases"]}),
        "selection": {"markexpr": "", "keyword": "", "args": [str(p) for p, _ in documents], "workers": 0},
        "partial": any(d["partial"] for _, d in documents),
        "left_out": {"checks": [c for _, d in documents for c in d["left_out"]["checks"]],
                     "uncollected": [c for _, d in documents for c in d["left_out"]["uncollected"]]},
        "counts": counts,
        **lists,
        "missing": missing,
        "passed": sorted(set().union(*(set(d.get("passed", [])) for _, d in documents))),
        "runs": [{"file": str(p), "verdict": d["verdict"], "environment": (d.get("environment") or {}).get("name"),
                  "phases": d["phases"], "target_version": d["target_version"]} for p, d in documents],
        "started_at": min(starts),
        "finished_at": max(ends),
        "duration_s": round((dt.datetime.fromisoformat(max(ends)) - dt.datetime.fromisoformat(min(starts))).total_seconds(), 3),
        "gonogo_version": first["gonogo_version"],
    }


_ROW = re.compile(r"^\| (?P<id>[A-Z][A-Z0-9]*-[0-9][0-9A-Z.]*) \| (?P<phase>[^|]*) \| (?P<state>[^|]*) \| (?P<rest>.*) \|$")


def merge_coverage(texts: list[str]) -> str:
    """One coverage.md from several: a step failed in a run is failed, else passed in one is passed..."""
    order = [coverage.FAILED_STATE, coverage.PASSED_STATE, coverage.NOT_RUN_STATE, coverage.MANUAL, coverage.NOT_YET]
    rows: dict[str, tuple[str, str, str, list[str]]] = {}
    for text in texts:
        for line in text.splitlines():
            row = _ROW.match(line)
            if not row:
                continue
            what, _, checks = row["rest"].rpartition(" | ")
            phase, state, seen = row["phase"], row["state"], rows.get(row["id"])
            if seen:
                state = min(state, seen[1], key=order.index)
            rows[row["id"]] = (phase, state, what, (seen[3] if seen else []) + ([checks] if checks else []))
    counts = {state: sum(1 for r in rows.values() if r[1] == state) for state in order}
    lines = [f"| {sid} | {phase} | {state} | {what} | {'; '.join(checks)} |" for sid, (phase, state, what, checks) in rows.items()]
    summary = "; ".join(f"{state}: {n}" for state, n in counts.items())
    return "\n".join(["# Runbook coverage of these runs", "", f"{len(rows)} steps: {summary}.", "",
                      "| step | phase | state | what | checks (status in each run) |", "|---|---|---|---|---|", *lines]) + "\n"


def merge_rules(rules: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """One quality-gate.json from several: every run's selection, waivers, requirements and problems."""
    required: dict[str, set[str]] = {}
    for rule in rules:
        for entry in rule["required"]:
            required.setdefault(entry["selector"], set()).update(entry["checks"])
    return {
        "schema": quality_gate.SCHEMA,
        "environment": rules[0]["environment"],
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "blocking_severities": rules[0]["blocking_severities"],
        "waived": {k: v for rule in rules for k, v in rule["waived"].items()},
        "required": [{"selector": s, "checks": sorted(c)} for s, c in required.items()],
        "selected": sorted({c for rule in rules for c in rule["selected"]}),
        "run_problems": [f"{name}: {p}" for rule, name in zip(rules, names) for p in rule["run_problems"]],
        "dependent_ok": sorted({c for rule in rules for c in rule.get("dependent_ok", [])}),
    }


def merge_results(folders: list[Path], target: Path) -> None:
    """Copy every run's Allure results into ``target``, each run's own verdict result left out."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for folder in folders:
        if not folder.is_dir():
            raise MergeError(f"{folder}: no such results folder")
        skip: set[str] = set()
        for result in folder.glob("*-result.json"):
            data = json.loads(result.read_text(encoding="utf-8"))
            if data.get("fullName") == "gonogo#verdict":
                skip |= {result.name, *(a["source"] for a in data.get("attachments", []))}
        for path in folder.iterdir():
            if path.is_file() and path.name not in skip and path.name not in ("environment.properties", "executor.json"):
                shutil.copy2(path, target / path.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gonogo.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("gates", nargs="+", type=Path, help="the gate.json of each run")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the merged verdict file (e.g. reports/gate.json)")
    parser.add_argument("--results", type=Path, action="append", default=[],
                        help="the Allure results folder of each run, in the order of the gate files")
    parser.add_argument("--results-out", type=Path, help="the merged results (default: allure-results beside --output)")
    options = parser.parse_args(argv)
    try:
        documents = [(path, load(path)) for path in options.gates]
        merged = merge(documents)
        output: Path = options.output
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
        folder = output.parent
        texts = [p.parent.joinpath(coverage.RUN_FILE) for p, _ in documents]
        if all(t.is_file() for t in texts):
            (folder / coverage.RUN_FILE).write_text(merge_coverage([t.read_text(encoding="utf-8") for t in texts]), encoding="utf-8")
        rules = [p.parent / quality_gate.FILE_NAME for p, _ in documents]
        if all(r.is_file() for r in rules):
            merged_rules = merge_rules([json.loads(r.read_text(encoding="utf-8")) for r in rules],
                                       [run_name(d, p) for p, d in documents])
            (folder / quality_gate.FILE_NAME).write_text(json.dumps(merged_rules, indent=2) + "\n", encoding="utf-8")
        if options.results:
            if len(options.results) != len(documents):
                raise MergeError(f"{len(options.results)} --results folders for {len(documents)} gate files: give one per run")
            target = options.results_out or folder / "allure-results"
            merge_results(options.results, target)
            table = (folder / coverage.RUN_FILE).read_text(encoding="utf-8") if (folder / coverage.RUN_FILE).is_file() else None
            starts = [dt.datetime.fromisoformat(d["started_at"]) for _, d in documents]
            verdict_result.write(target, merged, table, int(min(starts).timestamp() * 1000),
                                 int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000))
            properties = {"verdict": merged["verdict"], "environment": (merged["environment"] or {}).get("name", "none"),
                          "target.version": str(merged["target_version"]), **allure_results.deciding_properties(merged),
                          "runs": str(len(documents))}
            allure_results.write_environment(target, properties)
    except MergeError as exc:
        print(f"gonogo merge: {exc}", file=sys.stderr)
        return 4
    print(f"{merged['verdict']} from {len(documents)} runs: {output}")
    for reason in merged["reasons"][:20]:
        print(f"  because: {reason}")
    return merged["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())
