"""The runbooks' manual smoke test, in a real browser: log in, a paid sale, its invoice, a sale on
credit and its repayment, the day's report (BTQ-4.3 to 4.7, RCY-7; SMK-10's message half).

Phases smoke and postdeploy (``-m smoke`` runs them alone; ``-m "postdeploy and not smoke"`` is a
partial postdeploy run); blockers. They run only where ``[smoke] allowed = true``: they write.
Everything they write belongs to one customer they add, named ``<[smoke] tag> <run id>``, and is
removed at the end of the module (smoke/conftest.py), also when a flow fails halfway. The flows share that data, so they run in one module (one xdist
worker under ``--dist loadfile``) in this order; a flow whose data a failed flow should have made is
skipped as dependent on it. Selectors and data: ``fixtures/smoke.toml`` and the profile's ``[smoke]``.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal

import pytest
from playwright.sync_api import Page, WebSocket
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from gonogo import judge, skips
from gonogo.probes.smoke import read_pdf
from gonogo.sections.smoke import Line
from smoke.pages import (CustomerPage, InvoicePage, LoginPage, ProductsPage, ReportsPage, SalePage, SalesListPage,
                         ShopPage, fetch, money)
from smoke.session import Flow, Observed, RecordedSale, SmokeRun, step

pytestmark = [pytest.mark.smoke, pytest.mark.postdeploy, pytest.mark.severity("blocker")]


@pytest.mark.runbook("BTQ-4.3", "RCY-7")
def test_login(flow: Flow, smoke_run: SmokeRun) -> None:
    """The smoke user logs in and reaches the dashboard; wrong credentials are refused as such."""
    config, user = smoke_run.config, smoke_run.config.section.user
    context = flow.context(traced=False)  # traced once the password is sent: a trace holds every request body
    login = LoginPage(context.new_page(), config)
    with step(f"log in as {user}", config.url(config.data.login_path)):
        login.open()
        login.fill(user, config.section.password.get_secret_value())
        outcome = login.submit()
    if outcome.ok:
        smoke_run.adopt(context.storage_state())  # the other flows go on signed in
    flow.trace(context)
    seen = Observed("login", outcome.url, (("shown", outcome.text), ("answered", outcome.answered)))
    refusal = f"the shop refused the credentials of {user}: {outcome.text!r}" if outcome.answered else outcome.text
    judge("login", outcome.ok, expected=f"the dashboard with {config.testid('logged_in_user')}",
          actual=refusal, where=outcome.url, fact=seen)
    judge("dashboard user", user in outcome.text, expected=f"the dashboard names {user}", actual=outcome.text,
          where=outcome.url, fact=seen)
    with step("log in with a wrong password (a new browser)", login.page.url):
        stranger = LoginPage(flow.page(), config).open()
        stranger.fill(user, "wrong-" + secrets.token_hex(6))
        wrong = stranger.submit()
    judge("wrong credentials", wrong.answered and not wrong.ok, expected="the shop's refusal of wrong credentials",
          actual=("a dashboard: " if wrong.ok else "") + wrong.text, where=wrong.url,
          fact=Observed("login with a wrong password", wrong.url, (("shown", wrong.text),)))


def _expected_total(page: Page, smoke_run: SmokeRun, lines: list[Line]) -> Decimal:
    """The total the lines must make, at the prices the products page shows."""
    config = smoke_run.config
    with step("read the products' prices", config.url(config.data.home_path)):
        page.goto(config.url(config.data.home_path))
        shop = ProductsPage(page, config)
        shop.go("nav_products")
        prices = {line.product: shop.price(line.product) for line in lines}
    missing = [product for product, price in prices.items() if price is None]
    judge("product prices", not missing, expected=f"a price for each of {', '.join(prices)}",
          actual=f"no price shown for {', '.join(missing)}", where=page.url)
    return sum((prices[line.product] or Decimal(0)) * line.quantity for line in lines) or Decimal(0)


def _sell(page: Page, smoke_run: SmokeRun, lines: list[Line], payment: str) -> tuple[RecordedSale, Decimal]:
    """Sell ``lines`` to the tagged customer, paid by ``payment``; the sale as the shop shows it, and the
    total its lines must make."""
    expected = _expected_total(page, smoke_run, lines)
    customer = smoke_run.customer(page)
    what = ", ".join(f"{line.quantity} x {line.product}" for line in lines)
    with step(f"sell {what}, payment {payment}", page.url):
        outcome = customer.new_sale().record(lines, payment)
    judge("sale recorded", outcome.ok, expected="the sale's page", actual=f"the shop answered: {outcome.text}",
          where=outcome.url, fact=Observed("sale form", outcome.url, (("shown", outcome.text),)))
    sale_page = SalePage(page, smoke_run.config)
    with step("read the sale", page.url):
        sale = RecordedSale(sale_page.number(), sale_page.total() or Decimal(0), sale_page.payment(), page.url)
    smoke_run.sales.append(sale)
    return sale, expected


def _seen(sale: RecordedSale, **more: object) -> Observed:
    values = (("number", sale.number), ("total", sale.total), ("payment", sale.payment), *more.items())
    return Observed("sale page", sale.url, tuple(values))


def _watch_orders(watcher: Page, smoke_run: SmokeRun) -> tuple[WebSocket | None, list[str]]:
    """Open the sales page, whose live feed listens on the orders websocket; its frames as they come."""
    config = smoke_run.config
    path = config.data.orders_ws_path
    frames: list[str] = []
    with step(f"open the sales page and its live feed ({path})", config.url(config.data.home_path)):
        watcher.goto(config.url(config.data.home_path))
        try:
            with watcher.expect_websocket(lambda ws: ws.url.split("?")[0].endswith(path)) as opened:
                ShopPage(watcher, config).go("nav_sales")
            socket: WebSocket | None = opened.value
        except PlaywrightTimeout:
            socket = None
        if socket is not None:
            socket.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, str) else
                                                                        payload.decode("utf-8", "replace")))
        connected = socket is not None and SalesListPage(watcher, config).connected()
    judge("orders websocket", connected, expected=f"the sales page connected to {path} "
          f"(its {config.testid('live_status')} says {config.data.live_status_connected!r})",
          actual="no websocket opened" if socket is None else "it never said so", where=watcher.url)
    return socket, frames


def _pushed(frame: str, sale: RecordedSale) -> bool:
    """Does a websocket frame announce this sale (its id from its page's address, and its total)?"""
    try:
        message = json.loads(frame)
    except ValueError:
        return False
    ids = re.findall(r"\d+", sale.url.rstrip("/").rsplit("/", 1)[-1])
    values = {str(v) for v in message.values()} if isinstance(message, dict) else set()
    return f"{sale.total:.2f}" in values and bool(ids) and ids[-1] in values


def _frame_for(socket: WebSocket, frames: list[str], sale: RecordedSale, within_s: float) -> str | None:
    pushed = next((f for f in frames if _pushed(f, sale)), None)
    if pushed is None:
        try:
            socket.wait_for_event("framereceived", predicate=lambda f: _pushed(str(f), sale), timeout=within_s * 1000)
        except PlaywrightTimeout:
            return None
        pushed = next((f for f in frames if _pushed(f, sale)), None)
    return pushed


@pytest.mark.runbook("BTQ-4.4", "SMK-10")
def test_sale_paid(flow: Flow, smoke_run: SmokeRun) -> None:
    """A sale of two products is recorded and paid, with the right total, listed, and pushed on the orders websocket."""
    config, data = smoke_run.config, smoke_run.config.data
    state = smoke_run.signed_in()
    watcher = flow.page(state)
    socket, frames = _watch_orders(watcher, smoke_run)
    smoke_run.sale_attempted = True
    sale, expected = _sell(flow.page(state), smoke_run, data.sale_lines, data.payment)
    smoke_run.paid_sale = sale
    judge("sale total", sale.total == expected, expected=f"{expected:.2f} (the lines at the products' prices)",
          actual=f"{sale.total:.2f}", where=sale.url, fact=_seen(sale))
    judge("sale paid", sale.payment == data.paid_label, expected=f"payment {data.paid_label!r}",
          actual=repr(sale.payment), where=sale.url, fact=_seen(sale))
    assert socket is not None  # judged connected above
    with step(f"wait for the sale on {data.orders_ws_path}", watcher.url):
        pushed = _frame_for(socket, frames, sale, data.ws_within_s)
    judge("sale pushed", pushed is not None, expected=f"a message naming the sale and its total {sale.total:.2f} "
          f"on {data.orders_ws_path} within {data.ws_within_s:g} s", actual=f"{len(frames)} other frame(s): {frames[:5]}",
          where=watcher.url, fact=_seen(sale, pushed=pushed, frames=len(frames)))
    with step("find the sale in the sales list", watcher.url):
        watcher.reload()
        row = SalesListPage(watcher, config).row(sale.number)
    judge("sale listed", f"{sale.total:.2f}" in row and data.paid_label in row,
          expected=f"a row with {sale.number}, {sale.total:.2f} and {data.paid_label!r}", actual=row or "no such row",
          where=watcher.url, fact=_seen(sale, row=row))


@pytest.mark.runbook("BTQ-4.5")
def test_invoice(flow: Flow, smoke_run: SmokeRun) -> None:
    """The paid sale's invoice shows its lines and total, and its PDF is a real PDF naming the sale and total."""
    config, data = smoke_run.config, smoke_run.config.data
    page = flow.page(smoke_run.signed_in())
    sale = smoke_run.paid_sale
    if sale is None and smoke_run.sale_attempted:
        skips.dependent("smoke.sale_paid", "there is no paid sale to invoice")
    if sale is None:  # the sale flow was not selected: make the sale here
        sale, _ = _sell(page, smoke_run, data.sale_lines, data.payment)
        smoke_run.paid_sale = sale
    with step(f"open the invoice of {sale.number}", sale.url):
        page.goto(sale.url)
        invoice: InvoicePage = SalePage(page, config).open_invoice()
        shown = Observed("invoice page", page.url, (("number", invoice.number()), ("lines", invoice.lines()),
                                                    ("total", invoice.total())))
    values = dict(shown.values)
    judge("invoice number", values["number"] == sale.number, expected=sale.number, actual=values["number"],
          where=page.url, fact=shown)
    judge("invoice lines", values["lines"] == len(data.sale_lines), expected=f"{len(data.sale_lines)} lines",
          actual=f"{values['lines']} lines", where=page.url, fact=shown)
    judge("invoice total", money(str(values["total"])) == sale.total, expected=f"{sale.total:.2f}",
          actual=values["total"] or "no total shown", where=page.url, fact=shown)
    pdf_url = invoice.pdf_url()
    with step("download the invoice PDF", pdf_url):
        answer = fetch(page, config, pdf_url)
        pdf = read_pdf(pdf_url, answer.status, answer.content_type, answer.body)
    judge("invoice PDF", pdf.status == 200 and pdf.parsed, expected="200 and a PDF that parses",
          actual=f"{pdf.status} {pdf.content_type}, {pdf.size} bytes: {pdf.error or 'no page'}", where=pdf_url, fact=pdf)
    missing = [text for text in (sale.number, f"{sale.total:.2f}") if text not in pdf.text]
    judge("invoice PDF text", not missing, expected=f"the PDF names {sale.number} and {sale.total:.2f}",
          actual=f"it does not name {', '.join(missing)}", where=pdf_url, fact=pdf)


@pytest.mark.runbook("BTQ-4.6")
def test_credit(flow: Flow, smoke_run: SmokeRun) -> None:
    """A sale on credit raises the customer's balance by its total; a payment against it lowers it by the amount."""
    config, data = smoke_run.config, smoke_run.config.data
    page = flow.page(smoke_run.signed_in())
    with step("read the customer's balance", config.url(config.data.home_path)):
        before = smoke_run.customer(page).balance()
    sale, expected = _sell(page, smoke_run, data.credit_lines, data.credit_payment)
    judge("credit sale total", sale.total == expected, expected=f"{expected:.2f}", actual=f"{sale.total:.2f}",
          where=sale.url, fact=_seen(sale))
    with step("read the balance after the sale", sale.url):
        customer = smoke_run.customer(page)
        after_sale = customer.balance()
    seen = Observed("customer page", page.url, (("balance before", before), ("credit sale", sale.total),
                                                ("balance after the sale", after_sale)))
    owed = (before or Decimal(0)) + sale.total
    judge("balance after the credit sale", before is not None and after_sale == owed,
          expected=f"{before} + {sale.total:.2f} = {owed:.2f}", actual=str(after_sale), where=page.url, fact=seen)
    amount = data.credit_amount
    with step(f"record a payment of {amount:.2f} against the credit", page.url):
        paid = customer.pay(amount, data.repayment_method, f"{smoke_run.customer_name} repayment")
    judge("payment recorded", paid.ok, expected="the shop's confirmation", actual=paid.text, where=paid.url,
          fact=Observed("payment form", paid.url, (("shown", paid.text),)))
    with step("read the balance after the payment", page.url):
        after_payment = CustomerPage(page, config).balance()
    remaining = owed - amount
    if after_payment == remaining:
        smoke_run.payments.append(amount)
    judge("balance after the payment", after_payment == remaining,
          expected=f"{owed:.2f} - {amount:.2f} = {remaining:.2f}",
          actual=f"{after_payment} (the shop confirmed: {paid.text!r})", where=page.url,
          fact=Observed("customer page", page.url, (*seen.values, ("payment", amount), ("balance after the payment", after_payment))))


@pytest.mark.runbook("BTQ-4.7")
def test_reports(flow: Flow, smoke_run: SmokeRun) -> None:
    """The reports page shows the day's totals, including the sales and payments the flows just made."""
    config = smoke_run.config
    page = flow.page(smoke_run.signed_in())
    with step("open the day's report", config.url(config.data.home_path)):
        page.goto(config.url(config.data.home_path))
        ShopPage(page, config).go("nav_reports")
        figures = ReportsPage(page, config).figures()
    before = smoke_run.report_before or {}
    shown = Observed("reports page", page.url, tuple((k, f"{v} (before: {before.get(k, '-')})") for k, v in figures.items()))
    numbers = {k: money(v) for k, v in figures.items() if k != "date"}
    unreadable = [k for k, v in numbers.items() if v is None]
    judge("report figures", not unreadable, expected="a number for each figure", actual=f"none for {unreadable}",
          where=page.url, fact=shown)
    if not before:
        return  # no flow wrote anything in this run: nothing of ours to find in the report
    ours = {"sales_count": Decimal(len(smoke_run.sales)), "sales_total": sum((s.total for s in smoke_run.sales), Decimal(0)),
            "payments_count": Decimal(len(smoke_run.payments)), "payments_total": sum(smoke_run.payments, Decimal(0))}
    short = [f"{k}: {before[k]} -> {figures[k]} (+{(numbers[k] or 0) - (money(before[k]) or 0)}, ours +{ours[k]})"
             for k in ours if (numbers[k] or 0) - (money(before[k]) or 0) < ours[k]]
    judge("report includes the flows", not short and figures["date"] == before["date"],
          expected="each figure up by at least what the flows recorded (a live shop may sell meanwhile), same day",
          actual="; ".join(short) or f"the day changed: {before['date']} -> {figures['date']}", where=page.url, fact=shown)
