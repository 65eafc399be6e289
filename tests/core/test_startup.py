"""Start-up: loading the plugin and a profile imports no client library of a subject (each is imported
when a probe first talks to its component), so a run that checks HTTP alone does not pay for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("psycopg", "dns", "docker", "paramiko", "redis", "celery", "playwright")


def test_the_plugin_and_the_profile_import_no_subject_client() -> None:
    code = ("import sys, gonogo.plugin, gonogo.profile; "
            f"print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
