"""Redis from Debian's redis-server package, on a loopback port, persistence off."""

from __future__ import annotations

import socket
import time

from . import SandboxError, progress
from .envfile import port
from .ports import is_free
from .processes import read_pid, require, start, stop
from .state import Paths

NAME = "redis"


def ping(redis_port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", redis_port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def running(paths: Paths) -> int | None:
    return read_pid(paths, NAME)


def start_server(paths: Paths, values: dict[str, str]) -> None:
    redis_port = port(values, "SANDBOX_REDIS_PORT")
    pid = running(paths)
    if pid and ping(redis_port):
        progress("redis", f"already running on 127.0.0.1:{redis_port} (pid {pid})")
        return
    if ping(redis_port) or not _port_free(redis_port):
        raise SandboxError(f"port {redis_port} (SANDBOX_REDIS_PORT) is taken by another process")
    paths.redis_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        require("redis-server"), "--bind", "127.0.0.1", "--port", str(redis_port),
        "--protected-mode", "yes", "--dir", str(paths.redis_dir), "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--supervised", "no", "--databases", "16", "--loglevel", "notice",
    ]
    pid = start(paths, NAME, argv, cwd=paths.redis_dir)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ping(redis_port):
            progress("redis", f"started on 127.0.0.1:{redis_port} (pid {pid})")
            return
        if not read_pid(paths, NAME):
            break
        time.sleep(0.05)
    raise SandboxError(f"redis did not answer PING; see {paths.log(NAME)}")


def _port_free(p: int) -> bool:
    return is_free(p)


def stop_server(paths: Paths) -> bool:
    was = stop(paths, NAME, timeout=10)
    if was:
        progress("redis", "stopped")
    return was
