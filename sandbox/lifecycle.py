"""`up`, `down` and `status`: bring every part of the sandbox to its running state (idempotent),
stop everything we started by its pid, and report what runs."""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import docker

from . import (
    APP_HOST,
    LONG_RUNNING,
    STAGING_HOST,
    STAGING_PROJECT,
    SandboxError,
    backups,
    compose,
    dnsmasq,
    engine,
    envfile,
    frontend,
    images,
    postgres,
    probes,
    progress,
    redis,
    staging,
    traefik,
)
from .context import Ctx
from .faults import heal_all
from .processes import require, require_root, stop, traefik_binary
from .state import Paths

# ------------------------------------------------------------------------------------ releases


def resolve_release(ctx: Ctx, wanted: str, ids: dict[str, str]) -> tuple[str, str]:
    """(version, release id) for a version like 1.1.0 or a 7-hex release id."""
    if wanted in ids:
        return wanted, ids[wanted]
    for version, rid in ids.items():
        if rid == wanted:
            return version, rid
    known = ctx.state.get("releases") or {}
    if wanted in known:
        return known[wanted], wanted
    listing = ", ".join(f"{v} ({r})" for v, r in ids.items())
    raise SandboxError(f"unknown release {wanted!r}; known: {listing}")


def build_releases(ctx: Ctx, versions: list[str]) -> dict[str, str]:
    """Build every listed version (already built ones are only checked). version -> id."""
    quarantined: dict[str, set[str]] = {}
    prm = ctx.state.faults.get("previous-release-missing")
    if prm:
        quarantined.setdefault(prm["release"], set()).add(prm["service"])
    out = {}
    for version in versions:
        _, rid = images.prepare_context(ctx.paths, version)
        out[version] = images.build(ctx.client, ctx.paths, version, quarantined.get(rid, set()))
        images.archive(ctx.paths, version, out[version])
        releases = dict(ctx.state.get("releases") or {})
        releases[out[version]] = version
        ctx.state.set("releases", releases)
    return out


def record_releases(ctx: Ctx, current: str, previous: str | None, rollback_target: str | None = None) -> None:
    """Record the releases; ROLLBACK_TARGET is what a rollback goes back to: the previous release, except
    after a rollback, where it stays the release rolled back to (the gate's rollback checks compare with it)."""
    ctx.state.data["current"] = current
    ctx.state.data["previous"] = previous
    ctx.state.save()
    ctx.set_env({"RELEASE": current, "PREVIOUS_RELEASE": previous or "",
                 "ROLLBACK_TARGET": rollback_target or previous or ""})


# ------------------------------------------------------------------------------------ up


def check_prerequisites() -> None:
    require_root()
    for binary in ("initdb", "postgres", "pg_isready", "psql", "redis-server", "dockerd", "containerd", "runc", "tar", "dnsmasq"):
        require(binary)
    traefik_binary()


def switch_services(ctx: Ctx, release: str, services: tuple[str, ...] = LONG_RUNNING) -> None:
    for service in services:
        s = ctx.spec(service, release)
        compose.recreate(ctx.client, s)
        progress("containers", f"{compose.container_name(service)} -> {s.image}")
    compose.wait_healthy(ctx.client, list(services), timeout=120)


#: services a fault keeps stopped (`up` leaves them so), and the faults under which a service is not healthy
STOPPED_BY = {"web": "backend-down", "frontend": "frontend-down", "beat": "beat-down"}
UNHEALTHY_BY = {"worker": ("restart-loop", "worker-not-ready"), "web": ("unhealthy-container", "backend-down"),
                "frontend": ("frontend-down",), "beat": ("beat-down",)}


