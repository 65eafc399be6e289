"""``[smoke]``: where the browser smoke flows log in, whether they may write; and the defaults file's tables
(``fixtures/smoke.toml``: selectors and flow data).

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.smoke`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator

from gonogo.model import Section

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
