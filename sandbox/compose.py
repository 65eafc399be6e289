"""Containers from ``sandbox/compose.yaml``, created with the Docker SDK and the Compose labels
(project ``boutique-sandbox``, names ``boutique-sandbox-<service>-1``). The staging project
(``boutique-staging``, ``sandbox/compose.staging.yaml``) goes through the same functions with
``project=STAGING_PROJECT``; without it, everything is prod's."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import yaml
from docker.types import LogConfig, Mount

from . import COMPOSE_FILE, PACKAGE_DIR, PROJECT, STAGING_COMPOSE_FILE, STAGING_PROJECT, SandboxError, envfile, last_line
from .images import image_release
from .state import Paths

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)")
_UNITS = {"h": 3600e9, "m": 60e9, "s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def duration_ns(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value * 1e9)
    total = 0.0
    for number, unit in _DURATION.findall(str(value)):
        total += float(number) * _UNITS[unit]
    return int(total)


def interpolate(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1) or m.group(3)
            if name in variables and variables[name] != "":
                return variables[name]
            if m.group(2) is not None:
                return m.group(2)
            if name in variables:
                return variables[name]
            raise SandboxError(f"compose.yaml uses ${{{name}}}, which is not set")
        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    return value


#: each Compose project of the sandbox and its file
COMPOSE_FILES = {PROJECT: COMPOSE_FILE, STAGING_PROJECT: STAGING_COMPOSE_FILE}


def container_name(service: str, project: str = PROJECT) -> str:
    return f"{project}-{service}-1"


@dataclass
class Spec:
    service: str
    image: str
    release: str
    command: list[str]
    environment: dict[str, str]
    labels: dict[str, str]
    restart: str
    healthcheck: dict | None
    mounts: list[Mount]
    working_dir: str | None
    stop_timeout: int
    log_config: LogConfig | None
    network_mode: str = "host"
    depends_on: list[str] = field(default_factory=list)
    project: str = PROJECT


def load_raw(project: str = PROJECT) -> dict:
    return yaml.safe_load(COMPOSE_FILES[project].read_text())


def service_names(project: str = PROJECT) -> list[str]:
    return list(load_raw(project)["services"])


def spec(
    client: docker.DockerClient,
    paths: Paths,
    values: dict[str, str],
    service: str,
    release: str,
    env_overrides: dict[str, str] | None = None,
    healthcheck_override: dict | None = None,
    project: str = PROJECT,
) -> Spec:
    raw = load_raw(project)
    svc = raw["services"][service]
    variables = {**values, "SANDBOX_STATE_DIR": str(paths.state), "RELEASE": release}
    svc = interpolate(svc, variables)
    image = svc["image"]
    if svc.get("pull_policy", "never") != "never":
        raise SandboxError("compose.yaml: the sandbox never pulls images (pull_policy must be never)")
    env: dict[str, str] = {}
    env_files = svc.get("env_file") or []
    for f in [env_files] if isinstance(env_files, str) else env_files:
        env.update(envfile.read(Path(f)))
    extra = svc.get("environment") or {}
    if isinstance(extra, list):
        extra = dict(item.split("=", 1) for item in extra)
    env.update({k: str(v) for k, v in extra.items()})
    # the release a container runs is its image's, whatever the env file's RELEASE says
    info = image_release(client, image)
    if info:
        env["RELEASE"], version = info
        if version:
            env["RELEASE_VERSION"] = version
    else:
        env["RELEASE"] = release
    env.update(env_overrides or {})
    labels = {
        "com.docker.compose.project": raw.get("name", project),
        "com.docker.compose.service": service,
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.container-number": "1",
        "com.docker.compose.project.working_dir": str(PACKAGE_DIR),
        "com.docker.compose.project.config_files": str(COMPOSE_FILES[project]),
        "com.docker.compose.image": image,
        "org.gonogo.sandbox.state_dir": str(paths.state),
        **{k: str(v) for k, v in (svc.get("labels") or {}).items()},
    }
    depends = svc.get("depends_on") or []
    hc = healthcheck_override or svc.get("healthcheck")
    healthcheck = None
    if hc and not hc.get("disable"):
        test = hc["test"]
        if isinstance(test, str):
            test = ["CMD-SHELL", test]
        healthcheck = {
            "test": test,
            "interval": duration_ns(hc.get("interval", "30s")),
            "timeout": duration_ns(hc.get("timeout", "30s")),
            "retries": int(hc.get("retries", 3)),
            "start_period": duration_ns(hc.get("start_period", "0s")),
        }
    mounts = []
    for vol in svc.get("volumes") or []:
        parts = vol.split(":")
        source, target = parts[0], parts[1]
        mounts.append(Mount(target=target, source=source, type="bind", read_only="ro" in parts[2:]))
    logging = svc.get("logging")
    log_config = LogConfig(type=logging["driver"], config=logging.get("options") or {}) if logging else None
    command = svc.get("command")
    if isinstance(command, str):
        command = ["sh", "-c", command]
    return Spec(
        service=service,
        image=image,
        release=release,
        command=command,
        environment=env,
        labels=labels,
        restart=str(svc.get("restart", "no")),
        healthcheck=healthcheck,
        mounts=mounts,
        working_dir=svc.get("working_dir"),
        stop_timeout=max(1, duration_ns(svc.get("stop_grace_period", "10s")) // 10**9),
        log_config=log_config,
        network_mode=svc.get("network_mode", "host"),
        depends_on=list(depends),
        project=project,
    )


# ------------------------------------------------------------------------------------ containers


_OWNER: str | None = None


def set_owner(state_dir: str) -> None:
    """Containers of this name that another sandbox (state dir) created are never touched."""
    global _OWNER
    _OWNER = state_dir


def get(client: docker.DockerClient, service: str, project: str = PROJECT):
    try:
        c = client.containers.get(container_name(service, project))
    except docker.errors.NotFound:
        return None
    owner = c.labels.get("org.gonogo.sandbox.state_dir")
    if _OWNER and owner and owner != _OWNER:
        raise SandboxError(
            f"{c.name} in this Docker Engine belongs to the sandbox at {owner}: one sandbox per engine "
            "(unset DOCKER_HOST to get a private dockerd per state dir)"
        )
    return c


def project_containers(client: docker.DockerClient, project: str = PROJECT) -> list:
    return client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})


def remove(client: docker.DockerClient, service: str, timeout: int | None = None, project: str = PROJECT) -> bool:
    c = get(client, service, project)
    if c is None:
        return False
    try:
        if c.status in ("running", "restarting", "paused"):
            c.stop(timeout=timeout if timeout is not None else 10)
        c.remove(force=True)
    except docker.errors.NotFound:
        pass
    return True


def create(client: docker.DockerClient, s: Spec):
    restart = {"Name": s.restart} if s.restart not in ("no", "") else None
    kwargs: dict[str, Any] = dict(
        image=s.image,
        command=s.command,
        name=container_name(s.service, s.project),
        labels=s.labels,
        environment=s.environment,
        network_mode=s.network_mode,
        mounts=s.mounts,
        working_dir=s.working_dir,
        stop_signal="SIGTERM",
        detach=True,
    )
    if restart:
        kwargs["restart_policy"] = restart
    if s.healthcheck:
        kwargs["healthcheck"] = s.healthcheck
    if s.log_config:
        kwargs["log_config"] = s.log_config
    try:
        return client.containers.create(**kwargs)
    except docker.errors.ImageNotFound as exc:
        raise SandboxError(f"image {s.image} is missing (run `python -m sandbox up`)") from exc


def recreate(client: docker.DockerClient, s: Spec, start: bool = True, stop_timeout: int | None = None):
    remove(client, s.service, timeout=s.stop_timeout if stop_timeout is None else stop_timeout, project=s.project)
    c = create(client, s)
    if start:
        c.start()
    return c


def logs_tail(container, lines: int = 15) -> str:
    try:
        return container.logs(tail=lines).decode(errors="replace").strip()
    except docker.errors.APIError:
        return ""


def run_one_shot(client: docker.DockerClient, s: Spec, timeout: float = 300) -> int:
    """(Re)create and run the one-shot service; returns its exit code (the container is kept)."""
    c = recreate(client, s)
    try:
        result = c.wait(timeout=timeout)
    except Exception as exc:  # requests' ReadTimeout and friends
        raise SandboxError(f"{container_name(s.service, s.project)} did not finish within {timeout:.0f}s") from exc
    return int(result.get("StatusCode", 1))


def health(container) -> str:
    """running/healthy/unhealthy/starting/exited/restarting/... for one container."""
    container.reload()
    st = container.attrs["State"]
    if st.get("Restarting"):
        return "restarting"
    if not st.get("Running"):
        return st.get("Status", "exited")
    return (st.get("Health") or {}).get("Status", "running")


def wait_healthy(client: docker.DockerClient, services: list[str], timeout: float = 90,
                 project: str = PROJECT) -> None:
    deadline = time.monotonic() + timeout
    pending = list(services)
    while pending and time.monotonic() < deadline:
        for service in list(pending):
            c = get(client, service, project)
            status = health(c) if c else "missing"
            if status in ("healthy", "running"):
                pending.remove(service)
            elif status in ("exited", "dead", "missing"):
                tail = logs_tail(c) if c else ""
                raise SandboxError(f"{container_name(service, project)} is {status}: {last_line(tail)}")
        if pending:
            time.sleep(0.25)
    if pending:
        details = []
        for service in pending:
            c = get(client, service, project)
            if c is None:
                continue
            log = (c.attrs["State"].get("Health") or {}).get("Log") or []
            last = last_line(log[-1]["Output"]) if log else ""
            details.append(f"{container_name(service, project)}: {health(c)} {last}")
        raise SandboxError(f"not healthy within {timeout:.0f}s: {'; '.join(details)}")


def service_release(client: docker.DockerClient, service: str) -> str | None:
    c = get(client, service)
    if c is None:
        return None
    image = c.attrs["Config"]["Image"]
    return image.rsplit(":", 1)[1] if ":" in image else None
