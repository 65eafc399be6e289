"""Frontend probe: a page the frontend serves, the assets it references (stylesheets, scripts, images),
its server's own configuration test (``nginx -t``) (``[frontend]``: :mod:`gonogo.sections.frontend`).

``stack.frontend`` is a :class:`FrontendProbe`. Every request goes through ``stack.http`` (the
profile's resolve map and CA: through the proxy, as a browser would); each asset is one bounded
request, several at once. Only the assets on the page's own host (and on ``asset_hosts``) are
fetched: one on a public CDN is listed, never asked (the gate's machine may not reach it, and its
outage is not the release's). The configuration test runs in the frontend service's running container
through ``stack.commands``. Facts only: an asset that does not answer is an :class:`AssetFact` with
an ``error``, never an exception.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin, urlsplit

from gonogo.fact import Observed, no_answer
from gonogo.memo import Memo
from gonogo.probes.commands import CommandFact, CommandProbe
from gonogo.sections.commands import CommandEntry
from gonogo.probes.http import BODY_LIMIT, HttpFact, HttpProbe
from gonogo.secrets import masker
from gonogo.sections.frontend import FrontendPage, FrontendSection

if TYPE_CHECKING:
    from gonogo.stack import Stack

Kind = Literal["stylesheet", "script", "image"]
#: how many assets are fetched at once
PARALLEL = 8
#: what a browser asks for when it loads a page
PAGE_ACCEPT = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@dataclass(frozen=True)
class Asset:
    """An asset a page references: its absolute URL and how the page uses it."""

    url: str
    kind: Kind


class _References(HTMLParser):
    """``<link rel=stylesheet href>``, ``<script src>``, ``<img src>`` and ``<base href>``, in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, Kind]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif tag == "link" and "stylesheet" in values.get("rel", "").lower().split() and values.get("href"):
            self.found.append((values["href"], "stylesheet"))
        elif tag == "script" and values.get("src"):
            self.found.append((values["src"], "script"))
        elif tag == "img" and values.get("src"):
            self.found.append((values["src"], "image"))


def references(html: str, page_url: str) -> list[Asset]:
    """The assets ``html`` references, resolved against the page's URL (or its ``<base href>``);
    each once, in page order; ``data:`` and other non-HTTP URLs left out."""
    parser = _References()
    parser.feed(html)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    assets: dict[str, Asset] = {}
    for ref, kind in parser.found:
        url = urljoin(base, ref.strip()).split("#", 1)[0]
        if urlsplit(url).scheme in ("http", "https") and url not in assets:
            assets[url] = Asset(url, kind)
    return list(assets.values())


class AssetFact(Observed):
    """What one request for an asset observed."""

    url: str
    kind: Kind
    status: int | None
    elapsed_ms: float
    #: the Content-Type header as sent (None: none sent)
    content_type: str | None = None
    #: bytes, from Content-Length (None: not sent)
    size: int | None = None
    error: str | None = None

    @classmethod
    def of(cls, asset: Asset, fact: HttpFact) -> AssetFact:
        length = fact.header("Content-Length")
        return cls(asset.url, asset.kind, fact.status, fact.elapsed_ms, fact.header("Content-Type"),
                   int(length) if length and length.isdigit() else None, fact.error)

    @property
    def media_type(self) -> str | None:
        """The content type without its parameters, lowercased (``text/css``)."""
        return self.content_type.split(";", 1)[0].strip().lower() if self.content_type else None

    @property
    def status_text(self) -> str:
        if self.status is not None:
            return str(self.status)
        return masker.mask(no_answer(self.elapsed_ms, self.error))

    def line(self) -> str:
        """One row of the evidence: status, type, size, kind, URL."""
        size = "?" if self.size is None else f"{self.size} B"
        return masker.mask(f"{self.status_text:<7} {self.content_type or '-':<32} {size:>10}  {self.kind:<10}  {self.url}")

    def one_line(self) -> str:
        return f"<asset {self.url}: {self.status_text} {self.content_type or '-'}>"


