"""Reading a file the profile names: bounded, never blocking, every failure a reason.

:func:`read_text` opens without blocking (a FIFO with no writer would otherwise hang the run),
reads only regular files, at most ``limit`` bytes, and returns why it could not instead of raising:
``does not exist``, ``is a directory``, ``is a FIFO, not a regular file``, ``permission denied``...
:func:`path_problem` says the same of a path without reading it (a profile's file checked at load).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the largest configuration file a probe reads (an env file or a compose file is a few kB)
DEFAULT_LIMIT = 1_000_000

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
_REASONS = {errno.ENOENT: "does not exist", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOTDIR: "does not exist (a part of its path is not a directory)",
            errno.ELOOP: "is a symbolic link loop", errno.ENXIO: "is a socket or a device without a reader"}
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC  # O_NONBLOCK: a FIFO opens at once


@dataclass(frozen=True)
class FileRead:
    """A file's text, or why it could not be read (``error``)."""

    path: Path
    text: str | None = None
    error: str | None = None


def path_problem(path: Path, *, folder_ok: bool = False, limit: int | None = DEFAULT_LIMIT) -> str | None:
    """Why ``path`` is not a readable regular file of at most ``limit`` bytes (with ``folder_ok``, a readable
    folder is fine too), or None. Looked at with stat and opened without blocking: it never waits."""
    try:
        st = os.stat(path)
        if folder_ok and stat.S_ISDIR(st.st_mode):
            with os.scandir(path):  # readable (a listing is not read)
                return None
        kind = _kind(st.st_mode)
        if kind is not None:
            return f"is {kind}, not a regular file"
        if limit is not None and st.st_size > limit:
            return _too_large(limit)
        os.close(os.open(path, _FLAGS))  # readable
    except OSError as exc:
        return _reason(exc)
    return None


def read_text(path: Path, limit: int = DEFAULT_LIMIT, tail: bool = False) -> FileRead:
    """The UTF-8 text of the regular file at ``path`` (at most ``limit`` bytes; with ``tail``, a larger file's last
    ``limit`` bytes, a character cut at the start replaced); never raises, never blocks."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        return FileRead(path, error=_reason(exc))
    try:
        st = os.fstat(fd)
        kind = _kind(st.st_mode)
        if kind is not None:
            return FileRead(path, error=f"is {kind}, not a regular file")
        if tail:
            os.lseek(fd, max(0, st.st_size - limit), os.SEEK_SET)
        data = _read(fd, limit if tail else limit + 1)
    except OSError as exc:
        return FileRead(path, error=f"cannot be read: {(exc.strerror or type(exc).__name__).lower()}")
    finally:
        os.close(fd)
    if len(data) > limit:
        return FileRead(path, error=_too_large(limit))
    try:
        return FileRead(path, text=data.decode("utf-8", errors="replace" if tail else "strict"))
    except UnicodeDecodeError as exc:
        return FileRead(path, error=f"is not UTF-8 text (byte {exc.start})")


def too_deep(data: Any, limit: int) -> str | None:
    """The key (its first two parts) of a value of a parsed document nested more than ``limit`` dicts and lists deep,
    or None (a reader that recurses would fail on it)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, key, depth = stack.pop()
        if depth > limit:
            return ".".join(key.split(".")[:2])
        if isinstance(value, dict):
            stack += [(v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, key, depth + 1) for v in value]
    return None


def _reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__).lower()


def _too_large(limit: int) -> str:
    return f"is larger than {limit // 1000} kB: not a configuration file"


def _kind(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None)


def _read(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.read(fd, min(size, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
