"""Where the sandbox keeps things: the state dir (git-ignored), the runtime dir (short socket paths)
and the cache dir (rootfs tarball, wheelhouse), plus ``state.json`` and the command lock."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from . import PACKAGE_DIR, SandboxError, progress

DEFAULT_STATE_DIR = PACKAGE_DIR / ".state"


def resolve_state_dir(cli_value: str | None = None) -> Path:
    raw = cli_value or os.environ.get("SANDBOX_STATE_DIR") or str(DEFAULT_STATE_DIR)
    return Path(raw).expanduser().resolve()


def cache_dir() -> Path:
    raw = os.environ.get("SANDBOX_CACHE_DIR")
    if raw:
        return Path(raw).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return (base / "gonogo-sandbox").resolve()


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write via a temp file in the same dir + rename (watchers and readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Paths:
    """All paths derived from one state dir."""

    def __init__(self, state_dir: Path):
        self.state = state_dir
        digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:8]
        self.key = digest
        base_run = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
        # unix sockets are limited to ~107 bytes: keep sockets and docker's exec root short
        self.runtime = base_run / f"gonogo-sandbox-{digest}"
        self.cache = cache_dir()

    # files and dirs in the state dir
    @property
    def state_json(self) -> Path:
        return self.state / "state.json"

    @property
    def env_file(self) -> Path:
        return self.state / ".env.sandbox"

    @property
    def staging_env_file(self) -> Path:
        """Staging's env file (its own secrets, database, ports), beside prod's."""
        return self.state / ".env.staging"

    @property
    def staging(self) -> Path:
        """Staging's own bind-mounted dirs: media, backups, faults."""
        return self.state / "staging"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pids(self) -> Path:
        return self.state / "run"

    @property
    def pg_data(self) -> Path:
        return self.state / "postgres" / "data"

    @property
    def redis_dir(self) -> Path:
        return self.state / "redis"

    @property
    def traefik_dir(self) -> Path:
        return self.state / "traefik"

    @property
    def traefik_dynamic_dir(self) -> Path:
        return self.state / "traefik" / "dynamic"

    @property
    def certs(self) -> Path:
        return self.state / "certs"

    @property
    def ca_file(self) -> Path:
        return self.certs / "ca.pem"

    @property
    def engine_dir(self) -> Path:
        return self.state / "engine"

    @property
    def build_dir(self) -> Path:
        return self.state / "build"

    @property
    def artefacts(self) -> Path:
        return self.state / "artefacts"

    @property
    def media(self) -> Path:
        return self.state / "media"

    @property
    def backups(self) -> Path:
        return self.state / "backups"

    @property
    def faults(self) -> Path:
        return self.state / "faults"

    @property
    def rollbacks(self) -> Path:
        """The rollback metrics: one JSON line per `rollback` (RBK-5.1)."""
        return self.state / "rollbacks.jsonl"

    @property
    def fault_data(self) -> Path:
        return self.state / "fault-data"

    # runtime dir (short paths)
    @property
    def docker_socket(self) -> Path:
        return self.runtime / "docker.sock"

    @property
    def docker_exec_root(self) -> Path:
        return self.runtime / "exec"

    @property
    def pg_socket_dir(self) -> Path:
        return self.runtime / "pg"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def ensure(self) -> None:
        for d in (self.state, self.logs, self.pids, self.media, self.backups, self.faults, self.fault_data):
            d.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(parents=True, exist_ok=True, mode=0o755)
        gitignore = self.state / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# sandbox state: never commit\n*\n")


class State:
    """``state.json``: releases, current/previous release, engine, active faults."""

    def __init__(self, paths: Paths):
        self.paths = paths
        self.data: dict[str, Any] = {}
        self.load()

    def load(self) -> None:
        try:
            self.data = json.loads(self.paths.state_json.read_text())
        except FileNotFoundError:
            self.data = {}
        except json.JSONDecodeError as exc:
            raise SandboxError(f"{self.paths.state_json} is not valid JSON ({exc}); fix or remove it") from exc
        self.data.setdefault("faults", {})

    def save(self) -> None:
        atomic_write(self.paths.state_json, json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    @property
    def faults(self) -> dict[str, Any]:
        return self.data["faults"]


@contextlib.contextmanager
def command_lock(paths: Paths) -> Iterator[None]:
    """One lifecycle command at a time per state dir."""
    paths.state.mkdir(parents=True, exist_ok=True)
    with open(paths.state / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("sandbox", "another sandbox command is running on this state dir; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield
