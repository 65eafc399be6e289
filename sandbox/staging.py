"""Staging beside prod (``python -m sandbox up --with-staging``): the Compose project ``boutique-staging``
on the same Docker Engine, from ``sandbox/compose.staging.yaml``: its web and its one-shot migrations on
prod's current release, its own env file (``<state>/.env.staging``), its own database (``boutique_staging``,
role ``boutique_staging``, in the same PostgreSQL server), its own Redis database number, its own
media/backups/fault-flag dirs (``<state>/staging/``), its own web port, and the domain
``staging.shop.localhost`` routed by the same Traefik. ``down`` removes it with prod."""

from __future__ import annotations

import os
import time
from pathlib import Path

from docker.types import Mount

from . import STAGING_HOST, STAGING_PROJECT, SandboxError, compose, envfile, postgres, probes, progress, traefik
from .context import Ctx
from .ports import wait_listening
from .state import Paths

#: the fault that makes staging's web mount prod's media dir instead of its own
SHARED_VOLUME = "shared-volume"
MEDIA_TARGET = "/data/media"


def dirs(paths: Paths) -> dict[str, Path]:
    """Staging's own bind-mounted dirs."""
    return {name: paths.staging / name for name in ("media", "backups", "faults")}


def values(ctx: Ctx) -> dict[str, str]:
    """Staging's env file (generated at the first call, its shared keys following prod's)."""
    return envfile.ensure_staging(ctx.paths, ctx.values)


def spec(ctx: Ctx, service: str, staging: dict[str, str]) -> compose.Spec:
    """A staging service on prod's current release; under ``shared-volume`` web mounts prod's media dir."""
    s = compose.spec(ctx.client, ctx.paths, staging, service, ctx.current, project=STAGING_PROJECT)
    if service == "web" and SHARED_VOLUME in ctx.state.faults:
        s.mounts = [m for m in s.mounts if m["Target"] != MEDIA_TARGET]
        s.mounts.append(Mount(target=MEDIA_TARGET, source=str(ctx.paths.media), type="bind"))
    return s


def is_up(ctx: Ctx) -> bool:
    return bool(ctx.state.get("staging"))


def require_up(ctx: Ctx) -> dict[str, str]:
    if not is_up(ctx) or compose.get(ctx.client, "web", STAGING_PROJECT) is None:
        raise SandboxError("staging is not up: run `python -m sandbox up --with-staging` first")
    return values(ctx)


def _ensure_dirs(ctx: Ctx) -> None:
    uid = int(ctx.state.get("app_uid") or 0)
    for name, path in dirs(ctx.paths).items():
        path.mkdir(parents=True, exist_ok=True)
        if name == "faults":
            os.chmod(path, 0o755)
        elif path.stat().st_uid != uid:
            os.chown(path, uid, uid)


def _migrate(ctx: Ctx, staging: dict[str, str]) -> None:
    mig = compose.get(ctx.client, "migrations", STAGING_PROJECT)
    if (mig is not None and mig.attrs["State"]["Status"] == "exited" and mig.attrs["State"].get("ExitCode") == 0
            and mig.attrs["Config"]["Image"].endswith(f":{ctx.current}")):
        return
    t0 = time.monotonic()
    code = compose.run_one_shot(ctx.client, spec(ctx, "migrations", staging))
    if code != 0:
        tail = compose.logs_tail(compose.get(ctx.client, "migrations", STAGING_PROJECT), 6).replace("\n", " | ")
        raise SandboxError(f"staging's migrations exited {code}: {tail}")
    progress("staging", f"migrations done ({time.monotonic() - t0:.1f}s)")


def _web(ctx: Ctx, staging: dict[str, str]) -> None:
    c = compose.get(ctx.client, "web", STAGING_PROJECT)
    if c is None or not c.attrs["Config"]["Image"].endswith(f":{ctx.current}"):
        s = spec(ctx, "web", staging)
        compose.recreate(ctx.client, s)
        progress("staging", f"{compose.container_name('web', STAGING_PROJECT)} -> {s.image}")
    elif c.status not in ("running", "restarting"):
        c.start()
        progress("staging", f"started {c.name} again")
    compose.wait_healthy(ctx.client, ["web"], timeout=60, project=STAGING_PROJECT)


def up(ctx: Ctx) -> None:
    """Bring staging up beside prod (idempotent); prod must be up. Leaves what an active fault changed."""
    t0 = time.monotonic()
    staging = values(ctx)
    if staging.get("RELEASE") != ctx.current:
        envfile.set_values(ctx.paths.staging_env_file, {"RELEASE": ctx.current})
        staging["RELEASE"] = ctx.current
    postgres.provision_staging(ctx.paths, ctx.values, staging)
    _ensure_dirs(ctx)
    _migrate(ctx, staging)
    _web(ctx, staging)
    ctx.state.set("staging", {"web_port": staging["WEB_PORT"]})
    traefik.apply(ctx.paths, ctx.values, ctx.state)
    if not probes.wait_ready(ctx.values, timeout=30, host=STAGING_HOST):
        raise SandboxError(f"https://{STAGING_HOST}:{ctx.values['SANDBOX_HTTPS_PORT']}/health/ready/ is not 200")
    progress("staging", f"up: https://{STAGING_HOST}:{ctx.values['SANDBOX_HTTPS_PORT']}/ ({compose.container_name('web', STAGING_PROJECT)}, "
                        f"web port {staging['WEB_PORT']}, env file {ctx.paths.staging_env_file}) in {time.monotonic() - t0:.1f}s")


def recreate_web(ctx: Ctx) -> None:
    """Recreate staging's web with the faults active now (``shared-volume``); returns once it listens again
    (Docker's health status follows at its next healthcheck, as with prod's faults)."""
    staging = require_up(ctx)
    compose.recreate(ctx.client, spec(ctx, "web", staging), stop_timeout=3)
    if not wait_listening(int(staging["WEB_PORT"]), timeout=30):
        raise SandboxError(f"staging's web does not listen on 127.0.0.1:{staging['WEB_PORT']} within 30s")
