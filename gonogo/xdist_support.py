"""pytest-xdist: what a worker sends back, and how the controller reads a worker's death.

Each worker collects the whole suite and sends its collection (every check, every check function,
what was deselected, collection errors and skipped modules) in ``workeroutput`` when it finishes. The controller
computes the one verdict. A worker that dies while running a check (``os._exit``, a segfault,
a KeyboardInterrupt in a check) is reported by xdist with ``when="???"``: the recorder turns
that into an error of the check, never a pass.
"""

from __future__ import annotations

from typing import Any

from gonogo.checks import CheckInfo
from gonogo.inventory import Entry

KEY = "gonogo"


def is_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")


def payload(checks: dict[str, CheckInfo], deselected: set[str], collection_errors: list[tuple[str, str]],
            skipped_modules: list[tuple[str, str]], seen: dict[str, Entry]) -> dict[str, Any]:
    """What a worker sends back to the controller (plain data: execnet serialises it)."""
    return {
        "checks": [c.as_dict() for c in checks.values()],
        "seen": {name: [entry.subject, list(entry.phases)] for name, entry in seen.items()},
        "deselected": sorted(deselected),
        "collection_errors": [list(e) for e in collection_errors],
        "skipped_modules": [list(m) for m in skipped_modules],
    }


def received(node: Any) -> dict[str, Any] | None:
    """A finished worker's payload, or None (it died before sending one)."""
    output = getattr(node, "workeroutput", None) or {}
    return output.get(KEY)


def checks_of(data: dict[str, Any]) -> dict[str, CheckInfo]:
    return {entry["nodeid"]: CheckInfo.from_dict(entry) for entry in data["checks"]}


def seen_of(data: dict[str, Any]) -> dict[str, Entry]:
    """The check functions a worker collected (gonogo.inventory)."""
    return {name: Entry(subject, tuple(phases)) for name, (subject, phases) in data.get("seen", {}).items()}


def describe_down(node: Any, error: object) -> str:
    gateway = getattr(node, "gateway", None)
    name = getattr(gateway, "id", None) or str(node)
    return f"xdist worker {name} went down: {error}"
