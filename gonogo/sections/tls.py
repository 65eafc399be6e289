"""``[tls]``: the endpoints whose certificates are checked.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.tls`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from gonogo.model import Section


class TlsEndpoint(Section):
    """One endpoint whose certificate is checked, written ``"host:port"`` (port 443 when left out)."""

    host: str
    port: int = 443

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"


class TlsSection(Section):
    """The certificates the stack serves: ``[tls]``."""

    #: a certificate must stay valid longer than this many days
    min_days: float = 14
    #: endpoints ``"host:port"`` (default: the public domain on 443)
    endpoints: list[TlsEndpoint] = Field(default_factory=list)
    timeout_s: float = 5

    @field_validator("endpoints", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return [parse_endpoint(v) if isinstance(v, str) else v for v in value] if isinstance(value, list) else value


def parse_endpoint(text: str) -> dict[str, Any]:
    """``"shop.example.org:8443"`` -> host and port; ``"[::1]:443"`` for an IPv6 address."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or (host.count(":") and not host.startswith("[")):
        return {"host": text.strip().strip("[]")}
    return {"host": host.strip("[]"), "port": int(port)}
