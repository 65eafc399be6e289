"""What gonogo knows about each check: phase, severity, runbook steps, subject and id.

The markers are validated when the check is collected: an unknown severity or a malformed or
unknown runbook step id is a collection error that says what is allowed.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gonogo.steps import STEP_ID, STEP_ID_FORM, Step

PHASES = ("predeploy", "postdeploy", "rollback", "smoke")
SEVERITIES = ("blocker", "critical", "warning")
DEFAULT_SEVERITY = "critical"
#: Allure has no "warning" severity; a warning is shown as minor.
ALLURE_SEVERITY = {"blocker": "blocker", "critical": "critical", "warning": "minor"}

MARKERS = {
    "predeploy": "phase: runs before the deploy (pytest -m predeploy)",
    "postdeploy": "phase: runs after the deploy (pytest -m postdeploy)",
    "rollback": "phase: runs around a rollback (pytest -m rollback)",
    "smoke": "phase: a browser smoke flow (Playwright)",
    "severity(level)": "blocker | critical | warning: what a failure does to the verdict (default critical)",
    "runbook(*ids)": "the runbook step ids this check encodes, from gonogo/data/STEPS.md (e.g. BTQ-2.1)",
    "subject(name)": "what the check is about (defaults to the module name: checks/test_health.py -> health)",
    "each(section, arg, where=None, optional=False, what=None, inherit=True, severity_from=None)":
        "one check per entry of a profile section (gonogo.parametrize), e.g. each('health', 'endpoint')",
    "gonogo_placeholder(kind, reason)": "internal: the one placeholder of a check with nothing to check",
}


@dataclass
class CheckInfo:
    """One collected check, as the gate and the reports see it (JSON-serialisable)."""

    nodeid: str
    check_id: str
    subject: str
    title: str
    phases: list[str]
    severity: str
    runbook: list[str]
    params: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_id(self) -> str:
        return f"{self.subject}.{self.check_id}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckInfo:
        return cls(**data)


class MarkerError(Exception):
    pass


def _single_arg(item: pytest.Item, name: str) -> str | None:
    marks = list(item.iter_markers(name))
    if not marks:
        return None
    mark = marks[0]  # the closest one wins (function over class over module)
    if len(mark.args) != 1 or mark.kwargs or not isinstance(mark.args[0], str):
        raise MarkerError(f"@pytest.mark.{name} takes one string argument, got args={mark.args!r} kwargs={mark.kwargs!r}")
    return mark.args[0]


def subject_of(item: pytest.Item) -> str:
    stem = Path(str(item.path)).stem
    for prefix in ("test_", "check_"):
        if stem.startswith(prefix):
            return stem[len(prefix):]
    return stem.removesuffix("_test")


def subject_of_item(item: pytest.Item) -> str:
    """The check's subject: its ``subject`` marker, else its module's name."""
    try:
        return _single_arg(item, "subject") or subject_of(item)
    except MarkerError:
        return subject_of(item)


def static_phases(item: pytest.Item) -> list[str]:
    """The phases a check declares itself (function, class, module), not those its parameters add."""
    obj = getattr(item, "obj", None)
    marks = [getattr(m, "mark", m) for m in getattr(obj, "pytestmark", None) or []]
    marks += list(item.parent.iter_markers()) if item.parent is not None else []
    names = {getattr(m, "name", None) for m in marks}
    return [p for p in PHASES if p in names]


def check_id_of(item: pytest.Item) -> str:
    name = item.name
    return name[len("test_"):] if name.startswith("test_") else name


def describe(item: pytest.Item, steps: dict[str, Step]) -> CheckInfo:
    """Read and validate a collected item's gonogo markers; raise MarkerError on bad ones."""
    severity = _single_arg(item, "severity") or DEFAULT_SEVERITY
    if severity not in SEVERITIES:
        raise MarkerError(f"unknown severity '{severity}'; allowed: {', '.join(SEVERITIES)}")
    subject = _single_arg(item, "subject") or subject_of(item)
    runbook: list[str] = []
    for mark in item.iter_markers("runbook"):
        if mark.kwargs or not mark.args:
            raise MarkerError("@pytest.mark.runbook takes one or more step ids, e.g. @pytest.mark.runbook('BTQ-2.1')")
        for step in mark.args:
            if not isinstance(step, str) or not STEP_ID.match(step):
                raise MarkerError(f"malformed runbook step id {step!r}; allowed form: {STEP_ID_FORM}")
            if step not in steps:
                close = difflib.get_close_matches(step, list(steps), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise MarkerError(f"unknown runbook step id '{step}' (not in STEPS.md){hint}")
            if step not in runbook:
                runbook.append(step)
    phases = [p for p in PHASES if item.get_closest_marker(p) is not None]
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    title = doc.strip().splitlines()[0].strip() if doc.strip() else check_id_of(item)
    callspec = getattr(item, "callspec", None)
    params = {k: _param_text(v) for k, v in callspec.params.items()} if callspec else {}
    return CheckInfo(
        nodeid=item.nodeid,
        check_id=check_id_of(item),
        subject=subject,
        title=title,
        phases=phases,
        severity=severity,
        runbook=runbook,
        params=params,
    )


def _param_text(value: object) -> str:
    name = getattr(value, "name", None)
    return str(name) if isinstance(name, str) else str(value)


def selector_matches(selector: str, check: CheckInfo) -> bool:
    """Does a [gate] required/waiver entry name this check?

    An entry names a subject (``backups``), a check id with or without parameters
    (``ready_endpoint``, ``ready_endpoint[api]``), either prefixed by its subject
    (``health.ready_endpoint``), a subject with parameters (``logs[bot]``), or a node id.
    ``*`` and ``?`` are wildcards; brackets are literal.
    """
    base = check.check_id.split("[", 1)[0]
    params = check.check_id[len(base):]
    names = {
        check.subject,
        check.check_id,
        base,
        f"{check.subject}.{check.check_id}",
        f"{check.subject}.{base}",
        f"{check.subject}{params}",
        check.nodeid,
    }
    if "*" in selector or "?" in selector:
        import fnmatch

        pattern = selector.replace("[", "[[]")
        return any(fnmatch.fnmatchcase(name, pattern) for name in names)
    return selector in names
