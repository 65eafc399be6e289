"""The smoke flows' settings (``[smoke]``: :mod:`gonogo.sections.smoke`) merged from the team's defaults,
the browser to launch, and the invoice PDF read as a fact.

The flows themselves (Playwright, page objects) live in ``smoke/``. What they select (``data-testid``
values) and the data they use (products, amounts, the customer they create) come from
``fixtures/smoke.toml``, the defaults a team adapts to its own shop, and the profile's
``[smoke.selectors]`` / ``[smoke.data]`` override them per environment.
"""

from __future__ import annotations

import io
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from gonogo import lazy
from gonogo.fact import Observed
from gonogo.files import read_text
from gonogo.secrets import masker
from gonogo.sections.smoke import DEFAULT_CHROMIUM, SUITE_DEFAULTS, FlowData, Selectors, SmokeSection

if TYPE_CHECKING:
    import pypdf
    from pypdf import errors as pypdf_errors

    from gonogo.stack import Stack
else:  # pypdf is imported when an invoice is first read
    pypdf = lazy.module("pypdf")
    pypdf_errors = lazy.module("pypdf.errors")


@dataclass(frozen=True)
class SmokeConfig:
    """The smoke flows' settings: the profile's ``[smoke]`` with the defaults' selectors and data merged in."""

    section: SmokeSection
    selectors: Selectors
    data: FlowData
    #: the Chromium executable and where that choice came from
    chromium: Path
    chromium_source: str
    #: host -> address for Chromium (``[environment] resolve``)
    resolve: dict[str, str]
    #: certificates to accept for the shop (``[environment] ca_file``), else None
    ca_file: Path | None

    @property
    def base_url(self) -> str:
        return self.section.base_url.rstrip("/")

    def url(self, path: str) -> str:
        return self.base_url + path

    def testid(self, name: str, **fields: object) -> str:
        """The ``data-testid`` of selector ``name`` (with ``{row}``-style fields filled in)."""
        return str(getattr(self.selectors, name)).format(**fields)


class SmokeConfigError(Exception):
    """The defaults file or the merged settings are wrong: the message says which file and key."""


def load_config(section: SmokeSection, defaults: Path, resolve: dict[str, str], ca_file: Path | None,
                environ: dict[str, str]) -> SmokeConfig:
    """Merge the defaults file (``[selectors]``, ``[data]``) with the profile's overrides."""
    read = read_text(defaults)  # at most 1 MB, a regular file only: a FIFO is never waited on
    if read.text is None:
        raise SmokeConfigError(f"[smoke] defaults {defaults}: cannot read it: it {read.error}")
    try:
        raw = tomllib.loads(read.text)
    except (ValueError, RecursionError) as exc:  # a TOML error, a number too long, thousands of nested [[[
        raise SmokeConfigError(f"[smoke] defaults {defaults}: cannot read it: {type(exc).__name__}: "
                               f"{str(exc).split(';')[0][:200]}") from None
    tables = {name: raw.get(name, {}) for name in ("selectors", "data")}
    wrong = [name for name, table in tables.items() if not isinstance(table, dict)]
    if wrong:
        raise SmokeConfigError(f"[smoke] defaults {defaults}: {wrong[0]} must be a table ([{wrong[0]}])")
    try:
        selectors = Selectors.model_validate({**tables["selectors"], **section.selectors})
        data = FlowData.model_validate({**tables["data"], **section.data})
    except ValidationError as exc:
        raise SmokeConfigError(f"[smoke] selectors/data (defaults {defaults}, overridden by the profile): {exc}") from None
    chromium, source = chromium_path(section, environ)
    return SmokeConfig(section, selectors, data, chromium, source, dict(resolve), ca_file)


def chromium_path(section: SmokeSection, environ: dict[str, str]) -> tuple[Path, str]:
    """Chromium's executable: ``[smoke] chromium``, else ``CHROMIUM_PATH``, else /usr/bin/chromium."""
    if section.chromium is not None:
        return section.chromium, "[smoke] chromium"
    if environ.get("CHROMIUM_PATH"):
        return Path(environ["CHROMIUM_PATH"]), "CHROMIUM_PATH"
    return Path(DEFAULT_CHROMIUM), "the default"


def chromium_problem(path: Path, source: str) -> str | None:
    """Why Chromium cannot be launched from ``path``, or None."""
    if not path.is_file():
        return (f"Chromium not found at {path} ({source}): install Debian's chromium (apt-get install chromium), "
                "or set [smoke] chromium or CHROMIUM_PATH; gonogo never downloads a browser")
    if not os.access(path, os.X_OK):
        return f"Chromium at {path} ({source}) is not executable"
    return None


class PdfFact(Observed):
    """A downloaded invoice PDF: its HTTP answer, whether it parses as a PDF, and its text."""

    EVIDENCE_NAME = "PDF {url}"

    url: str
    status: int | None
    content_type: str
    size: int
    pages: int = 0
    text: str = ""
    error: str | None = None

    @property
    def parsed(self) -> bool:
        return self.error is None and self.pages > 0

    def one_line(self) -> str:
        state = f"{self.pages} page(s)" if self.parsed else f"not a PDF: {self.error}"
        return f"<pdf {self.url}: {self.status} {self.content_type}, {self.size} bytes, {state}>"

    def evidence(self) -> str:
        lines = [f"GET {self.url}", f"status: {self.status}", f"content-type: {self.content_type}",
                 f"size: {self.size} bytes", f"pages: {self.pages}"]
        if self.error:
            lines.append(f"error: {self.error}")
        return masker.mask("\n".join(lines) + "\n\ntext:\n" + self.text)


def read_pdf(url: str, status: int | None, content_type: str, body: bytes) -> PdfFact:
    """Parse a downloaded PDF with pypdf; an empty or broken file is a fact with an ``error``."""
    size = len(body)
    if not body.startswith(b"%PDF-"):
        reason = "empty body" if not body else f"does not start with %PDF- ({body[:20]!r})"
        return PdfFact(url, status, content_type, size, error=reason)
    try:
        reader = pypdf.PdfReader(io.BytesIO(body), strict=True)
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        return PdfFact(url, status, content_type, size, pages=len(reader.pages), text=text)
    except (pypdf_errors.PyPdfError, ValueError, KeyError, OSError) as exc:
        return PdfFact(url, status, content_type, size, error=f"pypdf cannot read it: {exc}")


def from_stack(stack: Stack) -> SmokeConfig:
    """``stack.smoke``: the smoke flows' settings: ``[smoke]`` merged over its defaults file (``[smoke] defaults``,
    relative to the profile; else the suite's own, relative to the rootdir), the Chromium to launch, and the
    resolve map and CA file for the browser."""
    section = stack.section("smoke")
    if section.chromium is not None:
        section = section.model_copy(update={"chromium": stack.env.resolve_path(section.chromium)})
    defaults = stack.env.resolve_path(section.defaults) if section.defaults else stack.env.suite_path(SUITE_DEFAULTS)
    return load_config(section, defaults, dict(stack.env.profile.environment.resolve), stack.env.ca_path,
                       dict(os.environ))
