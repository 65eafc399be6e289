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
- otherwise any warning, waived failure or not-run warning check makes GO-WITH-WARNINGS, else GO;
- the checks each run's profile decided do not apply (``decided_not_applicable``) are carried, named by their run.

With ``--results DIR`` (once per run, in the order of the gate files) the Allure results are merged
into ``--results-out`` (default: ``allure-results`` beside the output) with one verdict result for
the merged decision, and ``coverage.md`` and ``quality-gate.json`` are merged beside the output, so
``python -m gonogo.report`` renders and gates the whole as one report.

Every input is checked before anything is written: each gate file against ``gonogo/data/gate.schema.json``
(and its times are moments with an offset), each Allure result, coverage.md and quality-gate.json as far as
the merge reads them, each at most ``MAX_INPUT_BYTES`` and nested at most ``MAX_DEPTH`` levels, never
waited on (a FIFO); and ``-o`` and ``--results-out`` must be writable. Bad input is one line naming the
file and the key, exit code 4.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from gonogo import allure_results, coverage, quality_gate, verdict_result
from gonogo.environment import one_line
from gonogo.gate import GO, GO_WITH_WARNINGS, NO_GO
from gonogo import files
from gonogo.files import too_deep
from gonogo.verdict_file import SCHEMA, writable_problem

#: the largest input read (a gate file of a run of 10,000 checks is about 5 MB; an Allure result a few kB)
MAX_INPUT_BYTES = 50_000_000
#: the deepest nesting of an input (a gate file nests 4 levels: a check's params)
MAX_DEPTH = 20
SCHEMA_FILE = Path(__file__).parent / "data" / "gate.schema.json"
#: what the merge reads of an Allure result: its name, and the files its attachments are
RESULT_SCHEMA = {"type": "object", "properties": {"fullName": {"type": "string"}, "attachments": {
    "type": "array", "items": {"type": "object", "required": ["source"], "properties": {"source": {"type": "string"}}}}}}
_STRINGS = {"type": "array", "items": {"type": "string"}}
#: what the merge reads of a run's quality-gate.json (gonogo.quality_gate)
RULES_SCHEMA = {"type": "object", "required": ["schema", "environment", "blocking_severities", "waived", "required", "selected",
                                               "run_problems"],
                "properties": {"schema": {"const": quality_gate.SCHEMA}, "blocking_severities": _STRINGS,
                               "waived": {"type": "object", "additionalProperties": {"type": "string"}},
                               "required": {"type": "array", "items": {"type": "object", "required": ["selector", "checks"],
                                            "properties": {"selector": {"type": "string"}, "checks": _STRINGS}}},
                               "selected": _STRINGS, "run_problems": _STRINGS, "dependent_ok": _STRINGS}}
#: format checks of the gate schema; a moment must carry its offset: the merge compares and subtracts them
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _moment(value: object) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None

#: entry lists of gate.json that the merge concatenates, each entry labelled with its run
_LISTS = ("failed", "errored", "not_run", "waived", "skipped", "expired_waivers", "unused_waivers",
          "converged_after_retries")


class MergeError(Exception):
    """A gate file that cannot be merged: the message names it, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


@cache
def gate_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def load(path: Path) -> dict[str, Any]:
    """A gate file; MergeError names the file and the key when it is not a verdict file of the schema."""
    return read_json(path, gate_schema(), f"a gonogo verdict file (schema {SCHEMA})")  # type: ignore[no-any-return]


def read_json(path: Path, schema: dict[str, Any], what: str) -> Any:
    """The JSON document at ``path`` checked against ``schema``; MergeError says which file and key are wrong."""
    read = files.read_text(path, MAX_INPUT_BYTES)  # bounded, never waits on a FIFO
    if read.text is None:
        raise MergeError(f"{path}: cannot read it: it {read.error}")
    try:
        document = json.loads(read.text)
    except RecursionError:
        raise MergeError(f"{path}: nested more than {MAX_DEPTH} levels deep: not {what}") from None
    except ValueError as exc:
        raise MergeError(f"{path}: cannot read it as JSON ({str(exc).split(';')[0]})") from None
    deep = too_deep(document, MAX_DEPTH)
    if deep is not None:
        raise MergeError(f"{path}: {deep or 'top level'}: nested more than {MAX_DEPTH} levels deep: not {what}")
    error = best_match(jsonschema.Draft202012Validator(schema, format_checker=FORMATS).iter_errors(document))
    if error is not None:
        key = error.json_path.removeprefix("$").lstrip(".") or "top level"
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        raise MergeError(f"{path}: not {what}: {key}: {message}")
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
    # optional in the schema (a gate file of an older gonogo has none)
    lists["decided_not_applicable"] = [{**e, "run": run_name(d, p)} for p, d in documents
                                       for e in d.get("decided_not_applicable", [])]
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
    starts = [dt.datetime.fromisoformat(d["started_at"]) for _, d in documents]
    ends = [dt.datetime.fromisoformat(d["finished_at"]) for _, d in documents]
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
        "started_at": min(starts).isoformat(),
        "finished_at": max(ends).isoformat(),
        "duration_s": max(0.0, round((max(ends) - min(starts)).total_seconds(), 3)),
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


def result_files(folder: Path) -> list[Path]:
    """The files of a run's Allure results to merge: all but its own verdict result (with its attachments) and its
    environment and executor files; MergeError names a result that is not an Allure result."""
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such results folder")
    skip = {"environment.properties", "executor.json"}
    for result in folder.glob("*-result.json"):
        data = read_json(result, RESULT_SCHEMA, "an Allure result")
        if data.get("fullName") == "gonogo#verdict":
            skip |= {result.name, *(a["source"] for a in data.get("attachments", []))}
    return [path for path in folder.iterdir() if path.is_file() and path.name not in skip]


def copy_results(copies: list[list[Path]], target: Path) -> None:
    """Copy the runs' results files (:func:`result_files`) into ``target``, emptied first."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in (p for paths in copies for p in paths):
        shutil.copy2(path, target / path.name)


