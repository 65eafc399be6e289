"""What the smoke flows share (one run: the signed-in user, the tagged customer, what was recorded,
the cleanup) and what each flow holds (its browser contexts, their trace, the evidence of a failure).
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import allure
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from gonogo import evidence, judge
from gonogo.probes.smoke import SmokeConfig
from gonogo.secrets import masker
from smoke.pages import CustomerPage, CustomersPage, LoginPage, ReportsPage, ShopPage, fetch

TRACE_HINT = "open with: playwright show-trace <file>, or https://trace.playwright.dev"


@dataclass(frozen=True)
class Observed:
    """What a flow saw at one point (a page and the values read there): a fact for ``judge``."""

    what: str
    url: str
    values: tuple[tuple[str, object], ...] = ()

    @property
    def evidence_name(self) -> str:
        return masker.mask(f"{self.what}: {self.url}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.values)
        return masker.mask(f"<{self.what} at {self.url}: {shown}>")

    def evidence(self) -> str:
        return masker.mask("\n".join([f"{self.what}", f"url: {self.url}", *(f"{k}: {v}" for k, v in self.values)]))


@dataclass(frozen=True)
class RecordedSale:
    """A sale the shop accepted during this run."""

    number: str
    total: Decimal
    payment: str
    url: str


def first_line(exc: BaseException) -> str:
    """An error's first line: Playwright's call log after it holds request headers (cookies)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def step(title: str, where: str = "") -> Iterator[None]:
    """An Allure step; a browser error in it (an element that never showed, a navigation that failed)
    fails the check with the step's name, not as an unexplained exception."""
    with allure.step(title):
        try:
            yield
        except PlaywrightError as exc:
            judge(title, False, expected="the step to complete in the browser", actual=first_line(exc),
                  where=where or None)


class Flow:
    """One check's browser contexts: traced from their start (or from ``trace``), closed at its end;
    on failure the screenshot, HTML and trace of each are attached to the check's result."""

    def __init__(self, browser: Browser, context_args: dict[str, Any], config: SmokeConfig) -> None:
        self.browser = browser
        self.context_args = context_args
        self.config = config
        self.contexts: list[BrowserContext] = []
        self.traced: set[int] = set()

    def context(self, storage_state: Any = None, traced: bool = True) -> BrowserContext:
        """A new browser context (signed in when given the storage state), with the profile's timeout."""
        context = self.browser.new_context(**self.context_args, storage_state=storage_state)
        context.set_default_timeout(self.config.section.timeout_s * 1000)
        self.contexts.append(context)
        if traced:
            self.trace(context)
        return context

    def trace(self, context: BrowserContext) -> None:
        """Start the trace of ``context`` (a trace holds every request body: never before a password is sent)."""
        if id(context) not in self.traced:
            context.tracing.start(screenshots=True, snapshots=True)
            self.traced.add(id(context))

    def page(self, storage_state: Any = None) -> Page:
        return self.context(storage_state).new_page()

    def attach_evidence(self) -> None:
        """Screenshot and HTML of every open page, and each context's trace (named by its pages)."""
        for index, context in enumerate(self.contexts, start=1):
            for number, page in enumerate(context.pages, start=1):
                label = f"context {index} page {number} ({page.url})"
                with contextlib.suppress(PlaywrightError):
                    evidence.attach(f"screenshot: {label}", page.screenshot(full_page=True), "png")
                with contextlib.suppress(PlaywrightError):
                    evidence.attach(f"HTML: {label}", page.content(), "html")
            if id(context) in self.traced:
                self._attach_trace(context, index)

    def _attach_trace(self, context: BrowserContext, index: int) -> None:
        with tempfile.TemporaryDirectory(prefix="gonogo-trace-") as folder:
            path = Path(folder) / "trace.zip"
            with contextlib.suppress(PlaywrightError):
                context.tracing.stop(path=path)
                self.traced.discard(id(context))
                allure.attach.file(str(path), name=f"Playwright trace: context {index} ({TRACE_HINT})",
                                   attachment_type="application/zip", extension="zip")

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(PlaywrightError):
                context.close()
        self.contexts.clear()


