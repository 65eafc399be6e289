"""Reading a configuration file as a probe does: bounded, never blocking, every failure a reason.

:func:`read_text` opens without blocking (a FIFO with no writer would otherwise hang the run),
reads only regular files, at most ``limit`` bytes, and returns why it could not instead of raising:
``does not exist``, ``is a directory``, ``is a FIFO, not a regular file``, ``permission denied``...
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

#: the largest configuration file a probe reads (an env file or a compose file is a few kB)
DEFAULT_LIMIT = 1_000_000

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
_REASONS = {errno.ENOENT: "does not exist", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOTDIR: "does not exist (a part of its path is not a directory)",
            errno.ELOOP: "is a symbolic link loop", errno.ENXIO: "is a socket or a device without a reader"}


@dataclass(frozen=True)
class FileRead:
    """A file's text, or why it could not be read (``error``)."""

    path: Path
    text: str | None = None
    error: str | None = None


def read_text(path: Path, limit: int = DEFAULT_LIMIT) -> FileRead:
    """The UTF-8 text of the regular file at ``path`` (at most ``limit`` bytes); never raises, never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # O_NONBLOCK: a FIFO opens at once
    except OSError as exc:
        return FileRead(path, error=_REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__).lower())
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind is not None:
            return FileRead(path, error=f"is {kind}, not a regular file")
        data = _read(fd, limit + 1)
    except OSError as exc:
        return FileRead(path, error=f"cannot be read: {(exc.strerror or type(exc).__name__).lower()}")
    finally:
        os.close(fd)
    if len(data) > limit:
        return FileRead(path, error=f"is larger than {limit // 1000} kB: not a configuration file")
    try:
        return FileRead(path, text=data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return FileRead(path, error=f"is not UTF-8 text (byte {exc.start})")


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
