"""Shop data: products, customers, sales with their lines, and payments against credit."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Sum
from django.urls import reverse

ZERO = Decimal("0.00")


class PaymentMethod(models.TextChoices):
    """How a sale is settled; `credit` puts it on the customer's account."""

    CASH = "cash", "Cash"
    CARD = "card", "Card"
    CREDIT = "credit", "Credit (customer account)"


class Product(models.Model):
    """Something the boutique sells."""

    sku = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(ZERO)])
    stock = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Customer(models.Model):
    """A customer who may buy on credit up to `credit_limit`."""

    name = models.CharField(max_length=120)
    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=32, blank=True)
    credit_limit = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("500.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:customer-detail", args=[self.pk])

    def credit_total(self) -> Decimal:
        """Sum of this customer's sales paid on credit."""
        total = self.sales.filter(payment_method=PaymentMethod.CREDIT).aggregate(s=Sum("total"))["s"]
        return total or ZERO

    def paid_total(self) -> Decimal:
        """Sum of payments received against credit."""
        return self.payments.aggregate(s=Sum("amount"))["s"] or ZERO

    @property
    def balance(self) -> Decimal:
        """What the customer owes: credit sales minus payments."""
        return self.credit_total() - self.paid_total()


class Sale(models.Model):
    """A recorded sale; `total` is the sum of its lines, fixed when recorded."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="sales"
    )
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    invoice_pdf = models.FileField(upload_to="invoices/", blank=True)
    invoice_rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Daily reports filter sales by day and payment method (added in migration 0002).
            models.Index(fields=["created_at", "payment_method"], name="shop_sale_day_method_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.total} {self.payment_method}"

    @property
    def number(self) -> str:
        """Human invoice number, e.g. INV-000042."""
        return f"INV-{self.pk:06d}"

    def get_absolute_url(self) -> str:
        return reverse("shop:sale-detail", args=[self.pk])


class SaleLine(models.Model):
    """One product on a sale, priced at the time of sale."""

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="sale_lines")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product.name}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class CreditPayment(models.Model):
    """Money received from a customer against their credit balance."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    method = models.CharField(
        max_length=10,
        choices=[(PaymentMethod.CASH, "Cash"), (PaymentMethod.CARD, "Card")],
        default=PaymentMethod.CASH,
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer} paid {self.amount}"