def _output_problem(options: argparse.Namespace, target: Path) -> str | None:
    """Why ``-o`` or ``--results-out`` cannot be written, or a results folder would replace an input."""
    problem = writable_problem(options.output, example="gate.json")
    if problem:
        return f"-o {options.output}: {problem}"
    if not options.results:
        return None
    if any(target.resolve() == folder.resolve() for folder in options.results):
        return f"--results-out {target}: is also a --results folder, which the merge would empty: name another folder"
    problem = writable_problem(target, folder=True)
    return f"--results-out {target}: {problem}" if problem else None


def _text(path: Path) -> str:
    read = files.read_text(path, MAX_INPUT_BYTES)
    if read.text is None:
        raise MergeError(f"{path}: cannot read it: it {read.error}")
    return read.text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gonogo.merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("gates", nargs="+", type=Path, help="the gate.json of each run")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the merged verdict file (e.g. reports/gate.json)")
    parser.add_argument("--results", type=Path, action="append", default=[],
                        help="the Allure results folder of each run, in the order of the gate files")
    parser.add_argument("--results-out", type=Path, help="the merged results (default: allure-results beside --output)")
    options = parser.parse_args(argv)
    output: Path = options.output
    folder = output.parent
    target: Path = options.results_out or folder / "allure-results"
    try:  # every input read and checked, every output checked, before anything is written
        problem = _output_problem(options, target)
        if problem:
            raise MergeError(problem)
        documents = [(path, load(path)) for path in options.gates]
        if options.results and len(options.results) != len(documents):
            raise MergeError(f"{len(options.results)} --results folders for {len(documents)} gate files: give one per run")
        copies = [result_files(results) for results in options.results]
        texts = [p.parent / coverage.RUN_FILE for p, _ in documents]
        table = merge_coverage([_text(t) for t in texts]) if all(t.is_file() for t in texts) else None
        paths = [p.parent / quality_gate.FILE_NAME for p, _ in documents]
        rules = [read_json(r, RULES_SCHEMA, "a gonogo quality-gate.json") for r in paths] \
            if all(r.is_file() for r in paths) else None
        merged = merge(documents)
    except MergeError as exc:
        print(f"gonogo merge: {exc}", file=sys.stderr)
        return 4
    try:
        _write(options, merged, documents, table, rules, copies, target)
    except OSError as exc:  # the disk filled up, a folder changed under the merge
        print(f"gonogo merge: cannot write {exc.filename or output}: {exc.strerror or exc}", file=sys.stderr)
        return 4
    print(f"{merged['verdict']} from {len(documents)} runs: {output}")
    for reason in merged["reasons"][:20]:
        print(f"  because: {reason}")
    return int(merged["exit_code"])


def _write(options: argparse.Namespace, merged: dict[str, Any], documents: list[tuple[Path, dict[str, Any]]],
           table: str | None, rules: list[dict[str, Any]] | None, copies: list[list[Path]], target: Path) -> None:
    """The merged verdict file, coverage.md and quality-gate.json beside it, and the merged Allure results."""
    output: Path = options.output
    folder = output.parent
    folder.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    if table is not None:
        (folder / coverage.RUN_FILE).write_text(table, encoding="utf-8")
    if rules is not None:
        merged_rules = merge_rules(rules, [run_name(d, p) for p, d in documents])
        (folder / quality_gate.FILE_NAME).write_text(json.dumps(merged_rules, indent=2) + "\n", encoding="utf-8")
    if not options.results:
        return
    copy_results(copies, target)
    start = dt.datetime.fromisoformat(merged["started_at"])
    verdict_result.write(target, merged, table, int(start.timestamp() * 1000),
                         int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000))
    properties = {"verdict": merged["verdict"], "environment": (merged["environment"] or {}).get("name", "none"),
                  "target.version": str(merged["target_version"]), **allure_results.deciding_properties(merged),
                  "runs": str(len(documents))}
    allure_results.write_environment(target, properties)


if __name__ == "__main__":
    raise SystemExit(main())
