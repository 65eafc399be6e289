"""Stripe-style webhook signatures, standard library only (the gonogo probe tests run this very code).

The sender signs ``f"{t}.{body}"`` with HMAC-SHA256 and the shared secret and sends
``Stripe-Signature: t=<unix seconds>,v1=<hex digest>`` (several ``v1`` while a secret is rotated).
An event is genuine when one ``v1`` matches (constant-time compare) and ``t`` is within the
tolerance window of now: a captured event cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` value of ``body`` sent at ``timestamp`` (what the payment provider sends)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def problem(header: str | None, body: bytes, secret: str, now: float,
            tolerance: int = TOLERANCE_SECONDS) -> str | None:
    """Why the event is not genuine, or None when it is."""
    if not secret:
        return "no webhook secret is configured"
    if not header:
        return f"no {HEADER} header"
    timestamp, signatures = _parse(header)
    if timestamp is None or not signatures:
        return f"malformed {HEADER} header"
    if abs(now - timestamp) > tolerance:
        return f"timestamp outside the {tolerance} s tolerance"
    expected = _digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        return "no signature matches"
    return None


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures
