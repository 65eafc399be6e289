"""``[[webhook]]``: webhook endpoints that must refuse events without a valid signature, and their secrets.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.webhooks`.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from gonogo.model import Section

#: an inert event: a type no application handles, an id that names gonogo
DEFAULT_EVENT = json.dumps({"id": "evt_gonogo_probe", "object": "event", "type": "gonogo.signature_probe",
                            "livemode": False, "data": {"object": {}}})


class WebhookEndpoint(Section):
    """One webhook endpoint of the stack and the secrets it verifies events with: ``[[webhook]]``."""

    name: str
    #: the endpoint as the provider calls it, through the proxy
    url: str
    method: Literal["POST", "PUT"] = "POST"
    #: how the provider signs its events: ``stripe`` (``Stripe-Signature: t=...,v1=<HMAC-SHA256>``)
    scheme: Literal["stripe"] = "stripe"
    #: the env file's variables that hold the endpoint's signing secrets: each must be set, not empty, not a
    #: placeholder (the key is not named "secrets": a key that says secret masks its values everywhere)
    variables: list[str] = Field(default_factory=list)
    #: the statuses that count as a refusal (a 404 is no refusal: the route is missing)
    rejects_with: list[int] = Field(default_factory=lambda: [400, 401, 403])
    #: the event sent (JSON); it carries no valid signature
    body: str = DEFAULT_EVENT
    timeout_s: float = 5
    severity: Literal["blocker", "critical", "warning"] = "blocker"
