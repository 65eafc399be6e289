"""Create the demo user, products and customers, and a shop history: 20 sales of 30 to 90 days ago
(their lines, and for the credit ones the payment that settled them). Idempotent: safe to run on every
deploy (the history is written once, into a shop that has no sale older than 14 days)."""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shop import faults
from shop.models import CreditPayment, Customer, PaymentMethod, Product, Sale, SaleLine

PRODUCTS = [
    ("TSH-001", "Linen T-shirt", "24.50"),
    ("SCF-002", "Silk scarf", "39.00"),
    ("MUG-003", "Ceramic mug", "12.50"),
    ("CND-004", "Beeswax candle", "9.75"),
    ("TOT-005", "Canvas tote bag", "18.00"),
    ("NTB-006", "Recycled notebook", "7.25"),
    ("SOC-007", "Wool socks", "14.90"),
    ("SOP-008", "Olive oil soap", "5.50"),
]
CUSTOMERS = [
    ("Alice Martin", "alice@example.test", "5000.00"),
    ("Bruno Costa", "bruno@example.test", "5000.00"),
    ("Chloe Dubois", "chloe@example.test", "5000.00"),
]
INITIAL_STOCK = 1000
#: the shop's past: this many sales, spread over 30 to 90 days ago (the same ones on every fresh shop)
HISTORY_SALES = 20
HISTORY_DAYS = (30, 90)
#: a shop that holds a sale older than this has its history already
HISTORY_AFTER_DAYS = 14


class Command(BaseCommand):
    help = "Create or update the demo user ($DEMO_USER/$DEMO_PASSWORD), products and customers; write the shop's history once."

    def handle(self, *args, **options) -> None:
        username = os.environ.get("DEMO_USER", "demo")
        password = os.environ.get("DEMO_PASSWORD")
        if not password:
            raise CommandError("DEMO_PASSWORD is not set")
        with transaction.atomic():
            user, user_created = get_user_model().objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.test"}
            )
            if user_created or not user.check_password(password) or not user.is_staff:
                user.set_password(password)
                user.is_staff = True
                user.save()
            created_products = 0
            for sku, name, price in PRODUCTS:
                _, created = Product.objects.get_or_create(
                    sku=sku, defaults={"name": name, "price": Decimal(price), "stock": INITIAL_STOCK}
                )
                created_products += created
            created_customers = 0
            for name, email, limit in CUSTOMERS:
                _, created = Customer.objects.get_or_create(
                    email=email, defaults={"name": name, "credit_limit": Decimal(limit)}
                )
                created_customers += created
        history = self.seed_history(user)
        self.stdout.write(
            f"seed_demo_data: user {username} {'created' if user_created else 'present'}, "
            f"{created_products} products and {created_customers} customers created "
            f"({Product.objects.count()} products, {Customer.objects.count()} customers in total); {history}"
        )

    def seed_history(self, user) -> str:
        """Old sales, written once: cash, card, and credit sales each settled by a payment a few days
        later (so the customers owe nothing), created_at set after creation (it is auto_now_add)."""
        now = timezone.now()
        if faults.active("rows-lost"):
            # the sandbox's `rows-lost` fault deleted the old sales and puts the same rows back on heal:
            # a deploy meanwhile must not write them again
            return "history left alone: the rows-lost fault is active"
        if Sale.objects.filter(created_at__lt=now - dt.timedelta(days=HISTORY_AFTER_DAYS)).exists():
            return "history present"
        rng = random.Random(20260101)  # the same history on every fresh shop
        products = list(Product.objects.filter(sku__in=[sku for sku, _, _ in PRODUCTS]).order_by("sku"))
        customers = list(Customer.objects.filter(email__in=[email for _, email, _ in CUSTOMERS]).order_by("email"))
        first, last = HISTORY_DAYS
        step = (last - first) / HISTORY_SALES
        methods = [PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.CREDIT]
        sold: dict[int, int] = {}
        payments = 0
        with transaction.atomic():
            for i in range(HISTORY_SALES):
                created_at = (now - dt.timedelta(days=last - i * step, hours=rng.randint(0, 8))).replace(microsecond=0)
                method = methods[i % len(methods)]
                customer = customers[(i // len(methods)) % len(customers)] if method == PaymentMethod.CREDIT else None
                lines = [(product, rng.randint(1, 3)) for product in rng.sample(products, rng.randint(1, 3))]
                total = sum((product.price * quantity for product, quantity in lines), Decimal("0.00"))
                sale = Sale.objects.create(created_by=user, customer=customer, payment_method=method, total=total)
                SaleLine.objects.bulk_create(
                    SaleLine(sale=sale, product=product, quantity=quantity, unit_price=product.price)
                    for product, quantity in lines
                )
                Sale.objects.filter(pk=sale.pk).update(created_at=created_at)
                for product, quantity in lines:
                    sold[product.pk] = sold.get(product.pk, 0) + quantity
                if customer is not None:
                    payment = CreditPayment.objects.create(
                        customer=customer, amount=total, method=PaymentMethod.CARD, note=f"settles {sale.number}",
                        created_by=user,
                    )
                    CreditPayment.objects.filter(pk=payment.pk).update(
                        created_at=created_at + dt.timedelta(days=rng.randint(1, 5))
                    )
                    payments += 1
            for pk, quantity in sold.items():
                Product.objects.filter(pk=pk).update(stock=F("stock") - quantity)
        return f"history: {HISTORY_SALES} sales of {first} to {last} days ago and {payments} payments created"
