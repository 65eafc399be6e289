"""The smoke flows' profile table, their settings merged from the team's defaults, the browser to
launch, and the invoice PDF read as a fact.

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
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator

from gonogo.model import Section
from gonogo.probes.files import read_text
from gonogo.secrets import masker

DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: the defaults that ship with the suite (relative to its rootdir), wherever the profile lives
SUITE_DEFAULTS = Path("fixtures/smoke.toml")


class SmokeSection(Section):
    """``[smoke]``: where the flows log in, whether they may write, and what they tag."""

    #: the shop's address as a browser opens it (e.g. https://shop.example.org)
    base_url: str
    user: str
    password: SecretStr
    #: smoke flows write (a customer, sales, a payment): they run only where this is true
    allowed: bool = False
    #: what the flows create carries this tag (the customer's name starts with it) and is removed with it
    tag: str = Field(default="gonogo-smoke", min_length=8)
    #: Chromium's executable (else CHROMIUM_PATH, else /usr/bin/chromium); never downloaded
    chromium: Path | None = None
    #: the defaults for selectors and flow data: a path set here is relative to the profile; without it, the
    #: suite's own ``fixtures/smoke.toml`` (relative to the rootdir, wherever the profile lives)
    defaults: Path | None = None
    #: override selectors of the defaults (name -> data-testid)
    selectors: dict[str, str] = Field(default_factory=dict)
    #: override flow data of the defaults (products, amounts...)
    data: dict[str, Any] = Field(default_factory=dict)
    #: bound of every browser action and navigation
    timeout_s: float = Field(default=10, gt=0)

    @field_validator("selectors")
    @classmethod
    def _known_selectors(cls, value: dict[str, str]) -> dict[str, str]:
        _known(value, Selectors, "[smoke.selectors]")
        return value

    @field_validator("data")
    @classmethod
    def _known_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        _known(value, FlowData, "[smoke.data]")
        return value


def _known(value: dict[str, Any], model: type[Section], table: str) -> None:
    unknown = sorted(set(value) - set(model.model_fields))
    if unknown:
        raise ValueError(f"{table}: unknown key(s) {', '.join(unknown)}; known: {', '.join(model.model_fields)}")


class Selectors(Section):
    """The ``data-testid`` of each element the flows use (``{row}`` is a sale line's row number)."""

    login_username: str
    login_password: str
    login_submit: str
    #: shown when the shop refuses the credentials
    login_error: str
    #: the dashboard after login: holds the user's name
    logged_in_user: str
    nav_products: str
    nav_new_sale: str
    nav_sales: str
    nav_customers: str
    nav_reports: str
    flash_success: str
    product_row: str
    product_price: str
    new_customer_link: str
    new_customer_name: str
    new_customer_email: str
    new_customer_credit_limit: str
    new_customer_submit: str
    new_customer_error: str
    customer_detail: str
    customer_balance: str
    new_credit_sale_link: str
    payment_amount: str
    payment_method: str
    payment_note: str
    payment_submit: str
    payment_error: str
    sale_line_product: str
    sale_line_quantity: str
    sale_payment: str
    sale_customer: str
    sale_submit: str
    sale_error: str
    sale_detail: str
    sale_number: str
    sale_total: str
    sale_payment_method: str
    sale_row: str
    live_status: str
    invoice_link: str
    invoice: str
    invoice_number: str
    invoice_line: str
    invoice_total: str
    invoice_pdf_link: str
    report_date: str
    report_sales_count: str
    report_sales_total: str
    report_payments_count: str
    report_payments_total: str


class Line(Section):
    """A product of a sale: its option value in the sale form (e.g. the SKU) and a quantity."""

    product: str
    quantity: int = Field(default=1, ge=1)


class FlowData(Section):
    """What the flows do: which products they sell, how they pay, how much they pay back."""

    #: the path of the login page, and of the page the shop's users start from once logged in
    login_path: str
    home_path: str
    #: the paid sale: at least two products, paid by ``payment`` (an option value of the payment select)
    sale_lines: list[Line] = Field(min_length=2)
    payment: str
    #: what the sale page shows as the payment of a paid sale (its text)
    paid_label: str
    #: the sale on credit and the payment against it
    credit_lines: list[Line] = Field(min_length=1)
    credit_payment: str
    credit_amount: Decimal = Field(gt=0)
    repayment_method: str
    #: the customer the flows create (named "<tag> <run>"), its email domain and credit limit
    customer_email_domain: str
    customer_credit_limit: Decimal = Field(gt=0)
    #: the websocket the sales page listens on, what its status says once connected, how long a push may take
    orders_ws_path: str
    live_status_connected: str
    ws_within_s: float = Field(default=5, gt=0)
    #: POST tag=<prefix> here (staff, CSRF) removes what the flows created
    remove_tagged_path: str
    logout_path: str
    #: requests the flows make themselves (the PDF, the cleanup) send the CSRF token of the page's forms:
    #: the hidden input's name, and the header it goes in
    csrf_field: str
    csrf_header: str


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


@dataclass(frozen=True)
class PdfFact:
    """A downloaded invoice PDF: its HTTP answer, whether it parses as a PDF, and its text."""

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

    @property
    def evidence_name(self) -> str:
        return masker.mask(f"PDF {self.url}")

    def __repr__(self) -> str:
        state = f"{self.pages} page(s)" if self.parsed else f"not a PDF: {self.error}"
        return masker.mask(f"<pdf {self.url}: {self.status} {self.content_type}, {self.size} bytes, {state}>")

    def evidence(self) -> str:
        lines = [f"GET {self.url}", f"status: {self.status}", f"content-type: {self.content_type}",
                 f"size: {self.size} bytes", f"pages: {self.pages}"]
        if self.error:
            lines.append(f"error: {self.error}")
        return masker.mask("\n".join(lines) + "\n\ntext:\n" + self.text)


def read_pdf(url: str, status: int | None, content_type: str, body: bytes) -> PdfFact:
    """Parse a downloaded PDF with pypdf; an empty or broken file is a fact with an ``error``."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    size = len(body)
    if not body.startswith(b"%PDF-"):
        reason = "empty body" if not body else f"does not start with %PDF- ({body[:20]!r})"
        return PdfFact(url, status, content_type, size, error=reason)
    try:
        reader = PdfReader(io.BytesIO(body), strict=True)
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
        return PdfFact(url, status, content_type, size, pages=len(reader.pages), text=text)
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        return PdfFact(url, status, content_type, size, error=f"pypdf cannot read it: {exc}")

