"""The command context: what every sandbox command works with (paths, state.json, the env file's values,
a Docker client, the container specs with the active faults applied). Its own module so that the commands
(``lifecycle``, ``deploy``, ``faults``, ``staging``, ``backups``) all import it without importing each other."""

from __future__ import annotations

import os
import time
from typing import Any

import docker
from docker.types import Mount

from . import SandboxError, compose, engine, envfile, progress
from .state import Paths, State


class Ctx:
    """Everything a command needs: paths, state.json, the env file's values, a Docker client."""

    def __init__(self, paths: Paths):
        self.paths = paths
        self.state = State(paths)
        self.values: dict[str, str] = envfile.read(paths.env_file) if paths.env_file.exists() else {}
        self._client: docker.DockerClient | None = None
        compose.set_owner(str(paths.state))

    def reload_env(self) -> dict[str, str]:
        self.values = envfile.read(self.paths.env_file)
        return self.values

    def set_env(self, updates: dict[str, str]) -> None:
        envfile.set_values(self.paths.env_file, updates)
        self.reload_env()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = engine.client(self.paths, self.state)
        return self._client

    def require_env(self) -> None:
        if not self.values:
            raise SandboxError(f"no sandbox at {self.paths.state}: run `python -m sandbox up` first")

    @property
    def current(self) -> str:
        rid = self.state.get("current")
        if not rid:
            raise SandboxError("no current release recorded: run `python -m sandbox up` first")
        return rid

    @property
    def previous(self) -> str | None:
        return self.state.get("previous")

    def version_of(self, rid: str | None) -> str:
        return (self.state.get("releases") or {}).get(rid or "", "?")

    # -------------------------------------------------------------------------------- specs

    def spec(self, service: str, release: str | None = None, **overrides: Any) -> compose.Spec:
        """The service's container spec for `release` (default: current), with the
        container-level faults that are active applied on top."""
        faults = self.state.faults
        rel = release or self.current
        env_overrides: dict[str, str] = {}
        healthcheck = None
        if release is None:
            mixed = faults.get("mixed-tags")
            if mixed and mixed.get("service") == service:
                rel = mixed["release"]
        loop = faults.get("restart-loop")
        if loop and loop.get("service") == service:
            env_overrides.update(loop["env"])
        unhealthy = faults.get("unhealthy-container")
        if unhealthy and unhealthy.get("service") == service:
            healthcheck = unhealthy["healthcheck"]
        env_overrides.update(overrides.pop("env_overrides", None) or {})
        healthcheck = overrides.pop("healthcheck_override", None) or healthcheck
        spec = compose.spec(self.client, self.paths, self.values, service, rel,
                            env_overrides=env_overrides, healthcheck_override=healthcheck)
        missing = faults.get("static-missing")
        if missing and missing.get("service") == service:
            spec.mounts.append(Mount(target=missing["target"], source=missing["source"], type="bind", read_only=True))
        return spec

    def run_migrations(self, release: str | None = None, env_overrides: dict[str, str] | None = None,
                       quiet: bool = False) -> int:
        s = self.spec("migrations", release or self.current, env_overrides=env_overrides or {})
        if not quiet:
            progress("containers", f"running {compose.container_name('migrations')} ({s.image})")
        t0 = time.monotonic()
        code = compose.run_one_shot(self.client, s)
        c = compose.get(self.client, "migrations")
        if code != 0:
            if not quiet:
                tail = compose.logs_tail(c, 6).replace("\n", " | ")
                progress("containers", f"migrations exited {code}: {tail}")
        elif not quiet:
            progress("containers", f"migrations done ({time.monotonic() - t0:.1f}s)")
        return code

    def ensure_mount_dirs(self) -> None:
        for d in (self.paths.media, self.paths.backups, self.paths.faults):
            d.mkdir(parents=True, exist_ok=True)
        # the app may run as a non-root user: media and backups must be writable for it
        uid = self.state.get("app_uid")
        if uid is None:
            uid = _image_uid(self.client, self.spec("web").image)
            self.state.set("app_uid", uid)
        for d in (self.paths.media, self.paths.backups):
            for path in [d, *d.rglob("*")]:
                try:
                    if path.stat().st_uid != uid:
                        os.chown(path, uid, uid)
                except FileNotFoundError:
                    pass
        os.chmod(self.paths.faults, 0o755)


def _image_uid(client: docker.DockerClient, image: str) -> int:
    user = (client.images.get(image).attrs.get("Config") or {}).get("User") or ""
    user = user.split(":")[0]
    if not user or user == "root":
        return 0
    if user.isdigit():
        return int(user)
    out = client.containers.run(image, ["id", "-u"], network_mode="none", remove=True, entrypoint=[])
    return int(out.decode().strip())
