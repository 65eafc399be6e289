"""Webhooks probe: events the endpoint must refuse (unsigned, signed with a wrong secret)
(``[[webhook]]``: :mod:`gonogo.sections.webhooks`).

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
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gonogo.fact import Observed
from gonogo.probes.http import HttpFact, HttpProbe, fetch
from gonogo.secrets import masker
from gonogo.sections.webhooks import WebhookEndpoint

if TYPE_CHECKING:
    from gonogo.stack import Stack


Attempt = Literal["unsigned", "wrong-signature"]


@dataclass(frozen=True)
class StripeScheme:
    """Stripe's: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""

    header: str = "Stripe-Signature"

    def sign(self, secret: bytes, body: bytes, timestamp: int) -> str:
        digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={digest}"


SCHEMES: Mapping[str, StripeScheme] = {"stripe": StripeScheme()}


class WebhookFact(Observed):
    """What the endpoint answered to one event that carried no valid signature."""

    EVIDENCE_NAME = "webhook {name}: {attempt} event"

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

    def evidence(self) -> str:
        sent = [f"sent: an event {self.sent_as}", *(f"{k}: {v}" for k, v in self.sent_headers.items()), ""]
        return masker.mask("\n".join(sent) + "\n" + self.response.evidence())

    def one_line(self) -> str:
        return f"<webhook {self.name} {self.attempt}: {self.status_text}>"


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


def from_stack(stack: Stack) -> WebhookProbe:
    """``stack.webhooks``: events without a valid signature for the ``[[webhook]]`` endpoints, through
    ``stack.http``."""
    stack.section("webhook")
    return WebhookProbe(stack.http)
