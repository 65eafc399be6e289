"""Business operations: recording sales and payments, and what happens after they commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import kombu.exceptions
import redis.exceptions
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F

from . import faults
from .consumers import ORDERS_GROUP
from .models import ZERO, CreditPayment, Customer, PaymentMethod, Product, Sale, SaleLine

logger = logging.getLogger(__name__)
T = TypeVar("T")

CONNECTION_ERRORS = (ConnectionError, redis.exceptions.ConnectionError, kombu.exceptions.OperationalError)


def retry_stale_connection(call: Callable[[], T]) -> T:
    """Run `call`, once more if it fails on a connection error.

    Pooled Redis connections go stale when Redis restarts: the first use fails and is discarded,
    the second gets a fresh connection. A real outage fails twice (timeouts are not retried).
    """
    try:
        return call()
    except CONNECTION_ERRORS:
        return call()


class SaleError(Exception):
    """A sale could not be recorded; the message is safe to show to the cashier."""


@dataclass(frozen=True)
class LineRequest:
    """One requested sale line."""

    product: Product
    quantity: int


def record_sale(
    lines: list[LineRequest],
    payment_method: str,
    customer: Customer | None = None,
    user=None,
) -> Sale:
    """Record a sale atomically: lock products, check stock and credit, decrement stock.

    After commit, the invoice PDF is queued for the worker and `/ws/orders/` clients are told.
    """
    if faults.active("sale-broken"):
        logger.warning("sale not recorded: payment terminal unavailable")
        raise SaleError("Payment terminal unavailable")
    if not lines:
        raise SaleError("Add at least one product to the sale.")
    if payment_method not in PaymentMethod.values:
        raise SaleError("Unknown payment method.")
    if payment_method == PaymentMethod.CREDIT and customer is None:
        raise SaleError("A credit sale needs a customer.")

    quantities: dict[int, int] = {}
    for line in lines:
        quantities[line.product.pk] = quantities.get(line.product.pk, 0) + line.quantity

    with transaction.atomic():
        products = Product.objects.select_for_update().in_bulk(sorted(quantities))
        for pk, quantity in quantities.items():
            product = products[pk]
            if not product.active:
                raise SaleError(f"{product.name} is not for sale.")
            if product.stock < quantity:
                raise SaleError(f"Only {product.stock} of {product.name} left in stock.")
        total = sum((products[pk].price * qty for pk, qty in quantities.items()), ZERO)
        if payment_method == PaymentMethod.CREDIT:
            assert customer is not None
            customer = Customer.objects.select_for_update().get(pk=customer.pk)
            if customer.balance + total > customer.credit_limit:
                raise SaleError(
                    f"Credit limit exceeded: {customer.name} owes {customer.balance}, "
                    f"limit {customer.credit_limit}."
                )
        sale = Sale.objects.create(
            created_by=user if getattr(user, "is_authenticated", False) else None,
            customer=customer,
            payment_method=payment_method,
            total=total,
        )
        SaleLine.objects.bulk_create(
            SaleLine(sale=sale, product=products[pk], quantity=qty, unit_price=products[pk].price)
            for pk, qty in quantities.items()
        )
        for pk, qty in quantities.items():
            Product.objects.filter(pk=pk).update(stock=F("stock") - qty)
        transaction.on_commit(lambda: _after_sale(sale))
    logger.info("sale %s recorded: %s %s", sale.number, sale.total, sale.payment_method)
    return sale


def _after_sale(sale: Sale) -> None:
    """Queue the invoice PDF and broadcast the sale; failures here do not undo the sale."""
    from .tasks import render_invoice_pdf

    try:
        render_invoice_pdf.delay(sale.pk)
    except Exception as exc:  # broker down: the PDF view queues it again on demand
        logger.warning("could not queue invoice PDF for %s: %s", sale.number, exc)
    broadcast_sale(sale)


def broadcast_sale(sale: Sale) -> None:
    """Tell every `/ws/orders/` client about a recorded sale."""
    message = {
        "type": "sale.recorded",
        "sale_id": sale.pk,
        "total": f"{sale.total:.2f}",
        "payment": sale.payment_method,
    }
    send = async_to_sync(get_channel_layer().group_send)
    try:
        retry_stale_connection(lambda: send(ORDERS_GROUP, message))
    except Exception as exc:  # channel layer (Redis) down: the sale itself stands
        logger.warning("could not broadcast %s: %s", sale.number, exc)


def record_payment(customer: Customer, amount: Decimal, method: str, note: str = "", user=None) -> bool:
    """Record a payment against the customer's credit balance.

    Returns True when recorded. Under the `credit-broken` fault the payment is silently dropped
    (the caller still reports success), which is exactly the bug that fault simulates.
    """
    if amount <= ZERO:
        raise SaleError("The amount must be positive.")
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if amount > customer.balance:
            raise SaleError(f"{customer.name} owes only {customer.balance}.")
        if faults.active("credit-broken"):
            return False
        CreditPayment.objects.create(
            customer=customer,
            amount=amount,
            method=method,
            note=note,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
    logger.info("payment of %s recorded for customer %s", amount, customer.pk)
    return True
