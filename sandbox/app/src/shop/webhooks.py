"""The payments webhook (`POST /api/v1/payments/webhook/`): accepts only genuinely signed events.

The payment provider signs each event (see :mod:`shop.signatures`); an unsigned, wrongly signed or
stale event is refused with 400 and nothing happens. A genuine event is acknowledged and logged:
the sandbox takes no payment from it (no database write).
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import faults, signatures

logger = logging.getLogger(__name__)


@csrf_exempt  # the provider has no CSRF token: the signature is what authenticates it
@login_not_required
@require_POST
def payments_webhook(request: HttpRequest) -> JsonResponse:
    """Verify the event's signature, then acknowledge it."""
    if faults.active("webhook-unverified"):  # sandbox fault: verification skipped, anything accepted
        return JsonResponse({"received": True})
    why = signatures.problem(request.headers.get(signatures.HEADER), request.body,
                             settings.STRIPE_WEBHOOK_SECRET, time.time())
    if why:
        logger.warning("payments webhook refused: %s", why)
        return JsonResponse({"error": f"signature verification failed: {why}"}, status=400)
    try:
        event = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "the event is not JSON"}, status=400)
    if not isinstance(event, dict):
        return JsonResponse({"error": "the event is not a JSON object"}, status=400)
    logger.info("payments webhook: event %s (%s) received", event.get("id"), event.get("type"))
    return JsonResponse({"received": True})
