"""The Docker Engine: the one at DOCKER_HOST when it answers, else a private dockerd with its own
data root (state dir), exec root, pid file and socket (short runtime dir), and no bridge network."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import docker
import docker.errors

from . import SandboxError, progress
from .processes import pids_referencing, read_pid, require, start, stop_pid
from .state import Paths, State, atomic_write

NAME = "dockerd"


def private_host(paths: Paths) -> str:
    return f"unix://{paths.docker_socket}"


def _client(host: str, timeout: int = 300) -> docker.DockerClient:
    return docker.DockerClient(base_url=host, timeout=timeout, use_ssh_client=False)


def _ping(host: str, timeout: int = 3) -> bool:
    try:
        c = _client(host, timeout=timeout)
        try:
            return bool(c.ping())
        finally:
            c.close()
    except Exception:
        return False


def choose_host(paths: Paths) -> tuple[str, bool]:
    """(docker host, external?) for `up`: DOCKER_HOST if it answers, else our private engine."""
    env_host = os.environ.get("DOCKER_HOST", "").strip()
    if env_host and env_host != private_host(paths):
        if _ping(env_host):
            return env_host, True
        progress("engine", f"DOCKER_HOST={env_host} is unreachable; using a private dockerd")
    return private_host(paths), False


def running(paths: Paths) -> int | None:
    return read_pid(paths, NAME)


def start_private(paths: Paths) -> None:
    host = private_host(paths)
    pid = running(paths)
    if pid and _ping(host):
        progress("engine", f"private dockerd already running (pid {pid}, {host})")
        return
    if pid:  # ours but not answering: restart it
        stop_private(paths)
    dockerd = require("dockerd")
    require("containerd")
    require("runc")
    data_root = paths.engine_dir / "data"
    data_root.mkdir(parents=True, exist_ok=True)
    paths.runtime.mkdir(parents=True, exist_ok=True)
    paths.docker_socket.unlink(missing_ok=True)
    config = paths.engine_dir / "daemon.json"
    atomic_write(
        config,
        json.dumps(
            {
                "log-driver": "json-file",
                "log-opts": {"max-size": "10m", "max-file": "2"},
                "features": {"buildkit": False},
            },
            indent=2,
        ),
    )
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)
    env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"
    argv = [
        dockerd,
        "--data-root", str(data_root),
        "--exec-root", str(paths.docker_exec_root),
        "--pidfile", str(paths.runtime / "dockerd.pid"),
        "-H", host,
        "--config-file", str(config),
        "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip6tables=false",
        "--ip-masq=false", "--userland-proxy=false",
        "--log-level=warn",
    ]
    pid = start(paths, NAME, argv, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not read_pid(paths, NAME):
            raise SandboxError(f"dockerd exited at start; see {paths.log(NAME)}")
        if paths.docker_socket.exists() and _ping(host, timeout=2):
            progress("engine", f"private dockerd started (pid {pid}, {host})")
            return
        time.sleep(0.1)
    raise SandboxError(f"dockerd did not answer within 30s; see {paths.log(NAME)}")


def ensure(paths: Paths, state: State) -> str:
    """Make an engine reachable for `up`; records it in the state. Returns the docker host."""
    host, external = choose_host(paths)
    if external:
        progress("engine", f"using the Docker Engine at DOCKER_HOST={host}")
    else:
        start_private(paths)
    if state.get("engine") != {"host": host, "external": external}:
        state.set("engine", {"host": host, "external": external})
    return host


def client(paths: Paths, state: State, required: bool = True) -> docker.DockerClient | None:
    """A client for the engine recorded by `up` (never starts one)."""
    engine = state.get("engine") or {"host": private_host(paths), "external": False}
    host = engine["host"]
    if _ping(host):
        return _client(host)
    if required:
        raise SandboxError(f"the sandbox's Docker Engine ({host}) is not running: run `python -m sandbox up`")
    return None


def stop_private(paths: Paths) -> bool:
    pid = running(paths)
    was = pid is not None
    if pid:
        # dockerd stops its containerd; containers were removed by `down` before this
        stop_pid(pid, sig=signal.SIGTERM, timeout=30, label=NAME)
    (paths.pids / f"{NAME}.pid").unlink(missing_ok=True)
    # anything still using our exec root (containerd, shims) after an unclean stop
    for leftover in pids_referencing(str(paths.docker_exec_root) + "/"):
        stop_pid(leftover, sig=signal.SIGTERM, timeout=5, label="containerd")
    unmount_leftovers(paths)
    if was:
        progress("engine", "private dockerd stopped")
    return was


def unmount_leftovers(paths: Paths) -> None:
    roots = (str(paths.engine_dir), str(paths.runtime))
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    for mnt in sorted(mounts, key=len, reverse=True):
        mnt = mnt.replace("\\040", " ")
        if mnt.startswith(roots):
            os.system(f"umount -l '{mnt}' 2>/dev/null")
