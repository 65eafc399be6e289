"""The one way a probe (or a check module) keeps what it observed, so that several checks judge the same fact.

:class:`Memo` keeps observations by key (a page by its name, a router by its name, a batch of futures started
side by side); :func:`memoised` is a probe's attribute observed on first use (the Docker client, the listing of
a backups folder), kept in the same way. Both are thread-safe: checks and the watch window ask from several
threads, and each key is observed once (a second thread asking for it meanwhile waits for the first's answer;
other keys are observed side by side). An observation that raises is not kept: the next ask observes again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, overload

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
O = TypeVar("O")


class _Slot(Generic[V]):
    """One key's observation: its lock (held while it is observed), and its value once observed."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.done = False
        self.value: V | None = None


class Memo(Generic[K, V]):
    """Observations kept by key: ``memo.get(key, observe)`` calls ``observe()`` the first time ``key`` is asked,
    then answers with what it returned."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[K, _Slot[V]] = {}

    def get(self, key: K, observe: Callable[[], V]) -> V:
        """What ``observe()`` returned the first time ``key`` was asked (it is called now when it was not)."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
        with slot.lock:
            if not slot.done:
                slot.value = observe()
                slot.done = True
            return slot.value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` has been observed (and kept)."""
        with self._lock:
            slot = self._slots.get(key)  # type: ignore[arg-type]
        return slot is not None and slot.done


_MEMOS = threading.Lock()


def memo_of(owner: object) -> Memo[str, Any]:
    """The memo of ``owner``'s :func:`memoised` attributes (made on first use)."""
    memo: Memo[str, Any] | None = owner.__dict__.get("_memoised")
    if memo is None:
        with _MEMOS:
            memo = owner.__dict__.setdefault("_memoised", Memo())
    return memo


class memoised(Generic[O, V]):  # noqa: N801 - used as a decorator, like functools.cached_property
    """A probe's attribute observed once, on first use, and kept (``functools.cached_property``, thread-safe on every
    Python: its value is kept in the owner's :class:`Memo` under the attribute's name)."""

    def __init__(self, observe: Callable[[O], V]) -> None:
        self.observe = observe
        self.name = observe.__name__
        self.__doc__ = observe.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, owner: None, kind: type | None = None) -> memoised[O, V]: ...

    @overload
    def __get__(self, owner: O, kind: type | None = None) -> V: ...

    def __get__(self, owner: O | None, kind: type | None = None) -> V | memoised[O, V]:
        if owner is None:
            return self
        return memo_of(owner).get(self.name, lambda: self.observe(owner))