class AssetsFact(Observed):
    """Every asset a page references, each as its request observed it."""

    EVIDENCE_NAME = "assets of {page_url}"

    page_url: str
    assets: tuple[AssetFact, ...]
    #: referenced, but over ``max_assets``: not fetched
    not_fetched: tuple[str, ...] = ()
    #: referenced, on a host neither the page's nor in ``asset_hosts`` (a CDN): not fetched
    elsewhere: tuple[str, ...] = ()
    #: the page's body was cut at the probe's limit: assets referenced after it were not seen
    page_truncated: bool = False

    @property
    def other_hosts(self) -> list[str]:
        """The hosts of the assets not fetched because they are elsewhere (a CDN), each once."""
        return sorted({urlsplit(url).hostname or url for url in self.elsewhere})

    def evidence(self) -> str:
        lines = [f"{len(self.assets)} asset(s) referenced by {self.page_url} (stylesheets, scripts, images):",
                 f"{'status':<7} {'content type':<32} {'size':>10}  {'kind':<10}  url",
                 *(asset.line() for asset in self.assets)]
        if self.not_fetched:
            lines += ["", f"not fetched (over max_assets): {len(self.not_fetched)}", *self.not_fetched]
        if self.elsewhere:
            lines += ["", f"not fetched (on another host than the page's and [frontend] asset_hosts): "
                          f"{len(self.elsewhere)}", *self.elsewhere]
        if self.page_truncated:
            lines += ["", f"the page is longer than {BODY_LIMIT // 1024} KiB: assets referenced after that were not seen"]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<{len(self.assets)} assets of {self.page_url}>"


class FrontendProbe:
    """The frontend of ``[frontend]`` (``stack.frontend``): its pages and assets through ``http``, its
    configuration test through ``commands``."""

    def __init__(self, section: FrontendSection, http: HttpProbe, commands: CommandProbe) -> None:
        self.section = section
        self.http = http
        self.commands = commands
        self._pages: Memo[str, HttpFact] = Memo()

    def __repr__(self) -> str:
        return f"<frontend probe: {len(self.section.pages)} page(s)>"

    def page(self, page: FrontendPage) -> HttpFact:
        """The page, fetched once per session (its checks judge the same answer); never raises."""
        return self._pages.get(page.name, lambda: self.http.get(page.url, timeout_s=page.timeout_s, headers=PAGE_ACCEPT))

    def assets(self, page: FrontendPage, fact: HttpFact) -> AssetsFact:
        """Fetch every asset the page's body references on its own host or ``asset_hosts`` (several at once, each
        bounded by the page's ``timeout_s``); never raises."""
        found = references(fact.body, page.url)
        elsewhere = tuple(asset.url for asset in found if not self.section.fetched_from(page, asset.url))
        found = [asset for asset in found if self.section.fetched_from(page, asset.url)]
        wanted, over = found[:self.section.max_assets], found[self.section.max_assets:]
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            fetched = list(pool.map(lambda asset: AssetFact.of(asset, self.http.get(asset.url, timeout_s=page.timeout_s)),
                                    wanted))
        return AssetsFact(page.url, tuple(fetched), tuple(asset.url for asset in over), elsewhere,
                          page_truncated=len(fact.body.encode("utf-8")) >= BODY_LIMIT)

    def config_test(self) -> CommandFact:
        """Run ``config_test`` in ``service``'s running container, bounded by ``config_timeout_s``; never raises."""
        entry = CommandEntry(name="config-test", service=self.section.service, run=self.section.config_test,
                             timeout_s=self.section.config_timeout_s)
        return self.commands.run(entry)


def from_stack(stack: Stack) -> FrontendProbe:
    """``stack.frontend``: the frontend of ``[frontend]``: its pages and their assets through ``stack.http``, its
    server's configuration test in its service's container through ``stack.commands``."""
    return FrontendProbe(stack.section("frontend"), stack.http, stack.commands)
