"""Server-rendered pages: products, sales, invoices, customers, reports; and the CSRF API."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import faults, reports, tagged
from .forms import CustomerForm, PaymentForm, SaleForm, SaleLineFormSet
from .models import ZERO, CreditPayment, Customer, PaymentMethod, Product, Sale
from .services import SaleError, record_payment, record_sale
from .tasks import render_invoice_pdf

logger = logging.getLogger(__name__)

PDF_WAIT_SECONDS = 15.0


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return redirect("shop:product-list")


@require_safe
def product_list(request: HttpRequest) -> HttpResponse:
    products = Product.objects.filter(active=True)
    return render(request, "shop/product_list.html", {"products": products})


@require_safe
def sale_list(request: HttpRequest) -> HttpResponse:
    sales = Sale.objects.select_related("customer")
    page = Paginator(sales, 25).get_page(request.GET.get("page"))
    return render(request, "shop/sale_list.html", {"page": page})


@require_http_methods(["GET", "HEAD", "POST"])
def sale_new(request: HttpRequest) -> HttpResponse:
    """The sale screen: several lines, paid by cash, card or on a customer's credit."""
    error = ""
    if request.method == "POST":
        form = SaleForm(request.POST)
        formset = SaleLineFormSet(request.POST)
        if form.is_valid() and formset.is_valid():
            lines = [line for line in (f.line() for f in formset) if line is not None]
            try:
                sale = record_sale(
                    lines,
                    form.cleaned_data["payment_method"],
                    customer=form.cleaned_data["customer"],
                    user=request.user,
                )
            except SaleError as exc:
                error = str(exc)
            else:
                messages.success(request, f"Sale {sale.number} recorded: {sale.total:.2f}")
                return redirect(sale)
    else:
        initial_customer = request.GET.get("customer")
        form = SaleForm(initial={"customer": initial_customer} if initial_customer else None)
        formset = SaleLineFormSet()
    return render(request, "shop/sale_form.html", {"form": form, "formset": formset, "error": error})


def _sale(pk: int) -> Sale:
    return get_object_or_404(Sale.objects.select_related("customer", "created_by"), pk=pk)


@require_safe
def sale_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sale = _sale(pk)
    lines = sale.lines.select_related("product")
    return render(request, "shop/sale_detail.html", {"sale": sale, "lines": lines})


@require_safe
def invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """Printable invoice; under the `invoice-broken` fault it renders without lines and total."""
    sale = _sale(pk)
    broken = faults.active("invoice-broken")
    lines = [] if broken else list(sale.lines.select_related("product"))
    return render(request, "shop/invoice.html", {"sale": sale, "lines": lines, "broken": broken})


@require_safe
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice PDF rendered by the worker; queued (again) and awaited when not there yet."""
    sale = _sale(pk)
    if faults.active("invoice-broken"):
        return HttpResponse(b"", content_type="application/pdf")
    if not _pdf_exists(sale):
        try:
            render_invoice_pdf.delay(sale.pk)
        except Exception as exc:
            logger.warning("could not queue invoice PDF for %s: %s", sale.number, exc)
        deadline = time.monotonic() + PDF_WAIT_SECONDS
        while not _pdf_exists(sale) and time.monotonic() < deadline:
            time.sleep(0.2)
            sale.refresh_from_db(fields=["invoice_pdf", "invoice_rendered_at"])
    if not _pdf_exists(sale):
        response = render(request, "shop/invoice_pending.html", {"sale": sale}, status=202)
        response["Retry-After"] = "5"
        return response
    with sale.invoice_pdf.open("rb") as handle:
        data = handle.read()
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{sale.number}.pdf"'
    return response


def _pdf_exists(sale: Sale) -> bool:
    return bool(sale.invoice_pdf) and sale.invoice_pdf.storage.exists(sale.invoice_pdf.name)


def _with_balances(customers):
    """Annotate customers with credit sales, payments and balance in one query."""
    money = DecimalField(max_digits=12, decimal_places=2)
    credit = (
        Sale.objects.filter(customer=OuterRef("pk"), payment_method=PaymentMethod.CREDIT)
        .values("customer")
        .annotate(s=Sum("total"))
        .values("s")
    )
    paid = (
        CreditPayment.objects.filter(customer=OuterRef("pk"))
        .values("customer")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return customers.annotate(
        credit_sum=Coalesce(Subquery(credit, output_field=money), Value(ZERO), output_field=money),
        paid_sum=Coalesce(Subquery(paid, output_field=money), Value(ZERO), output_field=money),
    ).annotate(balance_owed=ExpressionWrapper(F("credit_sum") - F("paid_sum"), output_field=money))


@require_safe
def customer_list(request: HttpRequest) -> HttpResponse:
    customers = _with_balances(Customer.objects.all())
    return render(request, "shop/customer_list.html", {"customers": customers})


@require_http_methods(["GET", "HEAD", "POST"])
def customer_new(request: HttpRequest) -> HttpResponse:
    """Add a customer (who may then buy on credit)."""
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = form.save()
        messages.success(request, f"Customer {customer.name} added.")
        return redirect(customer)
    return render(request, "shop/customer_form.html", {"form": form})


@require_http_methods(["GET", "HEAD", "POST"])
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Balance, history, and a form to take a payment against the credit balance."""
    customer = get_object_or_404(Customer, pk=pk)
    error = ""
    if request.method == "POST":
        form = PaymentForm(request.POST)
        if form.is_valid():
            amount = form.cleaned_data["amount"]
            try:
                record_payment(
                    customer, amount, form.cleaned_data["method"], form.cleaned_data["note"], request.user
                )
            except SaleError as exc:
                error = str(exc)
            else:
                messages.success(request, f"Payment of {amount:.2f} recorded for {customer.name}.")
                return redirect(customer)
    else:
        form = PaymentForm()
    context = {
        "customer": customer,
        "balance": customer.balance,
        "form": form,
        "error": error,
        "credit_sales": customer.sales.filter(payment_method=PaymentMethod.CREDIT)[:20],
        "payments": customer.payments.all()[:20],
    }
    return render(request, "shop/customer_detail.html", context)


@require_safe
def report(request: HttpRequest) -> HttpResponse:
    """The day's totals (today by default, or ?date=YYYY-MM-DD)."""
    if faults.active("log-errors"):
        raise RuntimeError("report aggregation failed: totals query returned inconsistent rows")
    try:
        day = dt.date.fromisoformat(request.GET["date"]) if request.GET.get("date") else timezone.localdate()
    except ValueError:
        raise Http404("invalid date") from None
    return render(request, "shop/report.html", {"report": reports.daily_totals(day)})


@require_POST
def remove_tagged_data(request: HttpRequest) -> JsonResponse:
    """Staff only: remove the customers whose name starts with ``tag`` and all recorded for them (smoke tests)."""
    if not request.user.is_staff:
        return JsonResponse({"error": "staff only"}, status=403)
    try:
        removed = tagged.remove_tagged(request.POST.get("tag", ""))
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    logger.info("tagged data removed: %s", removed)
    return JsonResponse({"removed": removed})


@login_not_required
@require_safe
@ensure_csrf_cookie
def csrf(request: HttpRequest) -> JsonResponse:
    """Sets the csrftoken cookie (for API clients and scripts) and returns the token."""
    return JsonResponse({"csrfToken": get_token(request)})
