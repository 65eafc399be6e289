"""The gonogo sandbox: a small but real "boutique" deployment that gonogo verifies and breaks on purpose.

PostgreSQL and Redis (Debian's packages) on loopback ports, a private Docker Engine running the
app's web / worker / beat / migrations containers and its nginx frontend (described by
``sandbox/compose.yaml``), and Traefik in front with a generated CA. ``python -m sandbox --help`` lists the lifecycle commands; see
``sandbox/README.md`` and ``sandbox/CONTRACT.md``.

This package depends on nothing in gonogo's checks.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# the application half (Dockerfile, requirements.txt, src/, releases/); overridable for app development
APP_DIR = Path(os.environ.get("SANDBOX_APP_DIR") or PACKAGE_DIR / "app").resolve()
COMPOSE_FILE = PACKAGE_DIR / "compose.yaml"
#: staging beside prod on the same engine (`up --with-staging`): its own Compose project, file and domain
STAGING_COMPOSE_FILE = PACKAGE_DIR / "compose.staging.yaml"
TRAEFIK_TEMPLATES = PACKAGE_DIR / "traefik"

PROJECT = "boutique-sandbox"
APP_HOST = "shop.localhost"
STAGING_PROJECT = "boutique-staging"
STAGING_HOST = "staging.shop.localhost"
BASE_IMAGE = "gonogo-sandbox/base:bookworm"
IMAGE_REPOS = {"web": "boutique/web", "worker": "boutique/worker", "migrations": "boutique/migrations",
               "frontend": "boutique/frontend", "beat": "boutique/beat"}
QUARANTINE_REPO = "boutique-quarantine"
SERVICES = ("migrations", "worker", "beat", "web", "frontend")
LONG_RUNNING = ("worker", "beat", "web", "frontend")


class SandboxError(Exception):
    """An expected failure: printed as one clear line, no traceback."""


class MissingPrerequisite(SandboxError):
    pass


_T0 = time.monotonic()
_quiet = False


def last_line(text: str | bytes | None) -> str:
    """The last non-blank line of some output (for one-line error messages)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def set_quiet(value: bool) -> None:
    global _quiet
    _quiet = value


def progress(component: str, message: str) -> None:
    """One readable progress line: ``[  3.2s] postgres: started on 127.0.0.1:25432 (pid 123)``."""
    if _quiet:
        return
    elapsed = time.monotonic() - _T0
    print(f"[{elapsed:6.1f}s] {component}: {message}", file=sys.stderr, flush=True)