@dataclass
class SmokeRun:
    """The flows of one session: their run id and tagged customer, the signed-in state, what the shop
    accepted (sales, payments), the report before the first write, and the cleanup."""

    config: SmokeConfig
    browser: Browser
    context_args: dict[str, Any]
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    storage_state: Any = None
    login_problem: str | None = None
    customer_url: str | None = None
    customer_problem: str | None = None
    report_before: dict[str, str] | None = None
    sales: list[RecordedSale] = field(default_factory=list)
    paid_sale: RecordedSale | None = None
    sale_attempted: bool = False
    payments: list[Decimal] = field(default_factory=list)

    @property
    def customer_name(self) -> str:
        """The tag, then the run: what the cleanup removes, and only this run's."""
        return f"{self.config.section.tag} {self.run_id}"

    def _context(self) -> BrowserContext:
        context = self.browser.new_context(**self.context_args, storage_state=self.storage_state)
        context.set_default_timeout(self.config.section.timeout_s * 1000)
        return context

    def adopt(self, storage_state: Any) -> None:
        """Keep a signed-in browser state for the other flows (its cookies are masked in every output)."""
        masker.add_all(cookie["value"] for cookie in storage_state["cookies"])
        if self.storage_state is None:
            self.storage_state = storage_state

    def signed_in(self) -> Any:
        """The browser state of the smoke user, signed in once (untraced: the password is typed);
        a check that needs it is dependent on smoke.login when that fails."""
        if self.storage_state is None and self.login_problem is None:
            context = self._context()
            try:
                login = LoginPage(context.new_page(), self.config).open()
                login.fill(self.config.section.user, self.config.section.password.get_secret_value())
                outcome = login.submit()
                if outcome.ok:
                    self.adopt(context.storage_state())
                else:
                    self.login_problem = f"the shop did not sign the smoke user in: {outcome.text}"
            except PlaywrightError as exc:
                self.login_problem = f"signing in failed: {first_line(exc)}"
            finally:
                context.close()
        if self.storage_state is None:
            from gonogo import skips

            skips.dependent("smoke.login", masker.mask(self.login_problem or "not signed in"))
        return self.storage_state

    def customer(self, page: Page) -> CustomerPage:
        """The tagged customer's page (the customer is added on first use, after the report is read)."""
        if self.customer_url is None and self.customer_problem is None:
            self._read_report_before(page)
            self.customer_problem = "adding it did not finish"
            with step(f"add the tagged customer {self.customer_name}", self.config.url(self.config.data.home_path)):
                shell = ShopPage(page, self.config)
                page.goto(self.config.url(self.config.data.home_path))
                shell.go("nav_customers")
                email = f"{self.config.section.tag}.{self.run_id}@{self.config.data.customer_email_domain}"
                outcome = CustomersPage(page, self.config).add(self.customer_name, email,
                                                               self.config.data.customer_credit_limit)
                if outcome.ok:
                    self.customer_url, self.customer_problem = outcome.url, None
                else:
                    self.customer_problem = outcome.text
            judge("adding the tagged customer", self.customer_problem is None, expected="the customer's page",
                  actual=self.customer_problem or "", where=page.url)
        elif self.customer_url is None:
            judge("adding the tagged customer", False, expected="the customer's page",
                  actual=f"it could not be added earlier in this run: {self.customer_problem}")
        assert self.customer_url is not None
        page.goto(self.customer_url)
        return CustomerPage(page, self.config)

    def _read_report_before(self, page: Page) -> None:
        """The day's figures before the run writes anything (the reports flow compares with them)."""
        with step("read the day's report before the flows write", self.config.url(self.config.data.home_path)):
            page.goto(self.config.url(self.config.data.home_path))
            ShopPage(page, self.config).go("nav_reports")
            self.report_before = ReportsPage(page, self.config).figures()

    def cleanup(self) -> dict[str, Any]:
        """Remove what this run created (its tagged customer, their sales and payments) and sign out.

        Runs at the end of the flows, also when one failed halfway. Returns the shop's answer.
        """
        if self.storage_state is None:
            return {"removed": "nothing: the smoke user never signed in"}
        context = self._context()
        path = self.config.data.remove_tagged_path
        try:
            page = context.new_page()
            page.goto(self.config.url(self.config.data.home_path))
            removed = fetch(page, self.config, self.config.url(path), "POST", {"tag": self.customer_name})
            fetch(page, self.config, self.config.url(self.config.data.logout_path), "POST")
        except PlaywrightError as exc:
            pytest.fail(f"smoke cleanup: POST {path} (tag {self.customer_name!r}) failed: {first_line(exc)}; what "
                        "this run created may still be in the shop", pytrace=False)
        finally:
            context.close()
        body = removed.body.decode("utf-8", "replace")[:2000]
        if removed.status != 200:
            pytest.fail(f"smoke cleanup: POST {path} (tag {self.customer_name!r}) answered {removed.status}: "
                        f"{body[:300]}; what this run created is still in the shop", pytrace=False)
        return {"status": removed.status, "body": body}
