"""`deploy ID` and `rollback [--restore-db|--app-only]`, the way the runbooks do them: pre-deploy backup,
build and tag images, run the migrations service, switch the services, record current/previous."""

from __future__ import annotations

import json
import socket
import time

import docker

from . import LONG_RUNNING, SandboxError, backups, compose, frontend, images, probes, progress, traefik
from .context import Ctx
from .lifecycle import build_releases, record_releases, resolve_release, switch_services
from .state import Paths


def _require_up(ctx: Ctx) -> None:
    ctx.require_env()
    for service in LONG_RUNNING:
        if compose.get(ctx.client, service) is None:
            raise SandboxError(f"{compose.container_name(service)} does not exist: run `python -m sandbox up` first")


def _finish(ctx: Ctx, t0: float, verb: str) -> None:
    if not traefik.wait_servers_up(ctx.values, timeout=30) or not probes.wait_ready(ctx.values, timeout=30):
        raise SandboxError(f"{verb} done but /health/ready/ through Traefik is not 200")
    if not frontend.wait_serving(ctx.values, timeout=30):
        raise SandboxError(f"{verb} done but the front page through Traefik is not served by the frontend")
    cur, prev = ctx.current, ctx.previous
    progress(verb, f"now on {ctx.version_of(cur)} ({cur}), previous {ctx.version_of(prev)} ({prev}) "
                   f"({time.monotonic() - t0:.1f}s)")


