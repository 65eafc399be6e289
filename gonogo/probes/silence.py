"""Targets that did not answer: one timeout per target and run, not one per check.

A blackholed stack (a port that accepts and never answers, a firewall that drops) used to cost every
check its own timeout: 10 s per Docker call, 5 s per request, 3 s per database session, added up
check by check to minutes. Here a target (``host:port``, or a Docker engine's URL) that timed out is
remembered for the rest of the run; a later request to it fails at once, its reason naming the first
timeout (``not asked: 127.0.0.1:8443 did not answer GET https://…: ReadTimeoutError …``).

What counts as silence:

- at once: a TCP connection or a TLS handshake that did not complete in time, a database that did not
  start a session within ``connect_timeout_s``, a Docker engine that did not answer its version;
- an HTTP read timeout after the connection (and handshake) completed only once a second, different
  request to the same target timed out too: one slow endpoint is that endpoint's failure, not its server's.

A refused connection is not recorded: it fails in microseconds, and a service that restarts is back at
its next check. The record is shared by the run's xdist workers through files in one directory per run
(:func:`use_directory`, set by the plugin); outside a run it is kept in memory.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from gonogo.secrets import masker

SECOND_REQUEST = 2  # distinct requests that timed out after connecting before a target counts as silent
_AT_ONCE = "at-once"

_lock = threading.Lock()
_memory: dict[str, dict[str, str]] = {}
_directory: Path | None = None


class SilentTarget(Exception):
    """A request not sent: its target did not answer an earlier one in this run."""


def use_directory(directory: Path | None) -> None:
    """Share the record through ``directory`` (one per run, created by the controller); None: memory only.
    Forgets what was recorded before: a new run starts with every target unheard."""
    global _directory
    with _lock:
        _memory.clear()
        _directory = directory


def forget() -> None:
    """Forget every record of this run (the watch window's rounds each ask afresh)."""
    with _lock:
        _memory.clear()
        if _directory is not None:
            for folder in _directory.glob("*"):
                shutil.rmtree(folder, ignore_errors=True)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def record(target: str, request: str, reason: str, *, at_once: bool) -> None:
    """``request`` to ``target`` timed out (``reason``); ``at_once``: before the target said anything."""
    name = _AT_ONCE if at_once else _key(request)
    line = masker.mask(f"{target} did not answer {request}: {reason}")[:400]
    with _lock:
        _memory.setdefault(target, {}).setdefault(name, line)
        if _directory is not None:
            folder = _directory / _key(target)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / name
                if not path.exists():
                    path.write_text(line, encoding="utf-8")
            except OSError:
                pass  # the record is an optimisation: a failure to share it costs time, never a verdict


def silent(target: str) -> str | None:
    """Why ``target`` is not asked again (its first timeout), or None while it may still answer."""
    with _lock:
        seen = dict(_memory.get(target, {}))
        if _directory is not None:
            folder = _directory / _key(target)
            try:
                for path in folder.iterdir():
                    if path.name not in seen:
                        seen[path.name] = path.read_text(encoding="utf-8")
            except OSError:
                pass
    if _AT_ONCE in seen:
        return seen[_AT_ONCE]
    if len(seen) >= SECOND_REQUEST:
        return sorted(seen.values())[0]
    return None


def refuse(target: str) -> None:
    """Raise :class:`SilentTarget` when ``target`` did not answer earlier in this run."""
    reason = silent(target)
    if reason is not None:
        raise SilentTarget(f"not asked: {reason}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (docker-py wraps requests, which wraps urllib3), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def timed_out(exc: BaseException) -> bool:
    """Whether ``exc``, or what it wraps, is a timeout (a request not sent here is not one)."""
    if isinstance(exc, SilentTarget):
        return False
    return any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ or "timed out" in str(e) for e in _chain(exc))


def in_handshake(exc: BaseException) -> bool:
    """Whether a timeout happened before the target said anything (connect, or a TLS handshake)."""
    return any("ConnectTimeout" in type(e).__name__ or "handshake operation timed out" in str(e) for e in _chain(exc))