def reconcile_containers(ctx: Ctx) -> None:
    """Create missing containers, start stopped ones; leave what faults changed alone."""
    client = ctx.client
    faults = ctx.state.faults
    mig = compose.get(client, "migrations")
    mig_ok = (
        mig is not None
        and mig.attrs["State"].get("ExitCode") == 0
        and mig.attrs["State"]["Status"] == "exited"
        and compose.service_release(client, "migrations") == ctx.current
    )
    if not mig_ok and "migrations-failed" not in faults:
        code = ctx.run_migrations()
        if code != 0:
            raise SandboxError(f"the migrations service exited {code}; see `docker logs {compose.container_name('migrations')}`")
    wait_for = []
    for service in LONG_RUNNING:
        c = compose.get(client, service)
        if c is None:
            s = ctx.spec(service)
            compose.create(client, s).start()
            progress("containers", f"started {compose.container_name(service)} ({s.image})")
        elif c.status not in ("running", "restarting"):
            if STOPPED_BY.get(service) in faults:
                continue
            c.start()
            progress("containers", f"started {compose.container_name(service)} again")
        else:
            progress("containers", f"{compose.container_name(service)} already {c.status}")
        faulted = UNHEALTHY_BY.get(service, ())
        if not any(f in faults for f in faulted):
            wait_for.append(service)
    t0 = time.monotonic()
    compose.wait_healthy(client, wait_for, timeout=120)
    progress("containers", f"healthy: {', '.join(compose.container_name(s) for s in wait_for)} ({time.monotonic() - t0:.1f}s)")


def up(paths: Paths, release: str | None = None, with_staging: bool = False) -> None:
    """Bring prod up; ``with_staging`` brings staging up beside it too (sandbox/staging.py). Staging's env file
    is generated either way (prod's gate compares secrets with it), its containers only on request."""
    t0 = time.monotonic()
    check_prerequisites()
    paths.ensure()
    ctx = Ctx(paths)
    host = engine.ensure(paths, ctx.state)
    ctx.values = envfile.ensure(paths, host)
    envfile.ensure_staging(paths, ctx.values)
    # `up` never undoes an active fault (`heal` does): a stopped database or broker stays stopped
    for name, part in (("db-down", postgres), ("redis-down", redis)):
        if name in ctx.state.faults:
            progress(part.NAME, f"left stopped: fault {name} is active")
        else:
            part.start_server(paths, ctx.values)
    dnsmasq.start_server(paths, ctx.values, ctx.state)

    # releases: build every known release (rollback needs a target), newest by default
    ids = {v: images.prepare_context(paths, v)[1] for v in images.versions()}
    current = ctx.state.get("current")
    if release:
        version, target = resolve_release(ctx, release, ids)
    elif current and ctx.version_of(current) in ids:
        # keep the deployed version, built from today's source (a changed app/ is a new release id)
        version = ctx.version_of(current)
        target = ids[version]
    elif current and images.release_built(ctx.client, current):
        version, target = ctx.version_of(current), current
    else:
        version = images.newest()
        target = ids[version]
    built = build_releases(ctx, images.versions())
    if not images.release_built(ctx.client, target) and "previous-release-missing" not in ctx.state.faults:
        raise SandboxError(f"the images of release {target} are missing and it is not buildable from app/")
    target_version = ctx.version_of(target)
    if current and current != target and ctx.version_of(current) != target_version:
        previous = current  # a real release change
    else:
        # a rebuild of the same version keeps the rollback target: another version's images
        previous = ctx.state.get("previous")
        previous = ids.get(ctx.version_of(previous), previous) if previous else None  # today's build of it
        if (not previous or ctx.version_of(previous) == target_version
                or not images.release_built(ctx.client, previous)):
            others = [rid for v, rid in built.items() if v != target_version]
            previous = others[-1] if others else None
    switching = current is not None and current != target
    record_releases(ctx, target, previous)
    ctx.ensure_mount_dirs()
    frontend.write_site(paths, ctx.values, ctx.state.faults)

    traefik.start_server(paths, ctx.values, ctx.state)
    if switching and compose.get(ctx.client, "web") is not None:
        progress("release", f"switching from {current} to {target}")
        if ctx.run_migrations() != 0:
            raise SandboxError("the migrations of the new release failed; services left as they were")
        switch_services(ctx, target)
    else:
        reconcile_containers(ctx)
    if not ctx.state.faults:
        if not traefik.wait_servers_up(ctx.values, timeout=30) or not probes.wait_ready(ctx.values, timeout=30):
            raise SandboxError(
                f"https://{APP_HOST}:{ctx.values['SANDBOX_HTTPS_PORT']}/health/ready/ is not 200 through Traefik"
            )
        if not frontend.wait_serving(ctx.values, timeout=30):
            raise SandboxError(f"https://{APP_HOST}:{ctx.values['SANDBOX_HTTPS_PORT']}/ is not served by the frontend")
    if not backups.list_sets(paths) and not ctx.state.faults:
        backups.take(ctx)
    progress(
        "sandbox",
        f"up: release {ctx.version_of(target)} ({target}), previous {ctx.version_of(previous)} ({previous}); "
        f"https://{APP_HOST}:{ctx.values['SANDBOX_HTTPS_PORT']}/ in {time.monotonic() - t0:.1f}s",
    )
    progress("sandbox", f"env file {paths.env_file}")
    if with_staging:
        staging.up(ctx)
    if ctx.state.faults:
        progress("sandbox", f"active faults: {', '.join(ctx.state.faults)}")


