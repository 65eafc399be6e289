"""Page objects of the shop the smoke flows use: every element by its ``data-testid``, named in the
``[smoke]`` selectors (``fixtures/smoke.toml``), so a team's shop needs new values, not new code.

A page object acts and reads; it never judges. Where an action can end two ways (the dashboard or
"wrong credentials", the sale page or the shop's error), it waits for either and says which.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from gonogo.probes.smoke import SmokeConfig
from gonogo.sections.smoke import Line


def money(text: str) -> Decimal | None:
    """A shown amount ("1,234.50", "24.50 EUR") as a Decimal, or None when it is not one."""
    cleaned = "".join(ch for ch in text if ch.isdigit() or ch in ".-")
    try:
        return Decimal(cleaned) if cleaned else None
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Outcome:
    """How an action that can end two ways ended: ``ok``, the text the page showed, and whether the
    page answered at all (``answered=False``: neither showed in time)."""

    ok: bool
    text: str
    url: str
    answered: bool = True


class ShopPage:
    """A page of the shop: its elements by selector name, and the navigation every page has."""

    def __init__(self, page: Page, config: SmokeConfig) -> None:
        self.page = page
        self.config = config

    def by(self, name: str, **fields: object) -> Locator:
        return self.page.get_by_test_id(self.config.testid(name, **fields))

    def text(self, name: str, **fields: object) -> str:
        return " ".join(self.by(name, **fields).first.inner_text().split())

    def either(self, good: str, bad: str) -> Outcome:
        """Wait until ``good`` or ``bad`` shows; say which, with its text."""
        good_one, bad_one = self.by(good), self.by(bad)
        try:
            good_one.or_(bad_one).first.wait_for()
        except PlaywrightTimeout:
            return Outcome(False, f"neither {self.config.testid(good)!r} nor {self.config.testid(bad)!r} showed "
                                  f"within {self.config.section.timeout_s:g} s", self.page.url, answered=False)
        ok = good_one.count() > 0
        return Outcome(ok, self.text(good if ok else bad), self.page.url)

    def go(self, nav: str) -> None:
        self.by(nav).click()
        self.page.wait_for_load_state()


#: a request made by the page itself (its cookies, its resolver, its TLS trust), the CSRF token of its forms sent
#: along; the body comes back base64-encoded
FETCH = """async ({url, method, form, csrfField, csrfHeader}) => {
  const headers = {};
  const token = document.querySelector(`input[name="${csrfField}"]`);
  if (token) headers[csrfHeader] = token.value;
  const init = {method, headers, credentials: "same-origin", redirect: "follow"};
  if (form) init.body = new URLSearchParams(form);
  const response = await fetch(url, init);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 32768) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
  return {status: response.status, type: response.headers.get("content-type") || "", body: btoa(binary)};
}"""


@dataclass(frozen=True)
class Fetched:
    """The answer to a request the page made."""

    status: int
    content_type: str
    body: bytes


def fetch(page: Page, config: SmokeConfig, url: str, method: str = "GET", form: dict[str, str] | None = None) -> Fetched:
    """Make a request from ``page`` (as the shop's own scripts would), with its forms' CSRF token."""
    answer = page.evaluate(FETCH, {"url": url, "method": method, "form": form, "csrfField": config.data.csrf_field,
                                   "csrfHeader": config.data.csrf_header})
    return Fetched(int(answer["status"]), str(answer["type"]), base64.b64decode(answer["body"]))


class LoginPage(ShopPage):
    def open(self) -> LoginPage:
        self.page.goto(self.config.url(self.config.data.login_path))
        return self

    def fill(self, user: str, password: str) -> None:
        self.by("login_username").fill(user)
        self.by("login_password").fill(password)

    def submit(self) -> Outcome:
        """Submit; ok with the dashboard's user name, or not ok with the shop's refusal."""
        self.by("login_submit").click()
        return self.either("logged_in_user", "login_error")


class ProductsPage(ShopPage):
    def price(self, product: str) -> Decimal | None:
        """The price shown in the row of ``product`` (its SKU, as the sale form's option value)."""
        return money(" ".join(self.by("product_row").filter(has_text=product).first
                              .get_by_test_id(self.config.testid("product_price")).inner_text().split()))


class CustomersPage(ShopPage):
    def add(self, name: str, email: str, credit_limit: Decimal) -> Outcome:
        """Add a customer; ok on its page (with the shop's confirmation), else the form's error."""
        self.by("new_customer_link").click()
        self.by("new_customer_name").fill(name)
        self.by("new_customer_email").fill(email)
        self.by("new_customer_credit_limit").fill(str(credit_limit))
        self.by("new_customer_submit").click()
        return self.either("customer_detail", "new_customer_error")


class CustomerPage(ShopPage):
    def balance(self) -> Decimal | None:
        return money(self.text("customer_balance"))

    def new_sale(self) -> SaleFormPage:
        self.by("new_credit_sale_link").click()
        return SaleFormPage(self.page, self.config)

    def pay(self, amount: Decimal, method: str, note: str) -> Outcome:
        """Record a payment against the credit; ok with the shop's confirmation, else its error."""
        self.by("payment_amount").fill(str(amount))
        self.by("payment_method").select_option(method)
        self.by("payment_note").fill(note)
        self.by("payment_submit").click()
        return self.either("flash_success", "payment_error")


class SaleFormPage(ShopPage):
    def record(self, lines: list[Line], payment: str) -> Outcome:
        """Fill the lines, choose the payment, submit; ok on the sale's page, else the shop's error."""
        for row, line in enumerate(lines):
            self.by("sale_line_product", row=row).select_option(line.product)
            self.by("sale_line_quantity", row=row).fill(str(line.quantity))
        self.by("sale_payment").select_option(payment)
        self.by("sale_submit").click()
        return self.either("sale_detail", "sale_error")


class SalePage(ShopPage):
    def number(self) -> str:
        return self.text("sale_number")

    def total(self) -> Decimal | None:
        return money(self.text("sale_total"))

    def payment(self) -> str:
        return self.text("sale_payment_method")

    def open_invoice(self) -> InvoicePage:
        self.by("invoice_link").click()
        self.by("invoice").wait_for()
        return InvoicePage(self.page, self.config)


class SalesListPage(ShopPage):
    def row(self, number: str) -> str:
        """The text of the sales list's row of sale ``number`` ("" when it is not listed)."""
        row = self.by("sale_row").filter(has_text=number)
        return " ".join(row.first.inner_text().split()) if row.count() else ""

    def connected(self) -> bool:
        """Wait until the live feed says it is connected (its websocket is open)."""
        status = self.by("live_status")
        try:
            status.filter(has_text=self.config.data.live_status_connected).wait_for()
        except PlaywrightTimeout:
            return False
        return True


class InvoicePage(ShopPage):
    def number(self) -> str:
        return self.text("invoice_number")

    def lines(self) -> int:
        return self.by("invoice_line").count()

    def total(self) -> str:
        """The total's text ("" when the invoice shows none)."""
        return self.text("invoice_total") if self.by("invoice_total").count() else ""

    def pdf_url(self) -> str:
        href = self.by("invoice_pdf_link").first.get_attribute("href") or ""
        return href if href.startswith("http") else self.config.url(href)


class ReportsPage(ShopPage):
    def figures(self) -> dict[str, str]:
        """The day's figures as shown: date, sales count and total, payments count and total."""
        names = ("report_date", "report_sales_count", "report_sales_total", "report_payments_count",
                 "report_payments_total")
        return {name.removeprefix("report_"): self.text(name) for name in names}
