"""Backups: a recent, complete, verified backup exists before the deploy, and around a rollback.

Runbook steps: RCY-0.8 and SMK-2.1 (a recent backup, taken before migrating), BTQ-2.1 (the dump
taken before the release is complete and readable), NPR-2.2 and RCY-1.1 (its SHA-256 sidecar
matches: ``sha256sum -c``), SMK-3.2 (``manifest.json`` matches the files), RCY-1.2 and NPR-2.1
(retention), BTQ-2.2 (the media archive is a readable tar.gz), SMK-3.1 (the backup task is
scheduled). Files are streamed: a 1 GB dump is verified in a few MiB of memory. When there is no
dump at all, the checks of its content are skipped as dependent on ``backup_recent``.
"""

from __future__ import annotations

import pytest

from gonogo import dependent, judge
from gonogo.probes.backups import CLOCK_SKEW_S, BackupsProbe, Listing
from gonogo.skips import not_applicable
from gonogo.stack import Stack

pytestmark = [pytest.mark.predeploy, pytest.mark.rollback]


def _newest(stack: Stack) -> BackupsProbe:
    backups = stack.backups
    if backups.newest_dump() is None:
        dependent("backups.backup_recent", f"no dump matches {backups.section.pattern} in {backups.folder}")
    return backups


def _future(listing: Listing) -> str:
    """The dumps dated in the future, said with both clocks: a future date is no evidence of when a dump was written."""
    future = listing.future
    shown = [f"{f.name} dated {_span(f.ahead_s(listing.checked_at))} in the future ({f.modified:%Y-%m-%d %H:%M:%S}"
             " UTC, its modification time)" for f in future[:3]]
    more = f" and {len(future) - 3} more" if len(future) > 3 else ""
    return (f"{', '.join(shown)}{more}, by the gate's clock ({listing.checked_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{CLOCK_SKEW_S // 60} min of skew allowed): a wrong clock where the dumps are written, or a touched file")


