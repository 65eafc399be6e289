"""Create the demo user, products and customers. Idempotent: safe to run on every deploy."""

from __future__ import annotations

import os
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shop.models import Customer, Product

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


class Command(BaseCommand):
    help = "Create or update the demo user ($DEMO_USER/$DEMO_PASSWORD), products and customers."

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
        self.stdout.write(
            f"seed_demo_data: user {username} {'created' if user_created else 'present'}, "
            f"{created_products} products and {created_customers} customers created "
            f"({Product.objects.count()} products, {Customer.objects.count()} customers in total)"
        )
