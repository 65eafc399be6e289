"""Websockets: the upgrade through the proxy answers 101, and the endpoint answers a message in time.

Runbook step: SMK-10 (the websocket upgrade answers 101 through the proxy). Each ``[[websocket]]``
entry is one upgrade, with the entry's origin, cookie and headers (the application's
authentication), through ``[environment] resolve`` and its CA: the raw answer is judged (status
101, ``Upgrade``, ``Connection`` and the ``Sec-WebSocket-Accept`` of the key sent), so a proxy that
strips the upgrade and lets the application answer 200 or a redirect is caught. When the entry
names a message (``send``), the round trip is a second check, dependent on the first. Nothing is
written: the message is one the application only answers (a ping).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gonogo import dependent, judge
from gonogo.memo import Memo
from gonogo.probes.websocket import WebsocketFact
from gonogo.sections.websocket import WebsocketEndpoint
from gonogo.stack import Stack

pytestmark = [pytest.mark.postdeploy, pytest.mark.runbook("SMK-10")]


@pytest.fixture(scope="session")
def exchange(stack: Stack) -> Callable[[WebsocketEndpoint], WebsocketFact]:
    """The upgrade (and round trip) of each endpoint, done once per session."""
    seen: Memo[str, WebsocketFact] = Memo()

    def run(endpoint: WebsocketEndpoint) -> WebsocketFact:
        return seen.get(endpoint.name, lambda: stack.websocket.exchange(endpoint))

    return run


def _where(endpoint: WebsocketEndpoint) -> str:
    return f"{endpoint.url} (the proxy's websocket route and the application's websocket server)"


@pytest.mark.each("websocket", "endpoint")
def test_upgrades(endpoint: WebsocketEndpoint, exchange: Callable[[WebsocketEndpoint], WebsocketFact]) -> None:
    """The websocket upgrade through the proxy answers 101 with the right Sec-WebSocket-Accept."""
    fact = exchange(endpoint)
    judge(f"{endpoint.name} upgrade", fact.upgraded,
          expected="101 Switching Protocols, Upgrade: websocket and the Sec-WebSocket-Accept of the key sent",
          actual=fact.handshake_text, where=_where(endpoint), fact=fact)


def _sends(endpoint: WebsocketEndpoint) -> bool:
    return endpoint.send is not None


@pytest.mark.each("websocket", "endpoint", where=_sends, optional=True, what="send")
def test_round_trip(endpoint: WebsocketEndpoint, exchange: Callable[[WebsocketEndpoint], WebsocketFact]) -> None:
    """Once upgraded, the endpoint answers the profile's message within its deadline (answer_within_s)."""
    fact = exchange(endpoint)
    if not fact.upgraded:
        dependent(f"websocket.upgrades[{endpoint.name}]", f"no websocket to send on ({fact.handshake_text})")
    judge(f"{endpoint.name} round trip", fact.answer is not None,
          expected=f"{endpoint.expected} within {endpoint.answer_within_s:g} s of sending {fact.sent}",
          actual=fact.round_trip_text, where=_where(endpoint), fact=fact)
