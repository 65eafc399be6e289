"""Production settings: HTTPS terminated by Traefik, which sets X-Forwarded-Proto."""

from .base import *  # noqa: F403

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
