"""What a run is for: its phases, which checks belong to them, and whether it left any out.

A verdict covers the whole of each selected phase. ``-m`` chooses the phases; a check is in the
run's scope when the ``-m`` expression holds for its phase markers alone (so
``-m "postdeploy and not smoke"`` leaves the smoke flows out of scope, while ``-k``, ``--deselect``,
``--lf`` or node ids that leave out an in-scope check make the run *partial*).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

from gonogo.checks import PHASES, CheckInfo


@dataclass(frozen=True)
class Scope:
    """The -m expression of a run, judged on phase markers only."""

    markexpr: str = ""

    def _expression(self) -> Expression | None:
        if not self.markexpr:
            return None
        try:
            return Expression.compile(self.markexpr)
        except SyntaxError:
            return None

    def phases(self) -> list[str]:
        """The phases this run is for: those the -m expression selects (all without -m)."""
        expression = self._expression()
        if expression is None:
            return list(PHASES)
        return [p for p in PHASES if expression.evaluate(lambda name, /, **kw: name == p)]

    def covers(self, check: CheckInfo) -> bool:
        """Does the run's phase selection include this check? (A check without a phase: any phase.)"""
        expression = self._expression()
        if expression is None:
            return True
        if not check.phases:
            return bool(self.phases())
        marks = set(check.phases)
        return bool(expression.evaluate(lambda name, /, **kw: name in marks))


@dataclass
class LeftOut:
    """What a run left out of its phases: deselected checks and paths it did not collect."""

    checks: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    last_failed: bool = False

    def __bool__(self) -> bool:
        return bool(self.checks or self.paths or self.last_failed)

    def describe(self) -> str:
        parts = []
        if self.checks:
            parts.append(f"{len(self.checks)} check(s) of the phase deselected")
        if self.paths:
            parts.append(f"only {', '.join(self.paths)} collected")
        if self.last_failed:
            parts.append("--lf reran only the last failures")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {"checks": self.checks, "paths": self.paths, "last_failed": self.last_failed}


def uncollected_paths(config: pytest.Config) -> list[str]:
    """The arguments, when they name less than the suite (node ids, files, a sub-folder); else []."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return []
    rootdir = Path(str(config.rootpath))
    roots = [rootdir / p for p in config.getini("testpaths")] or [rootdir]
    given = [Path(str(config.invocation_params.dir)) / a.split("::", 1)[0] for a in config.args]
    narrow = [a for a in config.args if "::" in a]
    for root in roots:
        if not any(_within(root.resolve(), g.resolve()) for g in given):
            narrow = list(config.args)
            break
    return [_display(a, rootdir, Path(str(config.invocation_params.dir))) for a in narrow]


def _within(path: Path, ancestor: Path) -> bool:
    return path == ancestor or ancestor in path.parents


def _display(arg: str, rootdir: Path, invocation: Path) -> str:
    path, sep, rest = arg.partition("::")
    try:
        shown = str((invocation / path).resolve().relative_to(rootdir.resolve()))
    except ValueError:
        shown = path
    return shown + sep + rest


def last_failed_only(config: pytest.Config) -> bool:
    """True when --lf narrowed this run to the previous failures."""
    if not config.getoption("lf", False):
        return False
    plugin = config.pluginmanager.get_plugin("lfplugin")
    return bool(getattr(plugin, "_previously_failed_count", 0) or getattr(plugin, "_skipped_files", 0))


def left_out(config: pytest.Config, scope: Scope, checks: Iterable[CheckInfo], deselected: Sequence[str] | set[str]) -> LeftOut:
    """Everything of the run's phases that this run did not select."""
    gone = set(deselected)
    return LeftOut(
        checks=[c.nodeid for c in checks if c.nodeid in gone and scope.covers(c)],
        paths=uncollected_paths(config),
        last_failed=last_failed_only(config),
    )
