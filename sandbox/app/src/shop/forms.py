"""Forms for the sale screen and for payments against credit."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from .models import Customer, PaymentMethod, Product
from .services import LineRequest

SALE_LINE_ROWS = 5


class ProductChoiceField(forms.ModelChoiceField):
    """Product picker whose options read "Linen T-shirt (TSH-001) · 24.50"."""

    def label_from_instance(self, obj: Product) -> str:
        return f"{obj.name} ({obj.sku}) · {obj.price}"


class SaleLineForm(forms.Form):
    """One row of the sale screen; blank rows are ignored."""

    product = ProductChoiceField(
        queryset=Product.objects.filter(active=True),
        to_field_name="sku",  # option values are SKUs: stable across databases
        required=False,
        empty_label="-- product --",
    )
    quantity = forms.IntegerField(min_value=1, max_value=999, initial=1, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        row = (self.prefix or "form-0").rsplit("-", 1)[-1]
        self.fields["product"].widget.attrs["data-testid"] = f"sale-line-product-{row}"
        self.fields["quantity"].widget.attrs["data-testid"] = f"sale-line-quantity-{row}"

    def line(self) -> LineRequest | None:
        """The requested line, or None for an empty row."""
        product = self.cleaned_data.get("product")
        if product is None:
            return None
        return LineRequest(product=product, quantity=self.cleaned_data.get("quantity") or 1)


SaleLineFormSet = forms.formset_factory(SaleLineForm, extra=SALE_LINE_ROWS, max_num=50)


class SaleForm(forms.Form):
    """How the sale is paid, and by whom for credit."""

    payment_method = forms.ChoiceField(
        choices=PaymentMethod.choices,
        initial=PaymentMethod.CASH,
        widget=forms.Select(attrs={"data-testid": "sale-payment"}),
    )
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(),
        required=False,
        empty_label="-- walk-in customer --",
        widget=forms.Select(attrs={"data-testid": "sale-customer"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("payment_method") == PaymentMethod.CREDIT and not data.get("customer"):
            self.add_error("customer", "Choose the customer for a credit sale.")
        return data


class CustomerForm(forms.ModelForm):
    """A new customer: name, email, phone and credit limit."""

    class Meta:
        model = Customer
        fields = ["name", "email", "phone", "credit_limit"]
        widgets = {
            "name": forms.TextInput(attrs={"data-testid": "new-customer-name"}),
            "email": forms.EmailInput(attrs={"data-testid": "new-customer-email"}),
            "phone": forms.TextInput(attrs={"data-testid": "new-customer-phone"}),
            "credit_limit": forms.NumberInput(attrs={"data-testid": "new-customer-credit-limit", "step": "0.01"}),
        }


class PaymentForm(forms.Form):
    """A payment received against a customer's credit balance."""

    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"data-testid": "payment-amount", "step": "0.01"}),
    )
    method = forms.ChoiceField(
        choices=[(PaymentMethod.CASH, "Cash"), (PaymentMethod.CARD, "Card")],
        initial=PaymentMethod.CASH,
        widget=forms.Select(attrs={"data-testid": "payment-method"}),
    )
    note = forms.CharField(
        max_length=200, required=False, widget=forms.TextInput(attrs={"data-testid": "payment-note"})
    )
