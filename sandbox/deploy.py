"""`deploy ID` and `rollback [--restore-db]`, the way the runbooks do them: pre-deploy backup,
build and tag images, run the migrations service, switch the services, record current/previous."""

from __future__ import annotations

import time

from . import LONG_RUNNING, SandboxError, backups, compose, frontend, images, probes, progress, traefik
from .lifecycle import Ctx, build_releases, record_releases, resolve_release, switch_services
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


def rollback(paths: Paths, restore_db: bool = False) -> None:
    t0 = time.monotonic()
    ctx = Ctx(paths)
    _require_up(ctx)
    current, target = ctx.current, ctx.previous
    if not target:
        raise SandboxError("no previous release recorded: nothing to roll back to")
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
    code = ctx.run_migrations(target)
    if code != 0:
        raise SandboxError(f"the migrations service of {target} exited {code} during rollback")
    switch_services(ctx, target)
    record_releases(ctx, target, current)
    _finish(ctx, t0, "rollback")