def _span(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.8", "SMK-2.1")
def test_backup_recent(stack: Stack) -> None:
    """The newest database dump is younger than [backups] max_age_h, and not dated in the future."""
    backups = stack.backups
    listing, max_age = backups.dumps, backups.section.max_age_h
    newest, future = listing.newest, listing.future
    age = newest.age_h(listing.checked_at) if newest else None
    if newest is None:
        actual = listing.error or f"no file matches {listing.pattern}"
    else:
        actual = _future(listing) if newest in future else f"{newest.name}, {max(age or 0, 0):.1f} h old"
    judge("newest backup", age is not None and age <= max_age and newest not in future,
          expected=f"a dump younger than {max_age:g} h (and not dated in the future)",
          actual=actual, where=f"{backups.folder} (the backup job and its schedule)", fact=listing)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-2.2", "RCY-1.1")
def test_checksum_matches(stack: Stack) -> None:
    """The newest dump's sha256 sidecar names it and matches it (sha256sum -c)."""
    backups = _newest(stack)
    fact = backups.sidecar
    if fact is None:
        not_applicable("not applicable: [backups] sidecar = false (the stack writes no checksum)")
    if not fact.exists or fact.error:
        actual = fact.error or f"no {fact.sidecar}"
    elif not fact.names_the_file:
        actual = f"a sidecar that names {fact.names!r}, not {backups.newest_dump().name}"
    elif fact.of_uncompressed:
        actual = "the digest of the uncompressed dump (the sidecar was written before gzip: sha256sum -c never matches)"
    else:
        actual = f"sha256 {fact.actual}, the sidecar says {fact.digest}"
    judge("backup checksum", fact.matches, expected=f"{fact.sidecar} to name the dump and hold its sha256",
          actual=actual, where=fact.sidecar, fact=fact)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-2.1", "RCY-1.1")
def test_dump_complete(stack: Stack) -> None:
    """The newest dump reads to its end: gzip intact, PostgreSQL's header and completion footer (or pg_restore reads it all)."""
    backups = _newest(stack)
    fact = backups.dump
    assert fact is not None
    if fact.error:
        actual = fact.error
    elif fact.format == "custom":
        actual = f"a table of contents with {fact.toc_entries} entries, every data block read to the end"
    else:
        missing = [part for part, present in (("header", fact.has_header), ("completion footer", fact.has_footer))
                   if not present]
        actual = "no " + " and no ".join(missing) + " (the dump stopped early)" if missing else "complete"
    judge("backup dump", fact.complete, expected="a complete dump read to its end", actual=actual,
          where=fact.file, fact=fact)


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-1.1")
def test_size_not_shrunk(stack: Stack) -> None:
    """The newest dump is not drastically smaller than the one before it ([backups] min_size_ratio)."""
    backups = _newest(stack)
    files = backups.dumps.files
    if len(files) < 2:
        not_applicable("not applicable: only one dump, nothing to compare it with")
    newest, previous = files[0], files[1]
    ratio = backups.section.min_size_ratio
    judge("backup size", newest.size >= ratio * previous.size,
          expected=f"at least {ratio:.0%} of {previous.name} ({previous.size} bytes)",
          actual=f"{newest.name}: {newest.size} bytes ({newest.size / max(previous.size, 1):.0%})",
          where=str(backups.folder), fact=backups.dumps)


@pytest.mark.severity("critical")
@pytest.mark.runbook("SMK-3.2")
def test_manifest_matches(stack: Stack) -> None:
    """The manifest lists the newest dump and matches every file it lists (sizes, sha256)."""
    backups = _newest(stack)
    fact = backups.manifest
    if fact is None:
        not_applicable("not applicable: [backups] manifest = false (the stack writes none)")
    newest = backups.newest_dump()
    problems = list(fact.problems)
    if fact.exists and not fact.error and newest is not None and not fact.lists(newest.name):
        problems.append(f"it does not list the newest dump {newest.name}")
    judge("backup manifest", not problems, expected=f"{fact.path} to match the files it lists",
          actual="; ".join(problems), where=fact.path, fact=fact)


@pytest.mark.severity("warning")
@pytest.mark.runbook("RCY-1.2", "NPR-2.1")
def test_retention_respected(stack: Stack) -> None:
    """No dump older than [backups] retention_days is left, at least one is inside it, and none is dated in the future."""
    backups = stack.backups
    days = backups.section.retention_days
    if days is None:
        not_applicable("not applicable: [backups] retention_days is not set")
    listing = backups.dumps
    future = listing.future
    ages = [(f, f.age_h(listing.checked_at) / 24) for f in listing.files if f not in future]
    old = [f"{f.name} ({age:.1f} days)" for f, age in ages if age > days]
    inside = [f for f, age in ages if age <= days]
    actual = "; ".join(part for part in (
        _future(listing) if future else "", f"{len(old)} older: {', '.join(old[:5])}" if old else "",
        "" if inside else f"no dump inside the last {days:g} days") if part)
    judge("backup retention", not future and not old and bool(inside),
          expected=f"every dump younger than {days:g} days (none dated in the future), and at least one",
          actual=actual, where=f"{backups.folder} (the cleanup job; the clock of the machine writing the dumps)",
          fact=listing)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-2.2")
def test_media_archive_readable(stack: Stack) -> None:
    """The newest media archive is a complete, readable tar.gz."""
    backups = stack.backups
    if backups.media is None:
        not_applicable("not applicable: [backups] media_pattern is not set")
    fact = backups.media_archive
    actual = ((backups.media.error or f"no file matches {backups.media.pattern}") if fact is None
              else fact.error or f"{fact.members} member(s)")
    judge("media archive", fact is not None and fact.readable, expected="a tar.gz read to its end",
          actual=actual, where=str(backups.folder), fact=fact or backups.media)


@pytest.mark.severity("critical")
@pytest.mark.runbook("SMK-3.1")
def test_backup_scheduled(stack: Stack) -> None:
    """The backup task is in the schedule of the running scheduler ([backups] schedule)."""
    schedule = stack.backups.section.schedule
    if schedule is None:
        not_applicable("not applicable: [backups] schedule is not set")
    entry = schedule.entry()
    fact = stack.commands.run(entry)
    judge("backup schedule", fact.finished and fact.exit_code == 0 and fact.search(schedule.expect_output) is not None,
          expected=f"`{entry.command}` to list {schedule.expect_output!r}",
          actual=(f"{fact.status_text}: {fact.last_words}" if not fact.finished or fact.exit_code
                  else f"a schedule without it: {fact.last_words}"), where=fact.where, fact=fact)
