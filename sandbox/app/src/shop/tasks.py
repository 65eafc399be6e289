"""Celery tasks: invoice PDFs, scheduled backups and the daily report."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import backups, invoices, reports
from .models import Sale

logger = logging.getLogger(__name__)


@shared_task
def render_invoice_pdf(sale_id: int) -> str:
    """Render a sale's invoice PDF into MEDIA_ROOT/invoices/ and return its storage name."""
    sale = Sale.objects.select_related("customer").get(pk=sale_id)
    name = invoices.store_pdf(sale)
    logger.info("invoice %s rendered to %s", sale.number, name)
    return name


@shared_task
def scheduled_backup() -> dict[str, object]:
    """Back up the database and media (celery beat, every 6 hours)."""
    return backups.run_backup()


@shared_task
def daily_report(day: str | None = None) -> dict[str, object]:
    """Write yesterday's (or `day`'s, ISO date) totals to MEDIA_ROOT/reports/daily-<day>.json."""
    date = dt.date.fromisoformat(day) if day else timezone.localdate() - dt.timedelta(days=1)
    report = reports.as_json(reports.daily_totals(date))
    target = Path(settings.MEDIA_ROOT) / "reports" / f"daily-{date.isoformat()}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.info("daily report for %s: %s sales, total %s", date, report["sales_count"], report["sales_total"])
    return report
