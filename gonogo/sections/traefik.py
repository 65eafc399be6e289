"""``[traefik]``: the proxy's API, the routers the stack needs and the objects known to be broken.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.traefik`.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from gonogo.model import Section
from gonogo.sections.patterns import regex

#: how a route's key says one of its values is not a regular expression
_SAID = "'{pattern}' is not a regular expression: {error}"


class TraefikRoute(Section):
    """One router the stack needs (``[[traefik.routers]]``) and what proves a request through it reached its backend."""

    #: the router as Traefik's API names it, with its provider: ``shop-web@file``, ``shop@docker``
    name: str
    #: a host the router's rule must match (``Host(`shop.example.org`)``); end-to-end and redirect requests go to it
    #: (default: ``[environment] public_domain``)
    rule_host: str | None = None
    #: the whole rule, when it must be exactly this (as Traefik shows it)
    rule: str | None = None
    #: the path requested through the entrypoint (end to end, and for the redirect)
    path: str = "/"
    #: the entrypoints the router must be on (any order); unset: not checked
    entrypoints: list[str] | None = None
    #: the middlewares the router must use, in this order (``[]``: none); unset: not checked
    middlewares: list[str] | None = None
    #: whether the router must terminate TLS; unset: not checked
    tls: bool | None = None
    #: the service the router must use; unset: whichever it names (it must exist and be up anyway)
    service: str | None = None
    #: the backend server URLs its service must have (any order); unset: not checked
    servers: list[str] | None = None
    #: what proves the right backend answered: the status, headers (name -> regex) and a body regex
    expect_status: int = 200
    expect_headers: Annotated[dict[str, str], regex(_SAID)] = Field(default_factory=dict)
    expect_body: Annotated[str | None, regex(_SAID)] = None
    #: plain HTTP to this route must redirect permanently to HTTPS (default: ``[traefik] https_redirect``)
    https_redirect: bool | None = None
    #: a container of ``[docker] compose_project`` must declare this router in its labels
    labels: bool = False

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"'{value}' is not an absolute path: write it with a leading /")
        return value

    @property
    def provider(self) -> str | None:
        return self.name.partition("@")[2] or None

    @property
    def base_name(self) -> str:
        """The router's name without its provider (as labels write it)."""
        return self.name.partition("@")[0]

    def qualified(self, name: str) -> str:
        """A service or middleware name as the API lists it: with the router's provider when it has none."""
        return name if "@" in name or not self.provider else f"{name}@{self.provider}"


class KnownBroken(Section):
    """An object of the proxy known to be in error and accepted for good, with why (``[traefik] known_broken``)."""

    #: the router, service or middleware as the API names it, with its provider; ``*``, ``?`` and ``[...]`` are wildcards
    name: str
    reason: str

    @field_validator("name")
    @classmethod
    def _names_objects(cls, value: str) -> str:
        named = re.sub(r"\[[^]]*\]|[*?]", "", value.partition("@")[0])
        if not named:
            raise ValueError(f"'{value}' matches every object (of a provider): name the objects it accepts")
        return value

    @field_validator("reason")
    @classmethod
    def _says_why(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why this object may stay broken")
        return value

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name, self.name)


class TraefikSection(Section):
    """Traefik in front of the stack: ``[traefik]``."""

    #: the API's base URL (``api.insecure`` on a loopback entrypoint, or a secured one: credentials in the URL)
    api: str
    #: also ask ``{api}/ping`` (false when ping is off or on another entrypoint)
    ping: bool = True
    routers: list[TraefikRoute] = Field(default_factory=list)
    #: the ports of the HTTPS and plain HTTP entrypoints, as clients reach them
    https_port: int = 443
    http_port: int = 80
    #: plain HTTP must redirect permanently to HTTPS, same host and path (each router may say otherwise)
    https_redirect: bool = False
    timeout_s: float = 5
    #: objects of the proxy in error or warning that are accepted, each with its reason (not the routers above)
    known_broken: list[KnownBroken] = Field(default_factory=list)

    @field_validator("api")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _router_redirects(self) -> TraefikSection:
        """A router that does not say whether it redirects follows ``https_redirect``."""
        routers = [r if r.https_redirect is not None else r.model_copy(update={"https_redirect": self.https_redirect})
                   for r in self.routers]
        return self.model_copy(update={"routers": routers}) if routers != self.routers else self