# ------------------------------------------------------------------------------------ down


def down(paths: Paths, purge: bool = False) -> None:
    t0 = time.monotonic()
    ctx = Ctx(paths)
    if ctx.state.faults:
        heal_all(ctx, for_down=True)
    eng = ctx.state.get("engine") or {}
    client = engine.client(paths, ctx.state, required=False)
    if client is not None:
        for c in [*compose.project_containers(client), *compose.project_containers(client, STAGING_PROJECT)]:
            if c.labels.get("org.gonogo.sandbox.state_dir", str(paths.state)) != str(paths.state):
                continue
            try:
                if c.status in ("running", "restarting", "paused"):
                    c.stop(timeout=10)
                c.remove(force=True)
                progress("containers", f"removed {c.name}")
            except docker.errors.NotFound:
                pass
        client.close()
    if ctx.state.get("staging"):
        ctx.state.set("staging", None)
    traefik.stop_server(paths)
    if not eng.get("external"):
        engine.stop_private(paths)
    dnsmasq.stop_server(paths)
    redis.stop_server(paths)
    postgres.stop_server(paths)
    # anything else we recorded a pid for
    if paths.pids.exists():
        for pf in paths.pids.glob("*.pid"):
            if stop(paths, pf.stem):
                progress("sandbox", f"stopped {pf.stem}")
    shutil.rmtree(paths.runtime, ignore_errors=True)
    if purge:
        engine.unmount_leftovers(paths)
        shutil.rmtree(paths.state, ignore_errors=True)
        progress("sandbox", f"removed {paths.state}")
    progress("sandbox", f"down ({time.monotonic() - t0:.1f}s)")


# ------------------------------------------------------------------------------------ status


