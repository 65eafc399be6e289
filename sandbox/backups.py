"""Backups the way the runbooks take them: ``manage.py backup`` in the worker container (pg_dump |
gzip, media tarball, sha256 sidecars, manifest.json, retention by BACKUP_RETENTION_DAYS), plus the
database restore used by ``rollback --restore-db`` and the snapshots that backup faults heal from."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from . import SandboxError, compose, last_line, postgres, progress
from .context import Ctx
from .envfile import db_password
from .processes import require
from .state import Paths

TS_FORMAT = "%Y%m%dT%H%M%SZ"
_DB = re.compile(r"^boutique_(?P<env>.+)_(?P<ts>\d{8}T\d{6}Z)\.sql\.gz$")


def parse_ts(ts: str) -> dt.datetime:
    return dt.datetime.strptime(ts, TS_FORMAT).replace(tzinfo=dt.timezone.utc)


def list_sets(paths: Paths) -> list[dict[str, Any]]:
    """Backup sets in the backups dir, oldest first: {timestamp, env, db, media}."""
    sets = []
    if not paths.backups.is_dir():
        return sets
    for f in paths.backups.iterdir():
        m = _DB.match(f.name)
        if not m:
            continue
        env, ts = m.group("env"), m.group("ts")
        sets.append({
            "timestamp": ts,
            "env": env,
            "db": f,
            "media": paths.backups / f"media_{env}_{ts}.tar.gz",
        })
    return sorted(sets, key=lambda s: s["timestamp"])


def newest(paths: Paths) -> dict[str, Any] | None:
    sets = list_sets(paths)
    return sets[-1] if sets else None


def take(ctx: Ctx, reason: str = "") -> dict[str, Any]:
    """Run `python manage.py backup` in the worker container; returns the newest set."""
    worker = compose.get(ctx.client, "worker")
    if worker is None or compose.health(worker) not in ("healthy", "running", "starting"):
        raise SandboxError("the worker container is not running: backups run in it (`python -m sandbox up`)")
    t0 = time.monotonic()
    result = worker.exec_run(["python", "manage.py", "backup"], workdir="/app/src")
    output = result.output.decode(errors="replace").strip()
    if result.exit_code != 0:
        raise SandboxError(f"manage.py backup failed (exit {result.exit_code}): {last_line(output)}")
    latest = newest(ctx.paths)
    if latest is None:
        raise SandboxError(f"manage.py backup wrote nothing into {ctx.paths.backups}")
    progress("backup", f"{latest['db'].name}{' (' + reason + ')' if reason else ''} ({time.monotonic() - t0:.1f}s)")
    for line in output.splitlines():
        if line.startswith("removed"):
            progress("backup", line)
    return latest


# ------------------------------------------------------------------------------------ snapshots


def snapshot_dir(paths: Paths) -> Path:
    return paths.fault_data / "backups-snapshot"


def snapshot(paths: Paths) -> None:
    """Copy the backups dir aside (with mtimes) before a fault mutates it; kept if one exists."""
    dst = snapshot_dir(paths)
    if dst.exists():
        return
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(paths.backups, tmp, copy_function=shutil.copy2)
    os.replace(tmp, dst)


def restore_snapshot(paths: Paths) -> None:
    src = snapshot_dir(paths)
    if not src.exists():
        return
    for f in paths.backups.iterdir():
        if f.is_dir():
            shutil.rmtree(f)
        else:
            f.unlink()
    for f in src.iterdir():
        if f.is_dir():
            shutil.copytree(f, paths.backups / f.name, copy_function=shutil.copy2)
        else:
            shutil.copy2(f, paths.backups / f.name)
    st = paths.backups.stat()
    for f in paths.backups.rglob("*"):
        os.chown(f, st.st_uid, st.st_gid)


def drop_snapshot(paths: Paths) -> None:
    shutil.rmtree(snapshot_dir(paths), ignore_errors=True)


def read_manifest(paths: Paths) -> dict[str, Any]:
    return json.loads((paths.backups / "manifest.json").read_text())


def write_manifest(paths: Paths, manifest: dict[str, Any]) -> None:
    target = paths.backups / "manifest.json"
    st = target.stat() if target.exists() else paths.backups.stat()
    target.write_text(json.dumps(manifest, indent=2) + "\n")
    os.chown(target, st.st_uid, st.st_gid)


# ------------------------------------------------------------------------------------ restore


def restore_db(ctx: Ctx, dump: Path) -> None:
    """Replace the `boutique` database by the content of a `.sql.gz` dump (services stopped)."""
    if not dump.exists():
        raise SandboxError(f"backup {dump} is missing")
    t0 = time.monotonic()
    postgres.psql(ctx.paths, ctx.values, "DROP DATABASE IF EXISTS boutique WITH (FORCE)")
    postgres.psql(ctx.paths, ctx.values, "CREATE DATABASE boutique OWNER boutique")
    env = {**os.environ, "PGPASSWORD": db_password(ctx.values)}
    gunzip = subprocess.Popen(["gzip", "-dc", str(dump)], stdout=subprocess.PIPE)
    proc = subprocess.run(
        [require("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", ctx.values["SANDBOX_PG_PORT"],
         "-U", "boutique", "-d", "boutique"],
        stdin=gunzip.stdout, capture_output=True, text=True, env=env,
    )
    gunzip.wait()
    if proc.returncode != 0 or gunzip.returncode != 0:
        raise SandboxError(f"restore of {dump.name} failed: {last_line(proc.stderr)}")
    progress("backup", f"database restored from {dump.name} ({time.monotonic() - t0:.1f}s)")
