"""``[[websocket]]``: websocket endpoints reached through the proxy, and the round trip they must answer.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.websocket`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from gonogo import served
from gonogo.model import Section
from gonogo.sections.patterns import regex


class WebsocketEndpoint(Section):
    """One websocket endpoint reached through the proxy: ``[[websocket]]``."""

    name: str = "websocket"
    #: ``wss://host[:port]/path`` (or ``ws://``); the connection goes to ``[environment] resolve``
    url: str
    #: sent as ``Origin`` (the application may check it against its allowed hosts)
    origin: str | None = None
    #: sent as the ``Cookie`` header (a session cookie: ``sessionid=...``)
    cookie: SecretStr | None = None
    #: more request headers (``Authorization = "Bearer ${WS_TOKEN}"``); their values are never shown
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    #: the message sent once upgraded: a text, or a table sent as JSON; absent: no round trip
    send: str | dict[str, Any] | None = None
    #: keys (nested tables reach inside) the answer, read as JSON, must hold with these values
    expect_json: dict[str, Any] = Field(default_factory=dict)
    #: a regular expression searched in the answer's text
    expect_pattern: Annotated[str | None, regex("{pattern!r} is not a valid regular expression ({error})")] = None
    #: the answer must come within this many seconds of sending
    answer_within_s: float = 5
    #: the connection, the TLS handshake and the upgrade answer, each bounded by this
    timeout_s: float = 5
    severity: Literal["blocker", "critical", "warning"] = "critical"

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"{value!r} is not a websocket URL: write ws://host/path or wss://host/path")
        return value

    @property
    def message(self) -> str | None:
        """The text sent for the round trip."""
        if self.send is None:
            return None
        return self.send if isinstance(self.send, str) else json.dumps(self.send, separators=(",", ":"))

    @property
    def expected(self) -> str:
        """What an answer must be, in words."""
        parts = []
        if self.expect_json:
            parts.append(f"JSON holding {json.dumps(self.expect_json, separators=(',', ':'))}")
        if self.expect_pattern:
            parts.append(f"text matching {self.expect_pattern!r}")
        return " and ".join(parts) or "any message"

    def answers(self, text: str) -> bool:
        """Does this message answer the one sent?"""
        if served.unproven(text, body=self.expect_pattern):
            return False
        if self.expect_json:
            try:
                return _holds(json.loads(text), self.expect_json)
            except ValueError:
                return False
        return True


def _holds(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _holds(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)