def status_data(paths: Paths) -> dict[str, Any]:
    ctx = Ctx(paths)
    data: dict[str, Any] = {"state_dir": str(paths.state), "env_file": str(paths.env_file)}
    if not ctx.values:
        data["up"] = False
        return data
    v = ctx.values
    data["processes"] = {
        "postgres": {"pid": postgres.running(paths), "port": int(v["SANDBOX_PG_PORT"])},
        "redis": {"pid": redis.running(paths), "port": int(v["SANDBOX_REDIS_PORT"])},
        "traefik": {"pid": traefik.running(paths), "https_port": int(v["SANDBOX_HTTPS_PORT"]),
                    "http_port": int(v["SANDBOX_HTTP_PORT"]), "api_port": int(v["SANDBOX_TRAEFIK_API_PORT"])},
        "dockerd": {"pid": engine.running(paths), "host": (ctx.state.get("engine") or {}).get("host")},
        "dnsmasq": _dns_status(paths, v),
    }
    data["release"] = {"current": ctx.state.get("current"), "current_version": ctx.version_of(ctx.state.get("current")),
                       "previous": ctx.state.get("previous"), "previous_version": ctx.version_of(ctx.state.get("previous"))}
    data["faults"] = sorted(ctx.state.faults)
    containers = {}
    client = engine.client(paths, ctx.state, required=False)
    if client is not None:
        for c in [*compose.project_containers(client), *compose.project_containers(client, STAGING_PROJECT)]:
            st = c.attrs["State"]
            containers[c.name] = {
                "image": c.attrs["Config"]["Image"],
                "status": compose.health(c),
                "exit_code": st.get("ExitCode"),
                "restarts": c.attrs.get("RestartCount", 0),
            }
    data["containers"] = containers
    data["routers"] = {name: r.get("status") for name, r in traefik.routers(v).items() if name.endswith("@file")}
    data["https_ready"] = _ready_status(v, APP_HOST)
    data["staging"] = {"up": bool(ctx.state.get("staging")), "env_file": str(paths.staging_env_file)}
    if data["staging"]["up"]:
        data["staging"]["https_ready"] = _ready_status(v, STAGING_HOST)
    sets = backups.list_sets(paths)
    data["backups"] = {"count": len(sets), "newest": sets[-1]["timestamp"] if sets else None}
    external = (ctx.state.get("engine") or {}).get("external")
    data["up"] = bool(containers) and all(
        p["pid"] for name, p in data["processes"].items() if not (name == "dockerd" and external)
    )
    return data


def _ready_status(values: dict[str, str], host: str) -> int | str:
    """/health/ready/'s status through Traefik for one of the domains, or the error."""
    try:
        return probes.ready(values, timeout=3, host=host).status
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"error: {type(exc).__name__}"


def _dns_status(paths: Paths, values: dict[str, str]) -> dict[str, Any]:
    pid = dnsmasq.running(paths)
    dns_port = int(values.get("SANDBOX_DNS_PORT") or 0)
    answer = dnsmasq.answer(dns_port) if pid and dns_port else None
    return {"pid": pid, "port": dns_port, "answers": f"{APP_HOST} -> {answer or 'nothing'}"}


def status(paths: Paths, as_json: bool = False) -> int:
    data = status_data(paths)
    if as_json:
        print(json.dumps(data, indent=2))
        return 0 if data.get("up") else 1
    if not data.get("up") and "processes" not in data:
        print(f"sandbox: not set up ({paths.state}); run `python -m sandbox up`")
        return 1
    print(f"state dir   {data['state_dir']}")
    rel = data["release"]
    print(f"release     {rel['current_version']} ({rel['current']}); previous {rel['previous_version']} ({rel['previous']})")
    for name, p in data["processes"].items():
        state = f"pid {p['pid']}" if p["pid"] else "stopped"
        ports = ", ".join(f"{k} {val}" for k, val in p.items() if k != "pid" and val)
        print(f"{name:11s} {state:12s} {ports}")
    for name, c in sorted(data["containers"].items()):
        print(f"{name:34s} {c['status']:10s} {c['image']}  restarts={c['restarts']} exit={c['exit_code']}")
    if data["routers"]:
        print("routers     " + ", ".join(f"{k}={val}" for k, val in sorted(data["routers"].items())))
    print(f"https ready {data['https_ready']}  (https://{APP_HOST}:{data['processes']['traefik']['https_port']}/health/ready/)")
    if data["staging"]["up"]:
        print(f"staging     ready {data['staging']['https_ready']}  (https://{STAGING_HOST}:"
              f"{data['processes']['traefik']['https_port']}/health/ready/, project {STAGING_PROJECT})")
    else:
        print("staging     not up (`python -m sandbox up --with-staging`)")
    print(f"backups     {data['backups']['count']} sets, newest {data['backups']['newest']}")
    print(f"faults      {', '.join(data['faults']) or 'none'}")
    return 0 if data.get("up") else 1
