"""What a run is for: its phases, and what it left out of them.

A verdict covers the whole of each selected phase. ``-m`` names the phases: a phase is the run's when
the expression holds for a check marked with that phase alone (``-m "postdeploy and not smoke"`` is a
postdeploy run). Every check of those phases must be judged: one the expression deselects (a smoke
flow is a postdeploy check too), or that ``-k``, ``--deselect``, paths, ``--ignore``, ``-o``,
``collect_ignore`` or ``--lf`` leave out, makes the run *partial* (the gate compares the run with the
suite's inventory, :mod:`gonogo.inventory`). An expression that holds for no phase is bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from _pytest.mark.expression import Expression

from gonogo.checks import PHASES


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

    def problem(self) -> str | None:
        """Why the -m expression cannot choose a run's phases (it holds for none of them), or None."""
        if self._expression() is None or self.phases():
            return None
        return (f"-m '{self.markexpr}' selects no phase: gonogo reads -m on a check's phase markers alone "
                f"({', '.join(PHASES)}) and a verdict covers whole phases; write -m postdeploy (or -m 'predeploy or "
                "postdeploy'), and narrow with -k and --partial")


@dataclass
class LeftOut:
    """What a run left out of its phases: checks it deselected, check functions of the inventory it never collected."""

    checks: list[str] = field(default_factory=list)
    uncollected: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.checks or self.uncollected)

    def describe(self) -> str:
        parts = []
        if self.checks:
            parts.append(f"{len(self.checks)} check(s) of the phase deselected")
        if self.uncollected:
            shown = ", ".join(self.uncollected[:3]) + (", ..." if len(self.uncollected) > 3 else "")
            parts.append(f"{len(self.uncollected)} check(s) of the phase not collected ({shown})")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {"checks": self.checks, "uncollected": self.uncollected}
