"""The app's continuous check on a CI host (no app dependencies needed): `python3 sandbox/app/ci_check.py`.

Every Python file of the app and of its release overlays compiles (in memory: nothing is written),
and requirements.txt pins every requirement to one version (`==`), so two builds resolve alike.
Exit 0 and a last line `ci-check: ok (...)`, else exit 1 and one line per problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\[\],-]*==[^=\s;]+(\s*;.*)?$")


def syntax_problems() -> tuple[int, list[str]]:
    files = sorted([*(APP / "src").rglob("*.py"), *(APP / "releases").rglob("*.py")])
    problems = []
    for path in files:
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path.relative_to(APP)}: {exc}")
    return len(files), problems


def unpinned() -> tuple[int, list[str]]:
    lines = [line.split("#", 1)[0].strip() for line in (APP / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line]
    return len(requirements), [f"requirements.txt: not pinned with ==: {r}" for r in requirements if not PINNED.match(r)]


def main() -> int:
    files, problems = syntax_problems()
    pins, loose = unpinned()
    for problem in problems + loose:
        print(problem)
    if problems or loose:
        print(f"ci-check: failed ({len(problems) + len(loose)} problem(s))")
        return 1
    print(f"ci-check: ok ({files} Python files compile, {pins} requirements pinned)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
