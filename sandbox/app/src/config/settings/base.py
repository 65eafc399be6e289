"""Settings shared by every environment; everything deployment-specific comes from env vars."""

from __future__ import annotations

import importlib.util
import os
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# WhiteNoise serves static files with a synchronous iterator; under ASGI Django warns on every
# static response. The file is read in a thread, which is fine for this app's few static files.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators", category=Warning
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str:
    """Return the environment variable `name`, or `default`; fail when neither exists."""
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"environment variable {name} is required")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    """Parse a boolean environment variable ("1", "true", "yes", "on" are true)."""
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Parse a comma-separated environment variable into a list without blanks."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, object]:
    """Translate `postgresql://user:pw@host:port/name` into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a postgresql:// URL, got {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # ASGI: no persistent connections; short connect timeout keeps health checks bounded.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"connect_timeout": 2},
    }


SECRET_KEY = env("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

ENVIRONMENT = env("ENVIRONMENT", "development")
RELEASE = env("RELEASE", "dev")
RELEASE_VERSION = env("RELEASE_VERSION", "0.0.0")
FAULTS_DIR = env("FAULTS_DIR", "")
BACKUP_DIR = env("BACKUP_DIR", str(BASE_DIR.parent / "backups"))
BACKUP_RETENTION_DAYS = int(env("BACKUP_RETENTION_DAYS", "7"))
PG_DUMP = env("PG_DUMP", "pg_dump")
REDIS_URL = env("REDIS_URL")
# the payment provider's webhook signing secret; empty: every webhook event is refused
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "")

# Apps shipped only by some releases (release 1.1.0 adds `promotions`).
OPTIONAL_APPS = [name for name in ("promotions",) if importlib.util.find_spec(name) is not None]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "shop",
    *OPTIONAL_APPS,
]

MIDDLEWARE = [
    "shop.middleware.flapping_fault",
    "shop.middleware.slow_api_fault",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

_context_processors = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "shop.context_processors.site",
]
if "promotions" in OPTIONAL_APPS:
    _context_processors.append("promotions.context_processors.promotions")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": _context_processors},
    }
]

DATABASES = {"default": database_from_url(env("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # Consumers wait in BZPOPMIN for up to 5 s (channels_redis' brpop_timeout); redis-py's
            # default socket timeout is also 5 s, so an idle websocket would die with a
            # TimeoutError. Read timeout above the blocking wait, connect timeout short.
            # A connection pooled before a Redis restart is dead: retry on a fresh one rather than
            # answer the next websocket with a 500 (redis-py's pooled connections retry 0 times).
            "hosts": [{
                "address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2,
                "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
                "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            }],
            "prefix": f"boutique-{ENVIRONMENT}",
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "shop:product-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env("STATIC_ROOT", str(BASE_DIR.parent / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", str(BASE_DIR.parent / "media"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"allow_overwrite": True},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_HOST = env("SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(env("SMTP_PORT", "1025"))
EMAIL_HOST_USER = env("SMTP_USER", "boutique")
EMAIL_HOST_PASSWORD = env("SMTP_PASSWORD", "")
DEFAULT_FROM_EMAIL = f"Boutique <shop@{ENVIRONMENT}.boutique.invalid>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: Redis as broker and result store; beat runs as its own service (config.celery.HeartbeatScheduler),
# waking at least every 5 s so its heartbeat stays fresh.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = timedelta(hours=1)
# Nothing waits on task results (the PDF view polls the database), so by default store none:
# that also keeps the web process independent of the result store when Redis blips.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BEAT_SCHEDULE_FILENAME = env("CELERY_BEAT_SCHEDULE_FILENAME", "/tmp/celerybeat-schedule")
CELERY_BEAT_MAX_LOOP_INTERVAL = 5
CELERY_BEAT_SCHEDULE = {
    "scheduled-backup": {"task": "shop.tasks.scheduled_backup", "schedule": timedelta(hours=6)},
    "daily-report": {"task": "shop.tasks.daily_report", "schedule": crontab(hour=0, minute=5)},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(name)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own default config would mail 500s to admins; here they go to stderr.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
