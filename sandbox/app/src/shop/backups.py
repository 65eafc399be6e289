"""Backups: pg_dump | gzip and a media tarball, sha256 sidecars, manifest.json, retention.

Files written into BACKUP_DIR for one set (timestamp `YYYYmmddTHHMMSSZ`, UTC):
  boutique_<env>_<ts>.sql.gz  + .sha256     (`<hex>  <name>`, checkable with `sha256sum -c`)
  media_<env>_<ts>.tar.gz     + .sha256
  manifest.json                              (describes the newest set)
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup could not be completed; no partial files are left behind."""


@dataclass(frozen=True)
class BackupFile:
    """One archive of a backup set."""

    path: Path
    size: int
    sha256: str

    def as_manifest_entry(self) -> dict[str, object]:
        return {"name": self.path.name, "size": self.size, "sha256": self.sha256}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _finish(partial: Path, final: Path) -> BackupFile:
    """Move a completed partial file into place and write its `sha256sum -c` sidecar."""
    partial.replace(final)
    digest = sha256_of(final)
    sidecar = final.with_name(final.name + ".sha256")
    _atomic_write(sidecar, f"{digest}  {final.name}\n")
    return BackupFile(path=final, size=final.stat().st_size, sha256=digest)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def dump_database(target: Path) -> BackupFile:
    """Run pg_dump (plain SQL) for the default database and gzip it into `target`."""
    db = connections["default"].settings_dict
    command = [
        settings.PG_DUMP,
        "--no-owner",
        "--no-privileges",
        "--host", str(db["HOST"] or "127.0.0.1"),
        "--port", str(db["PORT"] or "5432"),
        "--username", str(db["USER"]),
        "--dbname", str(db["NAME"]),
    ]  # fmt: skip
    environment = {**os.environ, "PGPASSWORD": str(db["PASSWORD"]), "PGCONNECT_TIMEOUT": "5"}
    partial = target.with_name(f".{target.name}.partial")
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment
        ) as process:
            assert process.stdout is not None and process.stderr is not None
            with gzip.open(partial, "wb") as out:
                shutil.copyfileobj(process.stdout, out, CHUNK)
            stderr = process.stderr.read().decode(errors="replace").strip()
            returncode = process.wait()
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot run {settings.PG_DUMP}: {exc}") from exc
    if returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump exited with {returncode}: {stderr}")
    return _finish(partial, target)


def archive_media(target: Path) -> BackupFile:
    """Tar+gzip MEDIA_ROOT (as `media/...`) into `target`; an empty archive if it is missing."""
    media_root = Path(settings.MEDIA_ROOT)
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w:gz") as tar:
            if media_root.is_dir():
                tar.add(media_root, arcname="media")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot archive {media_root}: {exc}") from exc
    return _finish(partial, target)


def set_pattern(environment: str) -> re.Pattern[str]:
    """Matches this environment's backup files and captures their timestamp."""
    env = re.escape(environment)
    return re.compile(
        rf"^(?:boutique_{env}_(?P<a>\d{{8}}T\d{{6}}Z)\.sql\.gz|media_{env}_(?P<b>\d{{8}}T\d{{6}}Z)\.tar\.gz)"
        rf"(?:\.sha256)?$"
    )


def prune(directory: Path, environment: str, retention_days: int, now: dt.datetime) -> list[Path]:
    """Delete this environment's backup files whose timestamp is older than the retention window."""
    cutoff = now - dt.timedelta(days=retention_days)
    pattern = set_pattern(environment)
    removed: list[Path] = []
    for path in sorted(directory.iterdir()):
        match = pattern.match(path.name)
        if not match:
            continue
        stamp = dt.datetime.strptime(match["a"] or match["b"], TIMESTAMP_FORMAT)
        if stamp.replace(tzinfo=dt.UTC) < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def run_backup(now: dt.datetime | None = None) -> dict[str, object]:
    """Write a complete backup set into BACKUP_DIR, refresh manifest.json, apply retention.

    Returns the manifest plus the names of pruned files under "removed".
    """
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    stamp = now.strftime(TIMESTAMP_FORMAT)
    environment = settings.ENVIRONMENT
    directory = Path(settings.BACKUP_DIR)
    directory.mkdir(parents=True, exist_ok=True)

    database = dump_database(directory / f"boutique_{environment}_{stamp}.sql.gz")
    media = archive_media(directory / f"media_{environment}_{stamp}.tar.gz")
    manifest: dict[str, object] = {
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "release": settings.RELEASE,
        "release_version": settings.RELEASE_VERSION,
        "environment": environment,
        "files": [database.as_manifest_entry(), media.as_manifest_entry()],
    }
    _atomic_write(directory / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    removed = prune(directory, environment, settings.BACKUP_RETENTION_DAYS, now)
    logger.info(
        "backup %s written to %s (%d bytes database, %d bytes media), %d old files removed",
        stamp, directory, database.size, media.size, len(removed),
    )  # fmt: skip
    return {**manifest, "removed": [path.name for path in removed]}
