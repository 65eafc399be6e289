"""The README's runbook coverage table says what the checks' markers say (against the sandbox profile,
whose [[health]] entries carry runbook steps of their own)."""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- coverage:start -->\n(.*?)\n<!-- coverage:end -->", re.S)


def test_readme_coverage_table_is_current(sandbox: "Sandbox") -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "gonogo.coverage", "--env=sandbox"], cwd=REPO, env=sandbox.env,
        capture_output=True, text=True, timeout=120, check=True, stdin=subprocess.DEVNULL,
    ).stdout.strip()
    found = BLOCK.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no <!-- coverage:start --> ... <!-- coverage:end --> block"
    written = found.group(1).strip()
    assert written == generated, (
        "README.md's coverage table is out of date; regenerate it with "
        "`SANDBOX_STATE_DIR=<a running sandbox> .venv/bin/python -m gonogo.coverage --env=sandbox`:\n"
        + "\n".join(difflib.unified_diff(written.splitlines(), generated.splitlines(), "README", "checks", lineterm=""))
    )
    assert "`health.endpoint_healthy`" in generated  # the table really came from a collection
