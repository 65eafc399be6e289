"""The websocket and webhooks probes against the sandbox's real edge: Traefik in front of the shop's
Channels consumer (its origin validator included) and of its payments webhook (its real verifier, its
real secret from the env file): what the probes see healthy, and what they see under ws-broken."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonogo.probes.http import HttpProbe
from gonogo.probes.webhooks import SCHEMES, WebhookProbe
from gonogo.sections.webhooks import DEFAULT_EVENT, WebhookEndpoint
from gonogo.probes.websocket import WebsocketProbe
from gonogo.sections.websocket import WebsocketEndpoint

if TYPE_CHECKING:
    from conftest import Sandbox


def _websocket(sb: "Sandbox", **keys: Any) -> Any:
    port = sb.values["SANDBOX_HTTPS_PORT"]
    probe = WebsocketProbe(resolve={"shop.localhost": "127.0.0.1"}, ca_file=Path(sb.values["SANDBOX_CA_FILE"]))
    return probe.exchange(WebsocketEndpoint(name="orders", url=f"wss://shop.localhost:{port}/ws/orders/",
                                            send={"type": "ping"}, expect_json={"type": "pong"}, **keys))


def test_the_orders_consumer_answers_a_ping_through_traefik(sandbox: "Sandbox") -> None:
    origin = f"https://shop.localhost:{sandbox.values['SANDBOX_HTTPS_PORT']}"

    for fact in (_websocket(sandbox, origin=origin), _websocket(sandbox)):  # a browser's origin, and no origin
        assert fact.upgraded and fact.accept_ok, fact
        assert fact.answer == '{"type": "pong"}' and fact.answer_ms < 1000, fact


def test_the_origin_validator_refuses_a_foreign_origin(sandbox: "Sandbox") -> None:
    fact = _websocket(sandbox, origin="https://evil.example")

    assert fact.status == 403 and fact.handshake_text == "403 Forbidden" and fact.sent is None, fact


def test_ws_broken_is_seen_as_no_upgrade(sandbox: "Sandbox", faults: Any) -> None:
    faults(("ws-broken",))

    fact = _websocket(sandbox)

    assert fact.answered and fact.status != 101 and not fact.upgraded, fact
    assert fact.sent is None and fact.handshake_text.startswith(str(fact.status))


def test_the_orders_consumer_survives_a_redis_restart(sandbox: "Sandbox") -> None:
    """A healed redis-down leaves a working edge: the channel layer's connections pooled before the restart
    are dead, and the next websocket must not pay for them (a 500 or a hang made later fault rows flaky)."""
    assert _websocket(sandbox).upgraded  # a pooled connection to the Redis about to restart
    sandbox.cli("fault", "redis-down")
    sandbox.cli("heal", "redis-down")

    for _ in range(3):  # the pool holds more than one connection
        fact = _websocket(sandbox)
        assert fact.upgraded and fact.answer == '{"type": "pong"}', fact


def _webhook(sb: "Sandbox") -> tuple[WebhookEndpoint, WebhookProbe]:
    url = f"https://shop.localhost:{sb.values['SANDBOX_HTTPS_PORT']}/api/v1/payments/webhook/"
    http = HttpProbe(resolve={"shop.localhost": "127.0.0.1"}, ca_file=Path(sb.values["SANDBOX_CA_FILE"]))
    return WebhookEndpoint(name="payments", url=url), WebhookProbe(http)


def test_the_payments_webhook_refuses_what_the_probe_sends(sandbox: "Sandbox") -> None:
    endpoint, probe = _webhook(sandbox)

    unsigned, wrong = probe.send(endpoint, "unsigned"), probe.send(endpoint, "wrong-signature")

    assert unsigned.status_text == '400: {"error": "signature verification failed: no Stripe-Signature header"}'
    assert wrong.status_text == '400: {"error": "signature verification failed: no signature matches"}'


def test_the_payments_webhook_accepts_a_genuine_event_and_refuses_a_stale_one(sandbox: "Sandbox") -> None:
    """What the gate never sends, this test does: an event signed with the shop's own secret (the endpoint
    works; the refusals above are its verification's), and the same event five minutes late."""
    secret, body = sandbox.values["STRIPE_WEBHOOK_SECRET"].encode(), DEFAULT_EVENT.encode()
    now = int(time.time())

    def post(timestamp: int) -> Any:
        signature = SCHEMES["stripe"].sign(secret, body, timestamp)
        return sandbox.https("POST", "/api/v1/payments/webhook/", body=body,
                             headers={"Content-Type": "application/json", "Stripe-Signature": signature})

    genuine, stale = post(now), post(now - 301)
    assert (genuine.status, genuine.json()) == (200, {"received": True})
    assert stale.status == 400 and "timestamp outside the 300 s tolerance" in stale.text
