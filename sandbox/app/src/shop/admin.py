"""Django admin registrations for back-office edits."""

from django.contrib import admin

from .models import CreditPayment, Customer, Product, Sale, SaleLine


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "price", "stock", "active")
    search_fields = ("sku", "name")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "credit_limit")
    search_fields = ("name", "email")


class SaleLineInline(admin.TabularInline):
    model = SaleLine
    extra = 0


@admin.register(Sale)
class SaleAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "payment_method", "customer", "total")
    list_filter = ("payment_method",)
    inlines = [SaleLineInline]


@admin.register(CreditPayment)
class CreditPaymentAdmin(admin.ModelAdmin):
    list_display = ("customer", "amount", "method", "created_at")
