"""Migrations: the database's migration table against the release's migrations.

Runbook steps: BTQ-3.3 and SMK-2.2 (Django: every migration applied, ``showmigrations`` shows
nothing unapplied), RCY-4.1's second half (Alembic: ``alembic_version`` at the release's single
head, no revision the scripts do not know), NPR-3 (Prisma: ``migrate deploy`` applied everything,
no failed migration), BTQ-6.B (after a rollback: the database holds nothing the release rolled back
to does not know, as when it was restored from the pre-release dump).

Each check runs once per phase it belongs to (``migrations.all_applied[postdeploy]``), because each
phase compares the database with another release: before the deploy, the release to deploy (its
files: what the deploy will apply is listed in the evidence); after it, the deployed release; after
a rollback, the release rolled back to (see ``[database] migrations`` in the README). The state is
read once per phase and attached to every check as evidence.
"""

from __future__ import annotations

import pytest

from gonogo import judge, not_configured, skips
from gonogo.probes.migrations import RELEASES, MigrationState, listing
from gonogo.stack import Stack

READ = "migrations.readable"


def in_phases(*phases: str) -> pytest.MarkDecorator:
    """One check per phase, marked with it (``-m postdeploy`` selects the postdeploy one)."""
    return pytest.mark.parametrize("phase", [pytest.param(p, marks=getattr(pytest.mark, p), id=p) for p in phases])


def _state(stack: Stack, phase: str) -> MigrationState:
    """The state of ``phase``; not configured when the profile lacks what the phase reads."""
    probe = stack.migrations
    config = probe.config
    if config.release_for(phase)[0] == "missing":
        skips.not_configured(not_configured(stack.env, config.missing_key(phase)))
    return probe.state(phase)


def _read(stack: Stack, phase: str) -> MigrationState:
    """The state, for a check that judges it: dependent on ``migrations.readable`` when it could not be read
    or the table is missing (nothing then shows what the database has applied)."""
    state = _state(stack, phase)
    if state.error is not None:
        skips.dependent(f"{READ}[{phase}]", state.error)
    if _missing(stack, state, phase):
        skips.dependent(f"{READ}[{phase}]", f"no table {state.database.table} in {state.database.looked_in}")
    return state


def _missing(stack: Stack, state: MigrationState, phase: str) -> str | None:
    """Why the table's absence fails (the DSN may name the wrong database), or None: it is there, was not read,
    or this is a first deploy (``first_deploy``, before the deploy only: the deploy creates the table)."""
    table = state.database
    if table.exists or table.error is not None or (phase == "predeploy" and stack.migrations.config.first_deploy):
        return None
    then = ("on a first deploy into an empty database, say so: [database] migrations.first_deploy = true"
            if phase == "predeploy" else "after a deploy the table must be there: the deploy creates it")
    return f"no table {table.table} in {table.looked_in}: the DSN may name the wrong database; {then}"


def _only(stack: Stack, tool: str, why: str) -> None:
    """A check of one tool's: not applicable to the others."""
    used = stack.migrations.config.tool
    if used != tool:
        skips.not_applicable(f"not applicable to {used}: {why}")


@pytest.mark.severity("blocker")
@in_phases("predeploy", "postdeploy", "rollback")
def test_readable(stack: Stack, phase: str) -> None:
    """The migration table and the release's migrations can be read (before a deploy: what it will apply).

    The table must be there: only a first deploy (``first_deploy``) may find none, before the deploy."""
    state = _state(stack, phase)
    judge("migrations read", state.error is None,
          expected=f"the database's {state.database.table} and {RELEASES[phase]}'s migrations",
          actual=state.error, where=state.where, fact=state)
    table, profile = state.database, stack.env.display_path
    missing = _missing(stack, state, phase)
    judge("migrations table", missing is None, expected=f"the table {table.table} in database {table.database}",
          actual=missing, where=f"[database] dsn ({stack.db.target}) in {profile}: its database and search_path",
          fact=state)
    stale = phase == "predeploy" and stack.migrations.config.first_deploy and table.applied
    judge("migrations table", not stale, expected="no migration applied yet (first_deploy = true)",
          actual=f"{table.table} in database {table.database} holds {len(table.applied)} applied migration(s): "
                 "this is no first deploy; remove [database] migrations.first_deploy",
          where=f"[database] migrations.first_deploy in {profile}", fact=state)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-3.3", "SMK-2.2", "RCY-4.1", "NPR-3")
@in_phases("postdeploy", "rollback")
def test_all_applied(stack: Stack, phase: str) -> None:
    """Every migration of the running release is applied to the database."""
    state = _read(stack, phase)
    judge("migrations applied", not state.pending, expected=f"every migration of {RELEASES[phase]} applied",
          actual=f"{len(state.pending)} not applied: {state.pending_text()}", where=state.where, fact=state)


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-4.1", "BTQ-6.B")
@in_phases("predeploy", "postdeploy", "rollback")
def test_none_unknown(stack: Stack, phase: str) -> None:
    """The database holds no applied migration that the release does not know (it is not newer than the release)."""
    state = _read(stack, phase)
    judge("migrations unknown to the release", not state.unknown,
          expected=f"every applied migration known to {RELEASES[phase]}",
          actual=f"{len(state.unknown)} applied but unknown to it: {listing(state.unknown)}",
          where=state.where, fact=state)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-3")
@in_phases("predeploy", "postdeploy", "rollback")
def test_none_failed(stack: Stack, phase: str) -> None:
    """No migration is left failed or unfinished in the database (Prisma: one blocks every later deploy)."""
    _only(stack, "prisma", "its table records only the migrations that succeeded")
    state = _read(stack, phase)
    judge("migrations failed", not state.failed, expected="no failed or unfinished migration",
          actual=f"{len(state.failed)} failed or unfinished: {'; '.join(state.failed)}", where=state.where, fact=state)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-4.1")
@in_phases("predeploy", "postdeploy")
def test_single_head(stack: Stack, phase: str) -> None:
    """The release's Alembic revisions have a single head (``alembic upgrade head`` refuses several).

    No head (an empty versions folder) fails too: nothing then shows the migrations form one line."""
    _only(stack, "alembic", "conflicting Django migrations are makemigrations --check's to find; Prisma's are linear")
    state = _read(stack, phase)
    heads = state.release.heads
    judge("alembic heads", len(heads) == 1, expected="one head",
          actual=f"{len(heads)} heads: {', '.join(heads)}" if heads else
          "no head: the scripts hold no revision (is scripts the release's script directory, with its versions/?)",
          where=state.release.source, fact=state)
