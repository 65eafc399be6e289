"""The shop's own tests: `python manage.py test shop` (the release's test command, runbook BTQ-1.4).

Only `SimpleTestCase`s: they touch no database, so the test runner creates no test database and the
command can run inside the production web container, which is where the release runbook runs it.
A test that needs the database belongs in a separate suite that runs against a scratch database.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from decimal import Decimal
from pathlib import Path

from django.http import HttpResponse
from django.test import RequestFactory, SimpleTestCase, override_settings

from . import faults, signatures, tagged
from .backups import set_pattern
from .forms import CustomerForm, PaymentForm, SaleForm
from .invoices import _text
from .middleware import flapping_fault
from .models import PaymentMethod, Sale, SaleLine
from .reports import as_json, day_bounds
from .services import SaleError, record_sale


class InvoiceTests(SimpleTestCase):
    def test_invoice_number_is_zero_padded(self) -> None:
        self.assertEqual(Sale(pk=42).number, "INV-000042")
        self.assertEqual(Sale(pk=1234567).number, "INV-1234567")

    def test_line_total_is_exact(self) -> None:
        line = SaleLine(unit_price=Decimal("24.50"), quantity=3)
        self.assertEqual(line.line_total, Decimal("73.50"))

    def test_pdf_text_replaces_what_core_fonts_cannot_print(self) -> None:
        self.assertEqual(_text("Café Ünïcode"), "Café Ünïcode")  # Latin-1 stays
        self.assertEqual(_text("Zoë 😀 €5"), "Zoë ? ?5")


class ReportTests(SimpleTestCase):
    def test_day_bounds_cover_one_utc_day(self) -> None:
        start, end = day_bounds(dt.date(2026, 3, 29))
        self.assertEqual(start.isoformat(), "2026-03-29T00:00:00+00:00")
        self.assertEqual(end - start, dt.timedelta(days=1))

    def test_json_report_has_two_decimal_amounts_and_iso_dates(self) -> None:
        report = {
            "date": dt.date(2026, 1, 2),
            "sales_total": Decimal("12.5"),
            "by_method": {"cash": {"count": 2, "total": Decimal("7")}},
            "top_products": [{"revenue": Decimal("3.456")}],
        }
        expected = {
            "date": "2026-01-02",
            "sales_total": "12.50",
            "by_method": {"cash": {"count": 2, "total": "7.00"}},
            "top_products": [{"revenue": "3.46"}],
        }
        self.assertEqual(as_json(report), expected)


class BackupNameTests(SimpleTestCase):
    def test_pattern_matches_this_environment_only(self) -> None:
        pattern = set_pattern("prod")
        dump = pattern.match("boutique_prod_20260101T000500Z.sql.gz")
        self.assertIsNotNone(dump)
        self.assertEqual(dump["a"], "20260101T000500Z")
        self.assertIsNotNone(pattern.match("media_prod_20260101T000500Z.tar.gz.sha256"))
        self.assertIsNone(pattern.match("boutique_staging_20260101T000500Z.sql.gz"))
        self.assertIsNone(pattern.match("boutique_prod_latest.sql.gz"))


@override_settings(FAULTS_DIR="")  # the sandbox's fault flags are not what these tests are about
class SaleRuleTests(SimpleTestCase):
    def test_fault_flags_are_off_without_a_folder(self) -> None:
        self.assertFalse(faults.active("sale-broken"))

    def test_a_sale_needs_a_line(self) -> None:
        with self.assertRaisesMessage(SaleError, "Add at least one product"):
            record_sale([], PaymentMethod.CASH)

    def test_a_credit_sale_needs_a_customer(self) -> None:
        with self.assertRaisesMessage(SaleError, "A credit sale needs a customer"):
            record_sale([object()], PaymentMethod.CREDIT)  # type: ignore[list-item]  # refused before any line is read

    def test_unknown_payment_method_is_refused(self) -> None:
        with self.assertRaisesMessage(SaleError, "Unknown payment method"):
            record_sale([object()], "cheque")  # type: ignore[list-item]

    def test_sale_form_asks_for_the_customer_of_a_credit_sale(self) -> None:
        form = SaleForm(data={"payment_method": PaymentMethod.CREDIT, "customer": ""})
        self.assertFalse(form.is_valid())
        self.assertIn("customer", form.errors)

    def test_payment_must_be_positive(self) -> None:
        self.assertFalse(PaymentForm(data={"amount": "0.00", "method": PaymentMethod.CASH}).is_valid())
        self.assertTrue(PaymentForm(data={"amount": "10.00", "method": PaymentMethod.CASH}).is_valid())


class FlappingTests(SimpleTestCase):
    def test_every_fifth_request_since_the_flag_appeared_answers_502_except_liveness(self) -> None:
        with (tempfile.TemporaryDirectory() as faults_dir, override_settings(FAULTS_DIR=faults_dir),
              self.assertLogs("shop.middleware", "WARNING") as logged):
            handler = flapping_fault(lambda request: HttpResponse("ok"))
            get = RequestFactory().get
            self.assertEqual({handler(get("/health/ready/")).status_code for _ in range(7)}, {200})  # no flag
            flag = Path(faults_dir) / "flapping"
            flag.write_text("on\n")
            codes = [handler(get("/health/ready/")).status_code for _ in range(20)]
            self.assertEqual([i for i, code in enumerate(codes, 1) if code == 502], [5, 10, 15, 20])
            self.assertEqual({handler(get("/health/live/")).status_code for _ in range(10)}, {200})
            os.utime(flag, ns=(0, 0))  # applied again: the count starts again
            codes = [handler(get("/products/")).status_code for _ in range(5)]
            self.assertEqual(codes, [200, 200, 200, 200, 502])
        self.assertEqual(len(logged.records), 5)  # a WARNING each, never Django's ERROR for a 5xx


class TaggedDataTests(SimpleTestCase):
    def test_a_short_tag_is_refused_before_the_database_is_touched(self) -> None:
        for tag in ("", "   ", "smoke"):
            with self.assertRaisesMessage(ValueError, "at least 8 characters"):
                tagged.remove_tagged(tag)

    def test_the_new_customer_form_is_selectable_by_test_id(self) -> None:
        html = str(CustomerForm())
        for testid in ("new-customer-name", "new-customer-email", "new-customer-credit-limit"):
            self.assertIn(f'data-testid="{testid}"', html)


class WebhookSignatureTests(SimpleTestCase):
    SECRET = "whsec_test"
    BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'

    def test_a_genuine_event_passes(self) -> None:
        header = signatures.sign(self.SECRET, self.BODY, 1_000_000)
        self.assertIsNone(signatures.problem(header, self.BODY, self.SECRET, now=1_000_010))

    def test_one_matching_signature_among_several_passes(self) -> None:
        header = signatures.sign(self.SECRET, self.BODY, 1_000_000) + ",v1=" + "0" * 64
        self.assertIsNone(signatures.problem(header, self.BODY, self.SECRET, now=1_000_000))

    def test_unsigned_wrongly_signed_altered_and_stale_events_are_refused(self) -> None:
        now = 1_000_000
        cases = {
            "no Stripe-Signature header": (None, self.BODY),
            "malformed Stripe-Signature header": ("v1=abc", self.BODY),
            "no signature matches": (signatures.sign("whsec_other", self.BODY, now), self.BODY),
            "timestamp outside the 300 s tolerance": (signatures.sign(self.SECRET, self.BODY, now - 301), self.BODY),
        }
        for expected, (header, body) in cases.items():
            with self.subTest(expected):
                self.assertEqual(signatures.problem(header, body, self.SECRET, now=now), expected)
        altered = signatures.sign(self.SECRET, self.BODY, now)
        self.assertEqual(signatures.problem(altered, self.BODY + b" ", self.SECRET, now=now), "no signature matches")

    def test_without_a_secret_nothing_passes(self) -> None:
        header = signatures.sign("", self.BODY, 1_000_000)
        self.assertEqual(signatures.problem(header, self.BODY, "", now=1_000_000), "no webhook secret is configured")
