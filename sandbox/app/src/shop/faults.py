"""Fault flags for the sandbox: a file `$FAULTS_DIR/<name>` switches a fault on, checked per call."""

from pathlib import Path

from django.conf import settings

KNOWN_FAULTS = (
    "health-body-unhealthy",
    "slow-api",
    "flapping",
    "sale-broken",
    "invoice-broken",
    "credit-broken",
    "log-errors",
    "webhook-unverified",
)


def active(name: str) -> bool:
    """Return True when the fault flag file `name` exists in FAULTS_DIR (no restart needed)."""
    directory = settings.FAULTS_DIR
    return bool(directory) and (Path(directory) / name).exists()


def active_faults() -> list[str]:
    """Names of the known faults that are currently switched on."""
    return [name for name in KNOWN_FAULTS if active(name)]
