"""Daily sales figures, shared by the reports page and the daily report task."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, F, Sum
from django.utils import timezone

from .models import ZERO, CreditPayment, PaymentMethod, Sale, SaleLine


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Start (inclusive) and end (exclusive) of `day` in the current time zone."""
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def daily_totals(day: dt.date) -> dict:
    """Totals for one day: sales count and revenue, split by payment method, payments, top products."""
    start, end = day_bounds(day)
    sales = Sale.objects.filter(created_at__gte=start, created_at__lt=end)
    overall = sales.aggregate(count=Count("id"), total=Sum("total"))
    by_method: dict[str, dict[str, object]] = {
        method: {"label": label, "count": 0, "total": ZERO} for method, label in PaymentMethod.choices
    }
    for row in sales.values("payment_method").annotate(count=Count("id"), total=Sum("total")):
        by_method[row["payment_method"]].update(count=row["count"], total=row["total"] or ZERO)
    payments = CreditPayment.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        count=Count("id"), total=Sum("amount")
    )
    top_products = list(
        SaleLine.objects.filter(sale__created_at__gte=start, sale__created_at__lt=end)
        .values("product__sku", "product__name")
        .annotate(units=Sum("quantity"), revenue=Sum(F("quantity") * F("unit_price")))
        .order_by("-units", "product__name")[:5]
    )
    return {
        "date": day,
        "sales_count": overall["count"] or 0,
        "sales_total": overall["total"] or ZERO,
        "by_method": by_method,
        "payments_count": payments["count"] or 0,
        "payments_total": payments["total"] or ZERO,
        "top_products": top_products,
    }


def as_json(report: dict) -> dict:
    """The report with dates and decimals turned into strings, ready for json.dumps."""

    def convert(value: object) -> object:
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    return convert(report)  # type: ignore[return-value]
