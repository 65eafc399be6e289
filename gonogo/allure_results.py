"""Allure results: labels on every check, environment and executor files, masking as results are
written, and a last scrub.

Labels are added as markers at collection (epic = phase, feature = subject, story = check,
severity, tags = runbook ids), so they work the same under xdist, where each worker writes its
own results. Only the controller cleans the results folder (before workers start) and writes
``environment.properties`` and ``executor.json`` (after they stop). allure-pytest's file logger is
replaced by :class:`MaskingFileLogger`, so no secret reaches the disk even in a run killed early.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from allure_commons.logger import INDENT, AllureFileLogger
from attr import asdict

from gonogo import __version__, causes
from gonogo.checks import ALLURE_SEVERITY, CheckInfo
from gonogo.environment import LoadedEnvironment
from gonogo.secrets import masker

_label = pytest.mark.allure_label


def add_labels(item: pytest.Item, check: CheckInfo) -> None:
    """Give a collected check its Allure labels."""
    for phase in check.phases or ["unphased"]:
        item.add_marker(_label(phase, label_type="epic"))
    item.add_marker(_label(check.subject, label_type="feature"))
    item.add_marker(_label(check.qualified_id, label_type="story"))
    item.add_marker(_label(ALLURE_SEVERITY[check.severity], label_type="severity"))
    item.add_marker(_label(f"gonogo-severity:{check.severity}", label_type="tag"))
    for step in check.runbook:
        item.add_marker(_label(step, label_type="tag"))


#: the tag of a check that passed only after retrying (the "passed only after retries" category)
RETRIED_TAG = "gonogo:passed-after-retries"
#: the tag of a skipped check, with its kind (not-configured, not-applicable, dependent, skipped)
STATUS_TAG = "gonogo-status:"


def tag_outcome(report: pytest.TestReport, skip_kind: str, convergence: list[dict[str, Any]]) -> None:
    """Tag the running check's result with what Allure cannot tell: the kind of a skip, a pass after retries."""
    import allure

    tags = [f"{STATUS_TAG}{skip_kind}"] if report.skipped else []
    if report.when == "call" and report.passed and any(c.get("attempts", 1) > 1 for c in convergence):
        tags.append(RETRIED_TAG)
    if tags:
        allure.dynamic.tag(*tags)


def title(check: CheckInfo, env: LoadedEnvironment | None) -> None:
    """Title the running check by what it verifies (its docstring) and name its target."""
    import allure

    suffix = f" [{', '.join(check.params.values())}]" if check.params else ""
    allure.dynamic.title(masker.mask(check.title + suffix))
    if env is not None:
        domain = env.profile.environment.public_domain
        allure.dynamic.parameter("target", f"{env.name}" + (f" ({domain})" if domain else ""))


def environment_properties(env: LoadedEnvironment | None, phases: list[str], document: dict[str, Any] | None) -> dict[str, str]:
    """What environment.properties says (the report's "Metadata", on its first screen): the verdict,
    environment and target version first, then the checks that decided it, then the rest."""
    props: dict[str, str] = {}
    if document is not None:
        props["verdict"] = document["verdict"]
    if env is not None:
        props |= {"environment": env.name, "target.version": env.profile.environment.release or "not set"}
    if document is not None:
        props |= deciding_properties(document)
    props |= {"gonogo.version": __version__, "runner": socket.gethostname()}
    if env is not None:
        props |= {
            "environment.source": env.source,
            "host": env.profile.environment.public_domain or "not set",
            "phases": ",".join(phases),
        }
    return props


def deciding_properties(document: dict[str, Any]) -> dict[str, str]:
    """The checks that decided the verdict, one property per kind (only the kinds present)."""
    ids = lambda entries, key="id": ", ".join(str(e.get(key) or e.get("required")) for e in entries)  # noqa: E731
    blocking = [e for e in document["failed"] + document["errored"] + document["not_run"]
                if e["severity"] in ("blocker", "critical")]
    warnings = [e for e in document["failed"] + document["errored"] + document["not_run"] if e not in blocking]
    # one item per cause (issue 22, item 8): the checks that share one, a failure and the checks that depend on it
    # (a required one among them is said on its blocking failure's item); the verdict result lists each check
    blocking_groups, blocking_said = _by_cause(document, blocking)
    folded = {d.get("nodeid") for g in blocking_groups for d in g.dependents}
    kinds = {
        "decided.by.blocking.checks": blocking_said,
        "decided.by.missing.required": ids([m for m in document["missing"] if m.get("nodeid") not in folded]),
        "decided.by.warnings": _by_cause(document, warnings)[1],
        "decided.by.waivers": ids(document["waived"]),
        "expired.waivers": ids(document["expired_waivers"], "check"),
        "run.problems": "; ".join(r for r in document["reasons"] if not r.startswith(("blocker ", "critical ", "warning ", "required ", "waived "))),
    }
    # [[gate.not_applicable]]: each check decided not to apply to the stack, with its reason (item 3 of issue 22)
    kinds["decided.not.applicable"] = "; ".join(f"{e['id']} ({e['decision']['reason']})"
                                                for e in document.get("decided_not_applicable", []))
    return {key: value for key, value in kinds.items() if value}


