"""Middleware for the `slow-api` fault: delay every response except /health/live/ by 700 ms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

from . import faults

SLOW_API_DELAY_SECONDS = 0.7
UNDELAYED_PATHS = frozenset({"/health/live/"})


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
