"""Middleware for two fault flags: `flapping` (every fifth request answers 502 Bad Gateway) and
`slow-api` (every response delayed by 700 ms). Neither touches /health/live/, the liveness path that
Traefik's and Docker's health checks ask: the server stays in Traefik's load balancer."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from . import faults

logger = logging.getLogger(__name__)

SLOW_API_DELAY_SECONDS = 0.7
UNDELAYED_PATHS = frozenset({"/health/live/"})
#: under `flapping`, the 5th, 10th, 15th... request since the flag appeared answers 502
FLAPPING_EVERY = 5
UNCOUNTED_PATHS = frozenset({"/health/live/"})


def _should_delay(request: HttpRequest) -> bool:
    return request.path not in UNDELAYED_PATHS and faults.active("slow-api")


@sync_and_async_middleware
def slow_api_fault(get_response: Callable) -> Callable:
    """Sleep before handling the request while the `slow-api` fault flag exists."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> Awaitable[HttpResponse]:
            if _should_delay(request):
                await asyncio.sleep(SLOW_API_DELAY_SECONDS)
            return await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        if _should_delay(request):
            time.sleep(SLOW_API_DELAY_SECONDS)
        return get_response(request)

    return middleware


class FlappingCounter:
    """Counts this process's requests while the `flapping` flag exists; a new flag (another mtime)
    starts the count again, so the 5th, 10th... request after `fault flapping` fails, whatever came before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flag: int | None = None
        self._count = 0

    def fails(self, request: HttpRequest) -> int:
        """The request's number when it must fail, else 0."""
        if request.path in UNCOUNTED_PATHS or not settings.FAULTS_DIR:
            return 0
        try:
            flag = (Path(settings.FAULTS_DIR) / "flapping").stat().st_mtime_ns
        except OSError:
            return 0
        with self._lock:
            if flag != self._flag:
                self._flag, self._count = flag, 0
            self._count += 1
            return self._count if self._count % FLAPPING_EVERY == 0 else 0


def _bad_gateway(request: HttpRequest, number: int) -> HttpResponse:
    logger.warning("flapping fault: request #%d (%s %s) answered 502", number, request.method, request.path)
    response = HttpResponse("502 Bad Gateway\n", status=502, content_type="text/plain")
    # logged above as the WARNING it is: Django would log any 5xx as an ERROR (django.request), and a
    # healthy web log has no ERROR lines once the fault is healed
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@sync_and_async_middleware
def flapping_fault(get_response: Callable) -> Callable:
    """While the `flapping` fault flag exists, answer every fifth request 502 Bad Gateway (per process)."""
    counter = FlappingCounter()
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> Awaitable[HttpResponse]:
            number = counter.fails(request)
            if number:
                return _bad_gateway(request, number)
            return await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        number = counter.fails(request)
        if number:
            return _bad_gateway(request, number)
        return get_response(request)

    return middleware
