"""Where the test command's time went: the slowest tests of the whole run, then the time per file and per folder.

``./run test`` has each folder's pytest write a JUnit file (``--junitxml``) and calls this at its end, pass or
fail: ``python tests/slowest.py reports/test-times/*.xml``. A test's time is pytest's total for it (setup, call
and teardown), so a session fixture's start-up (the sandbox's ``up``) counts in the first test that uses it.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

#: how many of the slowest tests and files are listed
SHOWN = 20


def cases(paths: list[Path]) -> list[tuple[str, str, float]]:
    """Every test case of the JUnit files: (folder, ``file::test`` id, seconds); unreadable files are skipped."""
    out = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            print(f"slowest: {path} skipped: {exc}", file=sys.stderr)
            continue
        for case in root.iter("testcase"):
            classname = case.get("classname", "")
            module = classname.rsplit(".", 1)[0] if classname.split(".")[-1][:1].isupper() else classname
            file = module.replace(".", "/") + ".py"
            out.append((path.stem, f"{file}::{case.get('name', '')}", float(case.get("time") or 0)))
    return out


def report(rows: list[tuple[str, str, float]]) -> str:
    """The slowest tests, the slowest files and each folder's total, as text."""
    lines = [f"slowest {SHOWN} tests of {len(rows)}:"]
    for _, test, seconds in sorted(rows, key=lambda r: -r[2])[:SHOWN]:
        lines.append(f"{seconds:8.1f}s  {test}")
    files: dict[str, float] = defaultdict(float)
    folders: dict[str, float] = defaultdict(float)
    for folder, test, seconds in rows:
        files[test.split("::", 1)[0]] += seconds
        folders[folder] += seconds
    lines.append(f"slowest {min(SHOWN, len(files))} files (the sum of their tests' times):")
    lines += [f"{seconds:8.1f}s  {file}" for file, seconds in sorted(files.items(), key=lambda f: -f[1])[:SHOWN]]
    lines.append("each folder (the sum of its tests' times; with -n 2 its wall time is less):")
    lines += [f"{seconds:8.1f}s  tests/{folder}" for folder, seconds in sorted(folders.items())]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    rows = cases([Path(a) for a in argv])
    if rows:
        print(report(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