def deploy(paths: Paths, wanted: str) -> None:
    t0 = time.monotonic()
    ctx = Ctx(paths)
    _require_up(ctx)
    ids = {v: images.prepare_context(paths, v)[1] for v in images.versions()}
    version, target = resolve_release(ctx, wanted, ids)
    current = ctx.current
    if target == current and all(compose.service_release(ctx.client, s) == target for s in compose.service_names()):
        progress("deploy", f"already on {version} ({target}); nothing to do")
        return
    progress("deploy", f"{ctx.version_of(current)} ({current}) -> {version} ({target})")
    latest = backups.take(ctx, reason=f"pre-deploy of {target}")
    ctx.state.set("pre_deploy_backup", {"file": latest["db"].name, "release": current, "to": target,
                                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if version in ids and ids[version] == target:
        build_releases(ctx, [version])
    elif not images.release_built(ctx.client, target):
        raise SandboxError(f"the images of release {target} are missing")
    code = ctx.run_migrations(target)
    if code != 0:
        raise SandboxError(f"the migrations of {target} exited {code}; services stay on {current}")
    switch_services(ctx, target)
    record_releases(ctx, target, current if current != target else ctx.previous)
    _finish(ctx, t0, "deploy")


def rollback(paths: Paths, restore_db: bool = False, app_only: bool = False) -> None:
    """Roll back to the previous release; its record (success or failure) goes to the metrics file.

    By default the database is migrated back first, with the code of the release rolled back from (the
    migrations the target does not know are unapplied, as a Django rollback runbook does); ``restore_db``
    restores the pre-deploy backup instead; ``app_only`` switches the application and leaves the database."""
    t0 = time.monotonic()
    ctx = Ctx(paths)
    _require_up(ctx)
    current, target = ctx.current, ctx.previous
    if not target:
        raise SandboxError("no previous release recorded: nothing to roll back to")
    try:
        _rollback(ctx, t0, current, target, restore_db, app_only)
    except SandboxError as exc:
        _record_rollback(ctx, t0, current, target, restore_db, "failure", str(exc))
        raise
    _record_rollback(ctx, t0, current, target, restore_db, "success")


def _record_rollback(ctx: Ctx, t0: float, current: str, target: str, restore_db: bool, status: str,
                     error: str | None = None) -> None:
    """Append the rollback's metrics record (the keys of recyclic's rollback-metrics.json, plus `from`)."""
    record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": f"rollback_{status}",
              "from": current, "version": target, "release": ctx.version_of(target),
              "duration_seconds": round(time.monotonic() - t0, 1), "status": status, "restore_db": restore_db,
              "hostname": socket.gethostname(), **({"error": error} if error else {})}
    with ctx.paths.rollbacks.open("a") as metrics:
        metrics.write(json.dumps(record) + "\n")
    progress("rollback", f"recorded in {ctx.paths.rollbacks}")


#: the target release's migration graph leaves, read in a throwaway container of its image (no database)
_LEAVES = ("import json, django; django.setup(); from django.db.migrations.loader import MigrationLoader; "
           "print(json.dumps(sorted(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())))")
#: in the running release: unapply what the target does not know (backwards only), print what was unapplied
_MIGRATE_BACK = (
    "import json, sys, django; django.setup(); from django.db import connection; "
    "from django.db.migrations.executor import MigrationExecutor; "
    "leaves = dict(json.loads(sys.argv[1])); ex = MigrationExecutor(connection); "
    "targets = [(app, leaves.get(app)) for app in sorted(ex.loader.migrated_apps)]; "
    "plan = ex.migration_plan(targets); "
    "assert all(backwards for _, backwards in plan), 'the target is ahead of the database: nothing to migrate back'; "
    "ex.migrate(targets, plan=plan); print(json.dumps([f'{m.app_label}.{m.name}' for m, _ in plan]))")


def _migrate_back(ctx: Ctx, current: str, target: str) -> None:
    """Unapply the migrations ``target`` does not know, with the code of ``current`` (it has their backwards steps)."""
    spec = ctx.spec("migrations", target)
    try:
        out = ctx.client.containers.run(spec.image, ["python", "-c", _LEAVES], environment=spec.environment,
                                        network_mode="host", working_dir="/app/src", remove=True, stderr=True)
    except docker.errors.DockerException as exc:
        raise SandboxError(f"cannot read the migrations of {target}: {exc}") from exc
    leaves = json.loads(out.decode().strip().splitlines()[-1])
    web = compose.get(ctx.client, "web")
    if web is None or web.status != "running":
        raise SandboxError(f"cannot migrate back: the web container of {current} is not running "
                           "(--app-only leaves the database as it is; --restore-db restores a backup)")
    result = web.exec_run(["python", "-c", _MIGRATE_BACK, json.dumps(leaves)], workdir="/app/src")
    if result.exit_code != 0:
        tail = result.output.decode(errors="replace").strip().splitlines()[-3:]
        raise SandboxError(f"migrating back to {target} failed: {' | '.join(tail)}")
    undone = json.loads(result.output.decode().strip().splitlines()[-1])
    progress("rollback", f"migrated back: {', '.join(undone) if undone else 'nothing to unapply'}")


def _rollback(ctx: Ctx, t0: float, current: str, target: str, restore_db: bool, app_only: bool) -> None:
    paths = ctx.paths
    missing = [ref for ref in images.refs(target).values() if not images.image_exists(ctx.client, ref)]
    if missing:
        raise SandboxError(f"cannot roll back to {target}: image(s) {', '.join(missing)} missing")
    progress("rollback", f"{ctx.version_of(current)} ({current}) -> {ctx.version_of(target)} ({target})")
    if restore_db:
        record = ctx.state.get("pre_deploy_backup") or {}
        dump = None
        if record.get("release") == target and (paths.backups / record.get("file", "")).is_file():
            dump = paths.backups / record["file"]
        else:
            latest = backups.newest(paths)
            dump = latest["db"] if latest else None
            progress("rollback", "no pre-deploy backup of the target release recorded; using the newest backup")
        if dump is None:
            raise SandboxError("--restore-db: no backup to restore")
        for service in ("web", "worker", "beat"):
            c = compose.get(ctx.client, service)
            if c is not None and c.status in ("running", "restarting"):
                c.stop(timeout=10)
        backups.restore_db(ctx, dump)
    elif not app_only:
        _migrate_back(ctx, current, target)
    code = ctx.run_migrations(target)
    if code != 0:
        raise SandboxError(f"the migrations service of {target} exited {code} during rollback")
    switch_services(ctx, target)
    record_releases(ctx, target, current, rollback_target=target)
    _finish(ctx, t0, "rollback")
