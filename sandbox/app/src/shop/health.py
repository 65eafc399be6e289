"""Health endpoints: liveness, readiness (database + Redis) and a detailed component view."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import faults
from .services import retry_stale_connection

TIMEOUT_SECONDS = 2.0
FAULT_REDIS_ERROR = "Timeout connecting to server"  # what the `health-body-unhealthy` fault reports

Component = dict[str, object]


def _measure(check: Callable[[], object]) -> tuple[Component, object]:
    """Run `check`; return ({"status", "latency_ms"[, "error"]}, its result or None)."""
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # any failure makes the component "down"
        component: Component = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        result = None
    else:
        component = {"status": "ok"}
    component["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return component, result


def check_database() -> None:
    """SELECT 1 on the default database (connect timeout 2 s)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        connection.close()
        raise


def check_redis() -> None:
    """PING Redis with 2 s connect and socket timeouts."""
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def check_worker() -> list[str]:
    """Ping the Celery workers over the broker; return the names that answered."""
    from config.celery import app

    replies = retry_stale_connection(lambda: app.control.ping(timeout=1.0, limit=1)) or []
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        raise RuntimeError("no Celery worker answered ping within 1 s")
    return workers


def check_channels() -> None:
    """Send a message through the channel layer to a fresh channel and read it back."""

    async def roundtrip() -> None:
        # A channel of its own, not a process-local one (`new_channel()`, with "!"): those share one
        # receive loop and lock with every websocket consumer of the process, and a fresh process whose
        # first consumers came and went left that loop stuck for every later check (TimeoutError).
        layer = get_channel_layer()
        channel = f"health.{uuid.uuid4().hex}"
        await layer.send(channel, {"type": "health.ping"})
        await layer.receive(channel)

    async def bounded() -> None:
        await asyncio.wait_for(roundtrip(), timeout=TIMEOUT_SECONDS)

    retry_stale_connection(async_to_sync(bounded))


def _public(component: Component, with_latency: bool) -> Component:
    return component if with_latency else {k: v for k, v in component.items() if k != "latency_ms"}


def _core_components(with_latency: bool) -> tuple[dict[str, Component], bool]:
    """Database and Redis as reported, and whether Redis is really up.

    Under the `health-body-unhealthy` fault Redis is reported down whatever its real state.
    """
    database, _ = _measure(check_database)
    redis_component, _ = _measure(check_redis)
    redis_up = redis_component["status"] == "ok"
    if faults.active("health-body-unhealthy"):
        redis_component = {"status": "down", "error": FAULT_REDIS_ERROR, "latency_ms": 2000.0}
    components = {
        "database": _public(database, with_latency),
        "redis": _public(redis_component, with_latency),
    }
    return components, redis_up


def _body(status: str, components: dict[str, Component]) -> dict[str, object]:
    return {
        "status": status,
        "release": settings.RELEASE,
        "version": settings.RELEASE_VERSION,
        "components": components,
    }


@login_not_required
@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """200 when the database and Redis answer, 503 naming the failing component otherwise."""
    components, _ = _core_components(with_latency=False)
    if faults.active("health-body-unhealthy"):
        return JsonResponse(_body("degraded", components))
    healthy = all(c["status"] == "ok" for c in components.values())
    return JsonResponse(_body("ok" if healthy else "unavailable", components), status=200 if healthy else 503)


@login_not_required
@never_cache
@require_safe
def detailed(request: HttpRequest) -> JsonResponse:
    """Every component with its latency; always 200, `"status": "degraded"` when any is down."""
    components, redis_up = _core_components(with_latency=True)
    if redis_up:
        worker, workers = _measure(check_worker)
        if workers:
            worker["workers"] = workers
        channels, _ = _measure(check_channels)
    else:
        worker = {"status": "down", "error": "broker (Redis) unavailable", "latency_ms": 0.0}
        channels = {"status": "down", "error": "channel layer (Redis) unavailable", "latency_ms": 0.0}
    components.update(worker=worker, channels=channels)
    healthy = all(c["status"] == "ok" for c in components.values())
    return JsonResponse(_body("ok" if healthy else "degraded", components))
