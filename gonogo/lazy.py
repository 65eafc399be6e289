"""A client library imported when a probe first uses it, not when its module is imported.

Collection imports every checks module, and the checks import their probe modules (for the facts and
helpers they judge with); a run that checks HTTP alone must not pay for Docker's, PostgreSQL's, Redis's,
Celery's or Alembic's client. So a probe module binds its client at the top, once, as a stand-in::

    if TYPE_CHECKING:
        import docker
    else:
        docker = lazy.module("docker")

and the first attribute read (``docker.DockerClient``) imports the library, every later one reads the
real module. The ``TYPE_CHECKING`` branch gives type checkers and editors the real module.

Why not ``lazy_loader.load`` or :class:`importlib.util.LazyLoader` (on which ``lazy_loader.load`` is
built): that loader is not thread-safe on Python 3.11 (CPython gh-114763, fixed in later versions; a
second thread that reads an attribute while the first is still executing the module gets
``AttributeError``, reproduced here on 3.11.7; lazy-loader's own issue #88), and the probes first reach
a client from worker threads (the side-by-side waits, the workers probe's pool); it also puts the
unloaded module into ``sys.modules`` at once, so ``sys.modules`` no longer says what was imported
(``tests/core/test_startup.py`` and ``test_structure.py`` ask it); and a dotted name
(``psycopg.conninfo``, ``docker.errors``) imports its parent package at once. Here the import is
:func:`importlib.import_module` on first use, which the import system's module locks make safe from any
thread, and a dotted name waits like any other.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module ``name`` until an attribute of it is read; then it is that module's."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name} ({state})>"


def module(name: str) -> Any:
    """A stand-in for the module ``name`` (``"docker"``, ``"psycopg.conninfo"``), imported on first use."""
    return LazyModule(name)
