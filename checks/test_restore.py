"""The newest backup restores into a scratch database, and the scratch database is left empty.

Runbook steps RCY-1.3 (the backup restores into an isolated database), NPR-2.3 (restore into an
isolated database) and BTQ-6.B's readiness (a full rollback restores the pre-release dump: it must
be restorable). In the rollback phase, and before a deploy too when ``[backups]
restore_before_deploy = true``. The one place gonogo writes to a database: the scratch database of
``[backups] restore_into``, after a guard that refuses the stack's own database; the restore, the
tables' rows and the migration table's state are one piece of evidence attached to each check.
"""

from __future__ import annotations

import pytest

from gonogo import dependent, judge
from gonogo.probes.restore import RestoreFact
from gonogo.selection import Scope
from gonogo.skips import not_applicable
from gonogo.stack import Stack

RUNBOOK = ("RCY-1.3", "NPR-2.3", "BTQ-6.B")


@pytest.fixture(scope="module")
def restored(stack: Stack, pytestconfig: pytest.Config) -> RestoreFact:
    """The restore, run once for the checks of this module."""
    probe = stack.restore
    if "rollback" not in Scope(pytestconfig.option.markexpr).phases() and not probe.section.restore_before_deploy:
        not_applicable("the restore runs in the rollback phase; [backups] restore_before_deploy = true runs it "
                       "before a deploy too")
    return probe.run()


def _where(stack: Stack, restored: RestoreFact) -> str:
    return f"{restored.backup_path} -> {restored.scratch} ([backups] in {stack.env.display_path})"


@pytest.mark.rollback
@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook(*RUNBOOK)
def test_backup_restores(restored: RestoreFact, stack: Stack) -> None:
    """The newest backup restores into the scratch database with PostgreSQL's own tools."""
    where = _where(stack, restored)
    judge("restore target", not restored.guard.refused, expected="a scratch database that is not the stack's own",
          actual=f"refused: {restored.guard.reason}", where=f"[backups] restore_into in {stack.env.display_path}",
          fact=restored)
    judge("newest backup", restored.backup is not None,
          expected=f"a dump matching {restored.pattern} in {restored.folder}",
          actual=restored.listing_error or "none", where=where, fact=restored)
    before = restored.emptied_before
    judge("scratch database emptied before the restore", before is not None and before.ok,
          expected="an empty scratch database", actual=before.status_text if before else "not reached",
          where=where, fact=restored)
    run = restored.run
    judge("restore", run is not None and run.ok,
          expected=f"the whole dump restored within {stack.restore.section.restore_timeout_s:g} s",
          actual=run.status_text if run else "not run", where=where, fact=restored)


@pytest.mark.rollback
@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook(*RUNBOOK)
def test_expected_tables(restored: RestoreFact, stack: Stack) -> None:
    """The restored database holds every expected table, each with rows."""
    expected = stack.restore.section.expect_tables
    if not expected:
        not_applicable(f"no [backups] expect_tables in {stack.env.display_path}")
    if not restored.restored:
        dependent("restore.backup_restores", "the backup was not restored")
    problems = restored.table_problems
    judge("restored tables", not problems, expected=f"{', '.join(expected)} present, each with rows",
          actual="; ".join(problems), where=_where(stack, restored), fact=restored)


@pytest.mark.rollback
@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook(*RUNBOOK)
def test_scratch_emptied(restored: RestoreFact, stack: Stack) -> None:
    """The scratch database is empty again after the restore, whatever the restore did."""
    after = restored.emptied_after
    if after is None:
        dependent("restore.backup_restores", "nothing was written to the scratch database")
    judge("scratch database emptied after the restore", after.ok, expected="no relation left",
          actual=after.status_text, where=_where(stack, restored), fact=restored)
