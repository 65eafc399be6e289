"""``@pytest.mark.each``: one check per entry of a profile section, declared, handled once here.

::

    @pytest.mark.each("health", "endpoint")                       # one check per [[health]] entry
    @pytest.mark.each("health", "endpoint", where=has_budget, optional=True, what="max_ms")
    @pytest.mark.each("traefik.routers", "router")                 # a list inside a table
    @pytest.mark.each("docker.services", "service")                # a list of names: each name is its id
    @pytest.mark.each("docker.one_shot", "one_shot")               # a table of name = value: (name, value)

Each entry becomes one parametrised check, with the entry's ``name`` as its id and, unless the
check declares its own, the entry's ``phases``, ``severity`` and ``runbook`` steps as markers (so
``-m predeploy`` selects the entries whose phases say predeploy); ``severity_from="max_ms_severity"`` takes the
severity from that key of the entry instead (a sub-check whose weight the entry sets apart). When the section
is absent, the check is collected once and skipped as "not configured" (so the gate sees it: a
required check that did not run is a NO-GO). When the section is there but ``where`` keeps no
entry, the check is "not configured" too, or, with ``optional=True``, "not applicable": an optional
sub-check that applies to nothing never makes its subject missing. A placeholder of a check that
takes its phases from its entries is in the phases an entry has by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gonogo.checks import PHASES
from gonogo.environment import LoadedEnvironment, inner_model, not_configured
from gonogo.profile import Profile

MARKER = "each"
#: set on the single placeholder of a check with nothing to check: (kind, reason)
PLACEHOLDER = "gonogo_placeholder"


def _lookup(env: LoadedEnvironment, path: str) -> tuple[Any, str | None]:
    """The value at a dotted profile path, or (None, the absent table) when a part is missing."""
    value: Any = env.profile
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        value = getattr(value, part, None)
        if value is None or value == [] or value == {}:
            table = ".".join(walked)
            return None, (f"[[{table}]]" if len(walked) == 1 and path == table else f"[{table}]")
    return value, None


def _id(entry: Any, index: int) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
        return entry[0]
    name = getattr(entry, "name", None)
    return str(name) if isinstance(name, str) and name else str(index + 1)


def _entry_marks(entry: Any) -> list[pytest.MarkDecorator]:
    marks: list[pytest.MarkDecorator] = [getattr(pytest.mark, phase) for phase in getattr(entry, "phases", None) or ()]
    severity = getattr(entry, "severity", None)
    if isinstance(severity, str):
        marks.append(pytest.mark.severity(severity))
    runbook = getattr(entry, "runbook", None)
    if runbook:
        marks.append(pytest.mark.runbook(*runbook))
    return marks


def _default_phases(section: str) -> list[str]:
    """The phases an entry of ``section`` has when it names none (its model's ``phases`` default)."""
    model: Any = Profile
    for part in section.split("."):
        info = model.model_fields.get(part) if model is not None else None
        model = inner_model(info.annotation) if info is not None else None
    phases = model.model_fields.get("phases") if model is not None else None
    return list(phases.get_default(call_default_factory=True)) if phases is not None else []


def _placeholder(kind: str, reason: str, phases: list[str]) -> Any:
    marks = [getattr(pytest.mark, PLACEHOLDER)(kind, reason), *(getattr(pytest.mark, p) for p in phases)]
    return pytest.param(None, id=kind, marks=marks)


def parametrize(metafunc: pytest.Metafunc, env: LoadedEnvironment | None) -> None:
    """Apply every ``each`` marker of a check (called from the plugin's pytest_generate_tests)."""
    for mark in metafunc.definition.iter_markers(MARKER):
        section, argname, options = _arguments(mark, metafunc)
        where: Callable[[Any], bool] = options.get("where") or (lambda _: True)
        optional = bool(options.get("optional", False))
        what = options.get("what")
        own = {m.name for m in metafunc.definition.iter_markers()}
        own_phase = bool(own & set(PHASES))
        phases = [] if own_phase else _default_phases(section)
        if env is None:
            metafunc.parametrize(argname, [_placeholder("not-configured", "gonogo is off (--no-gate)", phases)])
            continue
        value, absent = _lookup(env, section)
        if absent is not None:
            metafunc.parametrize(argname, [_placeholder("not-configured", not_configured(env, absent), phases)])
            continue
        entries = list(value.items()) if isinstance(value, dict) else \
            list(value) if isinstance(value, (list, tuple)) else [value]
        kept = [(i, e) for i, e in enumerate(entries) if where(e)]
        if not kept:
            condition = f"[[{section}]] with {what}" if what else f"[[{section}]] entries it applies to"
            if optional:
                reason = f"not applicable: no entry of {condition} in {env.display_path}"
                metafunc.parametrize(argname, [_placeholder("not-applicable", reason, phases)])
            else:
                metafunc.parametrize(argname, [_placeholder("not-configured", not_configured(env, condition), phases)])
            continue
        inherit = options.get("inherit", True)
        severity_from = options.get("severity_from")
        params = []
        for index, entry in kept:
            marks = [m for m in _entry_marks(entry)
                     if inherit and m.name not in own and not (own_phase and m.name in PHASES)
                     and not (severity_from and m.name == "severity")]
            if severity_from and "severity" not in own:
                marks.append(pytest.mark.severity(getattr(entry, severity_from)))
            params.append(pytest.param(entry, id=_id(entry, index), marks=marks))
        metafunc.parametrize(argname, params)


def _arguments(mark: pytest.Mark, metafunc: pytest.Metafunc) -> tuple[str, str, dict[str, Any]]:
    where = f"{metafunc.definition.nodeid}: @pytest.mark.each"
    allowed = {"where", "optional", "what", "inherit", "severity_from"}
    if not 1 <= len(mark.args) <= 2 or not all(isinstance(a, str) for a in mark.args):
        pytest.fail(f"{where} takes a section and an argument name, e.g. each('health', 'endpoint')", pytrace=False)
    unknown = set(mark.kwargs) - allowed
    if unknown:
        pytest.fail(f"{where}: unknown option(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}", pytrace=False)
    section = mark.args[0]
    argname = mark.args[1] if len(mark.args) == 2 else "entry"
    if argname not in metafunc.fixturenames:
        pytest.fail(f"{where}('{section}', '{argname}'): the check takes no argument '{argname}'", pytrace=False)
    return section, argname, dict(mark.kwargs)
