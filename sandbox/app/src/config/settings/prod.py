"""Production settings: HTTPS terminated by Traefik, which sets X-Forwarded-Proto."""

from pathlib import Path

from .base import *  # noqa: F403
from .base import FAULTS_DIR

# DEBUG comes from the env file (base.py, default False): a DEBUG=True left there is a real release-night fault.

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
# Plain-HTTP container health checks and the CSRF bootstrap endpoint must not redirect.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^api/v1/auth/csrf/$"]
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Lax"

# Sandbox fault `deploy-check-fails` (the flag file $FAULTS_DIR/deploy-check-fails): HSTS left off, a
# real release-night slip. Read once, when the settings are imported: a process started while the
# flag is set (`manage.py check --deploy`) sees it; the running server keeps the settings it has.
if FAULTS_DIR and (Path(FAULTS_DIR) / "deploy-check-fails").exists():
    SECURE_HSTS_SECONDS = 0

# Sandbox fault `scheduled-backup-off` (the flag file $FAULTS_DIR/scheduled-backup-off, read when the settings
# are imported; the fault restarts beat, which then runs without it): the backup task
# has left the beat schedule, so no backup is taken any more.
if FAULTS_DIR and (Path(FAULTS_DIR) / "scheduled-backup-off").exists():
    CELERY_BEAT_SCHEDULE = {k: v for k, v in CELERY_BEAT_SCHEDULE.items() if k != "scheduled-backup"}  # noqa: F405
