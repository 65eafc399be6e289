"""Webhooks probe: events the endpoint must refuse (unsigned, signed with a wrong secret); the ``[[webhook]]`` table.

A webhook endpoint (a payment provider's events) must verify each event's signature. The probe
sends it events that carry no valid signature: one without the signature header, and one signed
the scheme's way with a random secret made for this one request (never the endpoint's: gonogo never
reads or uses it, so it can never send a genuine event). Such an event changes nothing in an
application that verifies; one that does not verify is exactly what the checks exist to catch.
Requests go through ``stack.http``'s resolve map and CA (:func:`gonogo.probes.http.fetch`), bounded
by ``timeout_s``; no answer is a fact.

Signature schemes are small classes in :data:`SCHEMES` (``stripe`` today); another provider's
scheme (GitHub's ``X-Hub-Signature-256``, Svix...) is one more entry there and in ``scheme``'s values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from gonogo.model import Section
from gonogo.probes.http import HttpFact, HttpProbe, fetch
from gonogo.secrets import masker

#: an inert event: a type no application handles, an id that names gonogo
DEFAULT_EVENT = json.dumps({"id": "evt_gonogo_probe", "object": "event", "type": "gonogo.signature_probe",
                            "livemode": False, "data": {"object": {}}})

Attempt = Literal["unsigned", "wrong-signature"]


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


@dataclass(frozen=True)
class StripeScheme:
    """Stripe's: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""

    header: str = "Stripe-Signature"

    def sign(self, secret: bytes, body: bytes, timestamp: int) -> str:
        digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={digest}"


SCHEMES: Mapping[str, StripeScheme] = {"stripe": StripeScheme()}


@dataclass(frozen=True)
class WebhookFact:
    """What the endpoint answered to one event that carried no valid signature."""

    name: str
    attempt: Attempt
    #: what was wrong with the event, in words
    sent_as: str
    sent_headers: Mapping[str, str]
    response: HttpFact

    @property
    def answered(self) -> bool:
        return self.response.answered

    @property
    def status(self) -> int | None:
        return self.response.status

    @property
    def status_text(self) -> str:
        """The status and what the body says ('400: {"error": ...}'), or what happened instead."""
        if not self.answered:
            return self.response.status_text
        body = " ".join(self.response.body.split())[:200]
        return masker.mask(f"{self.response.status}" + (f": {body}" if body else ""))

    @property
    def evidence_name(self) -> str:
        return masker.mask(f"webhook {self.name}: {self.attempt} event")

    def evidence(self) -> str:
        sent = [f"sent: an event {self.sent_as}", *(f"{k}: {v}" for k, v in self.sent_headers.items()), ""]
        return masker.mask("\n".join(sent) + "\n" + self.response.evidence())

    def __repr__(self) -> str:
        return masker.mask(f"<webhook {self.name} {self.attempt}: {self.status_text}>")


@dataclass(frozen=True)
class WebhookProbe:
    """Sends the ``[[webhook]]`` endpoints events they must refuse (``stack.webhooks``), through ``stack.http``."""

    http: HttpProbe = field(default_factory=HttpProbe)

    def send(self, endpoint: WebhookEndpoint, attempt: Attempt) -> WebhookFact:
        """One event without a valid signature: ``unsigned``, or ``wrong-signature`` (a random secret); never raises."""
        scheme = SCHEMES[endpoint.scheme]
        body = endpoint.body.encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if attempt == "unsigned":
            sent_as = f"without a {scheme.header} header"
        else:
            headers[scheme.header] = scheme.sign(secrets.token_bytes(32), body, int(time.time()))
            sent_as = f"signed with a random secret, not the endpoint's ({scheme.header}, current timestamp)"
        response = fetch(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s, resolve=self.http.resolve,
                         ca_file=self.http.ca_file, headers=headers, body=body)
        return WebhookFact(endpoint.name, attempt, sent_as, headers, response)
