"""Tagged test data: what an automated smoke test creates carries a tag, and is removed with it.

A smoke test (gonogo's browser flows) creates a customer whose name starts with its tag and makes
every sale and payment for that customer. :func:`remove_tagged` takes all of it away again: the
payments, the sales (their lines with them, their stock put back, their invoice PDFs deleted) and
the customers, so the shop's figures are what they were before the test.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from .models import CreditPayment, Customer, Product, Sale, SaleLine

#: a shorter prefix could match real customers' names
MIN_TAG_LENGTH = 8


def remove_tagged(tag: str) -> dict[str, int]:
    """Remove the customers whose name starts with ``tag`` and everything recorded for them."""
    if len(tag.strip()) < MIN_TAG_LENGTH:
        raise ValueError(f"a tag has at least {MIN_TAG_LENGTH} characters")
    with transaction.atomic():
        customers = list(Customer.objects.select_for_update().filter(name__startswith=tag))
        sales = Sale.objects.filter(customer__in=customers)
        lines = list(SaleLine.objects.filter(sale__in=sales).values_list("product_id", "quantity"))
        products = {pk: 0 for pk, _ in lines}
        for pk, quantity in lines:
            products[pk] += quantity
        for pk in Product.objects.select_for_update().filter(pk__in=sorted(products)).values_list("pk", flat=True):
            Product.objects.filter(pk=pk).update(stock=F("stock") + products[pk])
        pdfs = [name for name in sales.values_list("invoice_pdf", flat=True) if name]
        counts = {
            "customers": len(customers),
            "sales": sales.count(),
            "payments": CreditPayment.objects.filter(customer__in=customers).delete()[0],
            "units_restocked": sum(products.values()),
        }
        sales.delete()
        Customer.objects.filter(pk__in=[c.pk for c in customers]).delete()
        transaction.on_commit(lambda: [default_storage.delete(name) for name in pdfs])
    return counts
