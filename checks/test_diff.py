"""Before and after the deploy: the baseline recorded at predeploy, compared at postdeploy (the release diff).

Runbook steps: RBK-2 (latency not degraded by more than 50 %), RBK-5.3 (error rate under 1 %), RBK-1
and BTQ-3.5 (every service on the release's tag), BTQ-3.3 (migrations applied, none removed), and what every
backup step implies: nothing lost. ``[diff]`` says what the baseline holds and the limits.

A predeploy run records the baseline (``diff.baseline_recorded``) at ``--baseline`` (default
``baseline-ENV.json`` beside the gate file: ``reports/baseline-prod.json``), so a CI job carries it
from the predeploy job to the postdeploy job as an artifact. A postdeploy run reads the stack again
and compares: each item is one check, and every one attaches the whole release diff (before, after,
the change). Without a baseline the comparison checks are "not configured", never passed; in a run
whose phases include predeploy (the whole gate at once) they are not applicable: that run records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gonogo import evidence, judge, skips
from gonogo.plugin import baseline_file
from gonogo.probes import diff as releasediff
from gonogo.probes.diff import Change, ReleaseDiff, Snapshot
from gonogo.sections.diff import DiffSection
from gonogo.selection import Scope
from gonogo.sections.health import HealthEndpoint
from gonogo.stack import Stack


@dataclass(frozen=True)
class Comparison:
    """The release diff of this run, or why there is none (``problem``: a baseline that cannot be used)."""

    path: Path
    result: ReleaseDiff | None = None
    problem: str | None = None

    def change(self, item: str) -> Change:
        """The item's change; the check fails first when the baseline cannot be used."""
        judge("baseline", self.problem is None, expected=f"a usable baseline at {self.path}", actual=self.problem,
              where=f"{self.path} (recorded by: pytest -m predeploy --env ENV)")
        assert self.result is not None
        evidence.attach_fact(self.result)
        found = next((c for c in self.result.changes if c.item == item), None)
        judge(item, found is not None, expected=f"{item} in the release diff", actual="not read now nor at the baseline",
              where=str(self.path), fact=self.result)
        assert found is not None
        return found


def _section(stack: Stack) -> DiffSection:
    section: DiffSection = stack.section("diff")
    return section


@pytest.fixture(scope="session")
def comparison(stack: Stack, pytestconfig: pytest.Config) -> Comparison:
    """The baseline (not configured when there is none) against the stack as it is now."""
    section = _section(stack)
    path = baseline_file(pytestconfig, stack.env.name)
    if "predeploy" in Scope(pytestconfig.option.markexpr or "").phases():
        skips.not_applicable("not applicable in a run that records the baseline (its phases include predeploy): "
                             "the comparison is the postdeploy run's, after the deploy")
    if not path.is_file():
        skips.not_configured(f"not configured: no baseline at {path} (a predeploy run records one; "
                             "pass --baseline PATH where a CI job put it)")
    try:
        before = releasediff.read(path)
    except (OSError, ValueError) as exc:
        return Comparison(path, problem=f"unreadable: {exc}")
    if before.environment != stack.env.name:
        return Comparison(path, problem=f"recorded for environment {before.environment}, not {stack.env.name}")
    after = releasediff.take(stack, section)
    age_h = (after.moment - before.moment).total_seconds() / 3600
    if age_h > section.max_age_h:
        return Comparison(path, problem=f"recorded {before.taken_at}, {age_h:.1f} h ago: older than [diff] "
                                        f"max_age_h = {section.max_age_h:g} (not this deploy's)")
    return Comparison(path, releasediff.diff(before, after, section, stack.env.profile.environment.release))


def _judge(change: Change, comparison: Comparison, where: str) -> None:
    judge(change.item, change.ok, expected="within [diff]'s limits of the baseline",
          actual=f"{change.before} -> {change.after} ({change.change}): {change.why}", where=where, fact=comparison.result)


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RBK-2", "RBK-5.3")
def test_baseline_recorded(stack: Stack, pytestconfig: pytest.Config) -> None:
    """The stack before the deploy (latency, row counts, image tags, migrations, Traefik's counters) is recorded."""
    section = _section(stack)
    path = baseline_file(pytestconfig, stack.env.name)
    snapshot: Snapshot = releasediff.take(stack, section)
    try:
        releasediff.write(snapshot, path)
    except OSError as exc:
        judge("baseline written", False, expected=f"the baseline written to {path}", actual=f"{type(exc).__name__}: {exc}",
              where=str(path))
    evidence.attach(f"baseline {path.name}", snapshot.to_json(), "json")
    problems = snapshot.problems()
    judge("baseline complete", not problems, expected="every part of the baseline read",
          actual="not read: " + "; ".join(problems), where=str(path))


@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RBK-2")
@pytest.mark.each("health", "endpoint", inherit=False)
def test_latency_not_degraded(endpoint: HealthEndpoint, comparison: Comparison) -> None:
    """The endpoint's median latency is no worse than [diff] latency_ratio times the baseline's."""
    _judge(comparison.change(f"latency of {endpoint.name}"), comparison, endpoint.url)


@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.each("diff.tables", "table")
def test_rows_kept(table: str, comparison: Comparison, stack: Stack) -> None:
    """The table lost no rows since the baseline (beyond [diff] max_rows_lost; may_shrink tables aside)."""
    _judge(comparison.change(f"rows of {table}"), comparison, f"table {table} of {stack.db.target}")


@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-3.3")
def test_migrations_only_added(comparison: Comparison, stack: Stack) -> None:
    """Every migration applied at the baseline is still applied: a deploy adds migrations, never removes one."""
    stack.migrations  # not configured without [database] migrations
    _judge(comparison.change("migrations"), comparison, "the migrations table of [database] migrations")


@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RBK-1", "BTQ-3.5")
def test_services_on_target(comparison: Comparison, stack: Stack) -> None:
    """Every service runs the target release; the tags that changed since the baseline are listed."""
    project = stack.needs("docker", "the services' image tags are read through its engine").compose_project
    _judge(comparison.change("image tags"), comparison, f"docker ps --filter label=com.docker.compose.project={project}")


@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RBK-5.3")
def test_error_rate(comparison: Comparison, stack: Stack) -> None:
    """Each Traefik service answered at most [diff] max_error_rate 5xx since the baseline."""
    url = releasediff.metrics_url(stack, _section(stack))
    if url is None:
        skips.not_configured("not configured: no [traefik] api nor [diff] metrics_url to read Traefik's metrics from")
    _judge(comparison.change("error rate"), comparison, url)
