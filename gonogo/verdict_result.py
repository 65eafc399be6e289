"""The verdict as the first result of the Allure report: "NO-GO · prod · release 1.4.2".

Written by the controller at the end of a run into the results folder, beside the checks' results:
one Allure test result named by the verdict, environment and target version, with the checks that
decided it in its description (failed blockers, missing required checks, waivers, expired waivers),
and three attachments: the deciding checks (markdown), the runbook coverage of the run
(``coverage.md``) and ``gate.json``. It starts when the session started, so the report lists it
first, and is labelled ``gonogo:verdict`` so Allure's quality gate and categories leave it out.

Its status carries the verdict: failed for NO-GO, broken (yellow) for GO-WITH-WARNINGS, passed for GO.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from gonogo.gate import GO, GO_WITH_WARNINGS
from gonogo.secrets import masker

VERDICT_TAG = "gonogo:verdict"
STATUS = {GO: "passed", GO_WITH_WARNINGS: "broken"}  # anything else (NO-GO) is failed


def title(document: dict[str, Any]) -> str:
    """``NO-GO · prod · release 1.4.2``: what the report's first line says."""
    env = (document.get("environment") or {}).get("name") or "no environment"
    release = document.get("target_version") or "not set"
    return f"{document['verdict']} · {env} · release {release}"


def _rows(entries: list[dict[str, Any]], *columns: str) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for entry in entries:
        lines.append("| " + " | ".join(_cell(entry.get(c)) for c in columns) + " |")
    return lines


def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def deciding_checks(document: dict[str, Any]) -> str:
    """The checks that decided the verdict, as markdown (the description of the verdict result)."""
    env = document.get("environment") or {}
    lines = [f"# {title(document)}", "",
             f"- environment: **{env.get('name', 'none')}** (profile {env.get('profile', '-')}, "
             f"domain {env.get('public_domain') or 'not set'})",
             f"- target version: **{document.get('target_version') or 'not set'}**",
             f"- phases: {', '.join(document.get('phases') or []) or 'none'}"
             + (" (partial run: only the selection is judged)" if document.get("partial") else ""),
             "- counts: " + ", ".join(f"{k} {v}" for k, v in (document.get("counts") or {}).items() if v), ""]
    if document.get("reasons"):
        lines += ["## Why", "", *(f"- {reason}" for reason in document["reasons"]), ""]
    sections = [
        ("Failed and errored checks", document.get("failed", []) + document.get("errored", []), ("id", "severity", "status", "reason", "runbook")),
        ("Missing required checks", document.get("missing", []), ("required", "id", "status", "reason")),
        ("Checks that did not run", document.get("not_run", []), ("id", "severity", "status", "reason")),
        ("Waived failures", [{**e, "waiver": f"{e['waiver']['reason']} (until {e['waiver']['until']})"}
                             for e in document.get("waived", [])], ("id", "severity", "reason", "waiver")),
        ("Expired waivers (ignored)", document.get("expired_waivers", []), ("check", "reason", "until")),
        ("Waivers that matched no failure", document.get("unused_waivers", []), ("check", "reason", "until")),
        ("Passed only after retries", document.get("converged_after_retries", []), ("id", "attempts", "seconds", "what")),
    ]
    for heading, entries, columns in sections:
        if entries:
            lines += [f"## {heading}", "", *_rows(entries, *columns), ""]
    return "\n".join(lines)


def write(results_dir: Path, document: dict[str, Any], coverage: str | None, start_ms: int, stop_ms: int) -> Path:
    """Write the verdict result and its attachments (masked) into ``results_dir``; returns the result file."""
    results_dir.mkdir(parents=True, exist_ok=True)
    summary = masker.mask(deciding_checks(document))
    attachments = [("deciding checks", "text/markdown", "md", summary),
                   ("gate.json", "application/json", "json", json.dumps(masker.mask_data(document), indent=2, default=str))]
    if coverage is not None:
        attachments.insert(1, ("runbook coverage", "text/markdown", "md", masker.mask(coverage)))
    written = []
    for name, mime, extension, body in attachments:
        source = f"{uuid.uuid4()}-attachment.{extension}"
        (results_dir / source).write_text(body, encoding="utf-8")
        written.append({"name": name, "source": source, "type": mime})
    reasons = document.get("reasons") or []
    env_name = (document.get("environment") or {}).get("name") or "none"
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": f"gonogo-verdict-{env_name}",
        "testCaseId": "gonogo-verdict",
        "fullName": "gonogo#verdict",
        "name": masker.mask(title(document)),
        "status": STATUS.get(document["verdict"], "failed"),
        "statusDetails": {"message": masker.mask("\n".join([document["verdict"], *reasons[:20]]))},
        "description": summary,
        "start": start_ms,
        "stop": max(stop_ms, start_ms),
        "labels": [{"name": "epic", "value": "gate"}, {"name": "feature", "value": "verdict"},
                   {"name": "story", "value": "gonogo.verdict"}, {"name": "severity", "value": "blocker"},
                   {"name": "tag", "value": VERDICT_TAG}],
        "parameters": [],
        "attachments": written,
    }
    path = results_dir / f"{result['uuid']}-result.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
