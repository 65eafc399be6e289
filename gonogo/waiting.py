"""Waiting for convergence: poll a probe until its fact is acceptable, with a deadline.

Checks that run right after a deploy use this instead of sleeping. Every attempt is recorded, so
a check that passed only after retries says so in the report and in gate.json.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Attempt:
    number: int
    at_s: float
    ok: bool
    summary: str


@dataclass
class Convergence(Generic[T]):
    """The outcome of waiting: the last fact, whether it was accepted, and every attempt."""

    what: str
    value: T | None
    converged: bool
    elapsed_s: float
    timeout_s: float
    attempts: list[Attempt] = field(default_factory=list)
    #: why the wait ended before its deadline without converging (nothing waiting could change), or None
    gave_up: str | None = None

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1

    def describe(self) -> str:
        state = "converged" if self.converged else "did not converge"
        line = f"{self.what}: {state} after {len(self.attempts)} attempt(s) in {self.elapsed_s:.1f}s (deadline {self.timeout_s:g}s)"
        return line + (f"; stopped waiting: {self.gave_up}" if self.gave_up else "")

    def log(self) -> str:
        lines = [self.describe()]
        lines += [f"  #{a.number} at {a.at_s:5.1f}s {'ok ' if a.ok else 'no '} {a.summary}" for a in self.attempts]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "what": self.what,
            "converged": self.converged,
            "attempts": len(self.attempts),
            "seconds": round(self.elapsed_s, 3),
            "timeout_s": self.timeout_s,
            **({"gave_up": self.gave_up} if self.gave_up else {}),
        }


class ConvergenceTimeout(AssertionError):
    """The condition was still false at the deadline."""

    def __init__(self, convergence: Convergence[object]) -> None:
        super().__init__(convergence.log())
        self.convergence = convergence


def wait_until(
    probe: Callable[[], T],
    accept: Callable[[T], bool] = bool,
    *,
    timeout_s: float,
    interval_s: float = 1.0,
    what: str = "condition",
    describe: Callable[[T], str] = repr,
    hopeless: Callable[[T], str | None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Convergence[T]:
    """Call ``probe`` until ``accept(fact)`` is true or ``timeout_s`` has passed.

    The probe runs at least once. An exception raised by the probe counts as a failed attempt
    (its message is recorded) and is re-raised only if the deadline passes on it. ``hopeless(fact)``,
    when given, says why waiting cannot change an unaccepted fact (a container stopped, that nothing
    will start again): the wait ends there, not converged, with that reason (``gave_up``). Returns a
    :class:`Convergence`; it never raises on timeout, so the caller decides (see ``expect``).
    """
    start = clock()
    result: Convergence[T] = Convergence(what=what, value=None, converged=False, elapsed_s=0.0, timeout_s=timeout_s)
    last_error: Exception | None = None
    while True:
        number = len(result.attempts) + 1
        try:
            value = probe()
            ok = bool(accept(value))
            result.value, last_error = value, None
            summary = describe(value)
        except Exception as exc:  # a probe error is one more failed attempt
            ok, last_error, summary = False, exc, f"{type(exc).__name__}: {exc}"
        now = clock() - start
        result.attempts.append(Attempt(number, now, ok, summary[:300]))
        result.elapsed_s = now
        if ok:
            result.converged = True
            return result
        if hopeless is not None and last_error is None and (reason := hopeless(value)):
            result.gave_up = reason
            return result
        if now + interval_s > timeout_s:
            if last_error is not None and result.value is None:
                raise last_error
            return result
        sleep(interval_s)


def expect(convergence: Convergence[T]) -> T:
    """The converged value, or raise :class:`ConvergenceTimeout` with every attempt."""
    if not convergence.converged:
        raise ConvergenceTimeout(convergence)  # type: ignore[arg-type]
    return convergence.value  # type: ignore[return-value]


@dataclass(frozen=True)
class Wait(Generic[T]):
    """One condition to wait for: what to probe, what to accept, the deadline and the pace."""

    probe: Callable[[], T]
    accept: Callable[[T], bool]
    timeout_s: float
    interval_s: float = 1.0
    what: str = "condition"


class SideBySide(Generic[T]):
    """Several waits converging at the same time, each under its own deadline from one start.

    Two endpoints that each take 15 s to fail take 15 s together, not 30: every wait starts when
    the first one is asked for, in its own thread, and :meth:`result` returns one wait's outcome
    as soon as that one has converged or reached its deadline.
    """

    def __init__(self, waits: dict[str, Wait[T]]) -> None:
        self._waits = waits
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[Convergence[T]]] = {}
        self._lock = threading.Lock()

    def __contains__(self, name: object) -> bool:
        return name in self._waits

    def start(self) -> None:
        """Start every wait (once)."""
        with self._lock:
            if self._pool is not None or not self._waits:
                return
            self._pool = ThreadPoolExecutor(max_workers=len(self._waits), thread_name_prefix="gonogo-wait")
            for name, w in self._waits.items():
                self._futures[name] = self._pool.submit(
                    wait_until, w.probe, w.accept, timeout_s=w.timeout_s, interval_s=w.interval_s, what=w.what)

    def result(self, name: str) -> Convergence[T]:
        """The outcome of one wait (starting them all if nobody has yet); a probe's error is re-raised."""
        self.start()
        return self._futures[name].result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
