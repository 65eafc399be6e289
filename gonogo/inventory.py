"""The inventory: every check function of the suite and the phases it belongs to (``inventory.toml``).

The gate compares what a run judged with what each of its phases must judge, and it learns the
second from this committed file, not from the run's own options: ``--ignore``, ``-o testpaths``,
``-o python_functions``, a conftest's ``collect_ignore``, ``--lf`` under xdist or a plugin that drops
items all narrow a run without saying so, and each of them leaves a check of the inventory
uncollected, which the gate reports as a partial run.

Why a committed file rather than a second discovery at run time: a discovery would run under the
same options, conftests and plugins as the run it checks (or re-implement pytest's collection
rules), and would cost a collection per run. The file is read in a millisecond, and a check that
is removed or re-marked shows in review as a change of the inventory.

::

    python -m gonogo.inventory           # write inventory.toml beside the pytest configuration file
    python -m gonogo.inventory --check   # exit 1, naming the differences, when it is out of date

One entry per check function (its node id without parameters): its subject and its own phase
markers (module, class and function). A check whose phases come from its profile entries (no
phase marker of its own) has ``phases = []``: every run must collect it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from gonogo.checks import PHASES, static_phases, subject_of_item

FILE_NAME = "inventory.toml"
#: the largest inventory gonogo reads (a suite of thousands of checks is a few hundred KB)
MAX_BYTES = 5_000_000
COMMAND = "python -m gonogo.inventory"
HEADER = f"""\
# The checks of this suite and the phases each belongs to: what a run of those phases must judge.
# Written by `{COMMAND}`; regenerate it after adding, removing or re-marking a check and commit it
# with the change. A check whose phases come from its profile entries has phases = [] (every run).
"""


class InventoryError(Exception):
    """The inventory cannot be read: the message names the file (and the entry)."""


@dataclass(frozen=True, order=True)
class Entry:
    """One check function: its subject and its own phases (empty: every phase)."""

    subject: str
    phases: tuple[str, ...] = ()

    def in_run(self, phases: Iterable[str]) -> bool:
        """Must a run of ``phases`` judge this check?"""
        return not self.phases or any(p in self.phases for p in phases)


def function_id(nodeid: str) -> str:
    """A check's node id without its parameters: ``checks/test_tls.py::test_valid[api]`` -> ``...::test_valid``."""
    head, sep, name = nodeid.rpartition("::")
    return head + sep + name.split("[", 1)[0]


def entry_of(item: pytest.Item) -> Entry:
    """What the inventory says of a collected check."""
    return Entry(subject_of_item(item), tuple(static_phases(item)))


def path_for(config: pytest.Config) -> Path:
    """Where the inventory lives: beside the pytest configuration file (else in the rootdir)."""
    base = config.inipath.parent if config.inipath else Path(str(config.rootpath))
    return base / FILE_NAME


def load(path: Path) -> dict[str, Entry]:
    """The inventory at ``path``; InventoryError when it is missing or malformed."""
    if not path.is_file():
        raise InventoryError(f"no inventory at {path}: gonogo cannot tell which checks each phase must judge; "
                             f"write it with `{COMMAND}` and commit it")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InventoryError(f"{path}: larger than {MAX_BYTES} bytes: not an inventory; rewrite it with `{COMMAND}`")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InventoryError(f"{path}: cannot be read ({exc}); rewrite it with `{COMMAND}`") from None
    checks = data.get("checks")
    if not isinstance(checks, dict) or set(data) != {"checks"}:
        raise InventoryError(f"{path}: expected one table [checks]; rewrite it with `{COMMAND}`")
    entries: dict[str, Entry] = {}
    for name, value in checks.items():
        if not (isinstance(value, dict) and set(value) == {"subject", "phases"} and isinstance(value["subject"], str)
                and isinstance(value["phases"], list) and all(p in PHASES for p in value["phases"])):
            raise InventoryError(f"{path}: [checks] \"{name}\": expected {{ subject = \"...\", phases = [...] }} with "
                                 f"phases among {', '.join(PHASES)}; rewrite it with `{COMMAND}`")
        entries[name] = Entry(value["subject"], tuple(value["phases"]))
    return entries