def _by_cause(document: dict[str, Any], entries: list[dict[str, Any]]) -> tuple[list[causes.Group], str]:
    """The failed and errored ``entries`` grouped by cause (gonogo.causes), then the others' ids, as one property."""
    # by the list an entry is in (a merged gate file's entry need not say its status)
    listed = {id(e) for e in document["failed"] + document["errored"]}
    judged = [e for e in entries if id(e) in listed]
    groups, _ = causes.failure_groups(document, judged)
    items = [causes.said(g) for g in groups] + [str(e.get("id")) for e in entries if e not in judged]
    return groups, "; ".join(items)


def clean(results_dir: Path) -> None:
    """Empty the results folder (controller only, before any worker writes)."""
    if results_dir.is_dir():
        shutil.rmtree(results_dir, ignore_errors=True)
    results_dir.mkdir(parents=True, exist_ok=True)


def write_environment(results_dir: Path, properties: dict[str, str]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={masker.mask(str(value))}" for key, value in properties.items()]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")


def executor_from_ci(environ: dict[str, str]) -> dict[str, object] | None:
    """Executor information from the usual CI variables (GitHub, GitLab, Jenkins, or CI=true)."""
    if environ.get("GITHUB_ACTIONS") == "true":
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        repo = environ.get("GITHUB_REPOSITORY", "")
        run = environ.get("GITHUB_RUN_ID", "")
        return {"name": "GitHub Actions", "type": "github", "buildName": f"{environ.get('GITHUB_WORKFLOW', '')} #{environ.get('GITHUB_RUN_NUMBER', '')}",
                "buildOrder": int(environ.get("GITHUB_RUN_NUMBER", "0") or 0), "buildUrl": f"{server}/{repo}/actions/runs/{run}" if repo else ""}
    if environ.get("GITLAB_CI") == "true":
        return {"name": "GitLab CI", "type": "gitlab", "buildName": environ.get("CI_JOB_NAME", ""),
                "buildOrder": int(environ.get("CI_PIPELINE_IID", "0") or 0), "buildUrl": environ.get("CI_JOB_URL", ""),
                "reportUrl": environ.get("CI_PIPELINE_URL", "")}
    if environ.get("JENKINS_URL"):
        return {"name": "Jenkins", "type": "jenkins", "buildName": environ.get("BUILD_TAG", ""),
                "buildOrder": int(environ.get("BUILD_NUMBER", "0") or 0), "buildUrl": environ.get("BUILD_URL", "")}
    if environ.get("CI", "").lower() in ("true", "1"):
        return {"name": "CI", "type": "ci", "buildName": environ.get("CI_JOB_NAME", socket.gethostname())}
    return None


def write_executor(results_dir: Path, environ: dict[str, str]) -> None:
    executor = executor_from_ci(environ)
    if executor:
        (results_dir / "executor.json").write_text(json.dumps(masker.mask_data(executor), indent=2), encoding="utf-8")


class MaskingFileLogger(AllureFileLogger):
    """allure-pytest's file logger, masking every result, container and attachment it writes."""

    def _report_item(self, item: Any) -> None:
        indent = INDENT if os.environ.get("ALLURE_INDENT_OUTPUT") else None
        data = masker.mask_data(asdict(item, filter=lambda _, v: v or v is False))
        text = json.dumps(data, indent=indent, ensure_ascii=False)
        self._write(item.file_pattern.format(prefix=uuid.uuid4()), text.encode("utf-8"))

    @allure_commons.hookimpl
    def report_attached_file(self, source: str, file_name: str) -> None:
        self._write(file_name, _masked_bytes(Path(source).read_bytes()))

    @allure_commons.hookimpl
    def report_attached_data(self, body: str | bytes, file_name: str) -> None:
        self._write(file_name, _masked_bytes(body.encode("utf-8") if isinstance(body, str) else body))

    def _write(self, file_name: str, data: bytes) -> None:
        """Write through a temporary file, as allure does: a reader never sees half a file."""
        tmp = self._report_dir / f"{file_name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self._report_dir / file_name)


def _masked_bytes(data: bytes) -> bytes:
    """Text masked; binary data (a screenshot) as it is."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    masked = masker.mask(text)
    return data if masked == text else masked.encode("utf-8")


def mask_at_source() -> None:
    """Make allure-pytest write through :class:`MaskingFileLogger` (before its pytest_configure runs)."""
    _use_file_logger(MaskingFileLogger)


def unmask_at_source() -> None:
    _use_file_logger(AllureFileLogger)


def _use_file_logger(logger: type[AllureFileLogger]) -> None:
    import allure_pytest.plugin  # imported late: by then pytest has loaded it as a plugin

    allure_pytest.plugin.AllureFileLogger = logger  # type: ignore[misc]


def scrub(directory: Path) -> int:
    """Mask secrets in every text file under ``directory``; returns how many files changed.

    A second net behind :class:`MaskingFileLogger`: a file another writer left there is masked at
    the end of the run.
    """
    if not masker.active or not directory.is_dir():
        return 0
    changed = 0
    for path in directory.rglob("*"):
        if not path.is_file() or path.stat().st_size > 20_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary attachments (screenshots) hold no text secrets
        masked = masker.mask(text)
        if masked != text:
            tmp = path.with_name(path.name + ".gonogo-tmp")
            tmp.write_text(masked, encoding="utf-8")
            os.replace(tmp, path)
            changed += 1
    return changed
