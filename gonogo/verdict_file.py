"""The one builder of the verdict file (``reports/gate.json``, schema ``gonogo.gate/1``).

Every document gonogo writes, a verdict or a usage error, is built by :func:`document` and
written masked and atomically by :func:`write`; its schema is ``gonogo/data/gate.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gonogo import __version__
from gonogo.environment import LoadedEnvironment
from gonogo.gate import NO_GO, Verdict
from gonogo.secrets import masker

SCHEMA = "gonogo.gate/1"
DEFAULT_GATE_FILE = "reports/gate.json"


def document(
    *,
    verdict: Verdict | None,
    exit_code: int,
    env: LoadedEnvironment | None,
    phases: list[str],
    selection: dict[str, Any],
    started: dt.datetime,
    duration_s: float,
    partial: bool = False,
    left_out: dict[str, Any] | None = None,
    usage_error: str | None = None,
    no_verdict: str | None = None,
) -> dict[str, Any]:
    """The verdict file's content: a run's verdict, a run stopped by bad input (``usage_error``), or a run
    that judged nothing (``no_verdict``: --collect-only, --fixtures): the last two are NO-GO documents."""
    finished = dt.datetime.now(dt.timezone.utc)
    empty: list[Any] = []
    return {
        "schema": SCHEMA,
        "verdict": verdict.verdict if verdict else NO_GO,
        "reasons": verdict.reasons if verdict else [f"no verdict: {no_verdict}" if no_verdict else f"usage error: {usage_error}"],
        "exit_code": exit_code,
        "environment": None if env is None else {
            "name": env.name, "source": env.source, "profile": env.display_path,
            # the stack the profile describes ([environment] name, else the profile's name): merge judges per stack
            "stack": env.profile.environment.name or env.name,
            "public_domain": env.profile.environment.public_domain,
        },
        "target_version": env.profile.environment.release if env else None,
        "phases": phases,
        "selection": selection,
        "partial": partial,
        "left_out": left_out or {"checks": [], "uncollected": []},
        "counts": verdict.counts if verdict else {},
        "failed": verdict.failed if verdict else empty,
        "errored": verdict.errored if verdict else empty,
        "missing": verdict.missing if verdict else empty,
        "not_run": verdict.not_run if verdict else empty,
        "waived": verdict.waived if verdict else empty,
        "skipped": verdict.skipped if verdict else empty,
        "expired_waivers": verdict.expired_waivers if verdict else empty,
        "unused_waivers": verdict.unused_waivers if verdict else empty,
        "converged_after_retries": verdict.converged_after_retries if verdict else empty,
        "passed": verdict.passed if verdict else empty,
        "decided_not_applicable": verdict.decided_not_applicable if verdict else empty,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "duration_s": round(duration_s, 3),
        "gonogo_version": __version__,
    }


def write(path: Path, content: dict[str, Any]) -> None:
    """Write the verdict file masked, through a temporary file (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(masker.mask_data(content), indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def writable_problem(path: Path, folder: bool = False, example: str = "gate.json") -> str | None:
    """Why a file (with ``folder``, a folder of files) cannot be written at ``path``, or None.

    Found by creating and removing a file where it would be written (``os.access`` says yes to root).
    """
    if os.path.isdir(path) and not folder:
        return f"{path} is a directory: name a file, e.g. {path / example}"
    if os.path.lexists(path) and not (os.path.isdir(path) if folder else os.path.isfile(path)):
        if folder:
            return f"{path} is {'a file' if os.path.isfile(path) else 'not a regular file'}, not a folder: name a folder"
        return f"{path} is not a regular file: name a file"
    existing = path if os.path.isdir(path) else next(p for p in path.parents if os.path.lexists(p))
    if not os.path.isdir(existing):
        return f"{existing} is a file, not a folder: name a path inside a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        return f"cannot write in {existing} ({exc.strerror or exc}): name a path in a writable folder"
    return None