def render(entries: Mapping[str, Entry]) -> str:
    """The file's text: sorted, one line per check (a diff shows each change on its own line)."""
    lines = [HEADER, "[checks]"]
    for name in sorted(entries):
        entry = entries[name]
        phases = ", ".join(f'"{p}"' for p in entry.phases)
        lines.append(f'"{_escape(name)}" = {{ subject = "{_escape(entry.subject)}", phases = [{phases}] }}')
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def unlisted(committed: Mapping[str, Entry], collected: Mapping[str, Entry]) -> list[str]:
    """Collected checks the inventory does not list, or lists otherwise: one line each (the inventory is stale)."""
    lines = [f"not in the inventory: {n} ({_show(collected[n])})" for n in sorted(set(collected) - set(committed))]
    lines += [f"changed: {n}: the inventory says {_show(committed[n])}, the check says {_show(collected[n])}"
              for n in sorted(set(collected) & set(committed)) if collected[n] != committed[n]]
    return lines


def differences(committed: Mapping[str, Entry], actual: Mapping[str, Entry]) -> list[str]:
    """What differs between the committed inventory and the whole suite, one line each."""
    gone = [f"in the inventory but not in the suite: {n}" for n in sorted(set(committed) - set(actual))]
    return unlisted(committed, actual) + gone


def _show(entry: Entry) -> str:
    return f"subject {entry.subject}, phases {', '.join(entry.phases) or 'every phase'}"


class Collector:
    """An in-process pytest plugin that keeps every collected check function."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}
        self.errors: list[str] = []
        self.config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid or report.fspath}: {str(report.longrepr).strip().splitlines()[-1:]}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if isinstance(item, pytest.Function):
                self.entries[function_id(item.nodeid)] = entry_of(item)


def collect(root: Path) -> tuple[dict[str, Entry], Path]:
    """Collect the suite in ``root`` as its configuration file says (no option, no PYTEST_ADDOPTS).

    Returns the check functions and the inventory's path; InventoryError when collection fails.
    """
    collector = Collector()
    saved = {k: os.environ.pop(k) for k in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS") if k in os.environ}
    cwd = os.getcwd()
    try:
        os.chdir(root)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            status = pytest.main(["--collect-only", "-q", "--no-gate", "-p", "no:cacheprovider"], plugins=[collector])
    finally:
        os.chdir(cwd)
        os.environ.update(saved)
    if collector.errors or status not in (0, 5) or collector.config is None:
        detail = "; ".join(collector.errors) or out.getvalue().strip()[-2000:]
        raise InventoryError(f"collection of the suite in {root} failed (exit {int(status)}): {detail}")
    return collector.entries, path_for(collector.config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write (or --check) the suite's inventory of checks.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed inventory is out of date")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the suite's folder (default: here)")
    options = parser.parse_args(argv)
    try:
        entries, path = collect(options.root.resolve())
        if options.check:
            found = differences(load(path), entries)
            for line in found:
                print(f"{path}: {line}", file=sys.stderr)
            if found:
                print(f"{path} is out of date: run `{COMMAND}` and commit it", file=sys.stderr)
                return 1
            print(f"{path}: up to date ({len(entries)} checks)")
            return 0
        old = load(path) if path.is_file() else {}
        path.write_text(render(entries), encoding="utf-8")
    except InventoryError as exc:
        print(f"gonogo inventory: {exc}", file=sys.stderr)
        return 4
    changes = differences(old, entries)
    print(f"{path}: {len(entries)} checks" + (f"; {len(changes)} change(s):" if changes else "; no change"))
    for line in changes:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
