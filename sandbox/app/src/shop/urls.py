"""Shop page URLs (namespace `shop`)."""

from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("", views.home, name="home"),
    path("products/", views.product_list, name="product-list"),
    path("sales/", views.sale_list, name="sale-list"),
    path("sales/new/", views.sale_new, name="sale-new"),
    path("sales/<int:pk>/", views.sale_detail, name="sale-detail"),
    path("sales/<int:pk>/invoice/", views.invoice, name="invoice"),
    path("sales/<int:pk>/invoice.pdf", views.invoice_pdf, name="invoice-pdf"),
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/new/", views.customer_new, name="customer-new"),
    path("customers/<int:pk>/", views.customer_detail, name="customer-detail"),
    path("reports/", views.report, name="reports"),
]
