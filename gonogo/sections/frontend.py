"""``[frontend]``: the pages the frontend serves, their assets and its server's configuration test.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.frontend`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from gonogo import hosts
from gonogo.model import Section
from gonogo.sections.patterns import regex

#: how a page's key says one of its values is not a regular expression
_SAID = "not a regular expression: {pattern!r}: {error}"


class FrontendPage(Section):
    """One page of ``[frontend] pages``: fetched through the proxy; its assets fetched after it."""

    name: str
    url: str
    status: int = 200
    #: response headers that prove who served the page: header name -> a regular expression searched in its value
    headers: Annotated[dict[str, str], regex(_SAID)] = Field(default_factory=dict)
    #: a regular expression the body must contain: a marker only the frontend's page carries
    body: Annotated[str | None, regex(_SAID)] = None
    #: each request (the page, every asset): connect and read, each within this
    timeout_s: float = Field(default=5, gt=0)


class FrontendSection(Section):
    """The frontend: the pages it serves and, optionally, the Compose service whose server configuration is tested."""

    #: the pages to fetch through the proxy, each with the assets it references
    pages: list[FrontendPage] = Field(min_length=1)
    #: the Compose service running the frontend's web server: ``config_test`` runs in its container ([docker] needed)
    service: str | None = None
    #: the server's own configuration test, run in that container (argv list, or a string split like a shell would)
    config_test: list[str] | str = Field(default_factory=lambda: ["nginx", "-t"])
    config_timeout_s: float = Field(default=30, gt=0)
    #: at most this many assets per page are fetched; the others are listed as not checked
    max_assets: int = Field(default=100, ge=1)
    #: hosts whose assets are fetched besides each page's own (``.example.org``: a domain and its subdomains;
    #: ``*``: every host); an asset elsewhere (a public CDN) is listed as not fetched
    asset_hosts: list[str] = Field(default_factory=list)

    @field_validator("asset_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [hosts.pattern(item, any_host=True) for item in value]

    def fetched_from(self, page: FrontendPage, url: str) -> bool:
        """An asset at ``url`` is fetched: it is on the page's own host, or on one of ``asset_hosts``."""
        host = urlsplit(url).hostname or ""
        return host == (urlsplit(page.url).hostname or "") or hosts.matches_any(host, self.asset_hosts)
