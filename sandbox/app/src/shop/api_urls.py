"""JSON API URLs under /api/v1/."""

from django.urls import path

from . import views, webhooks

urlpatterns = [
    path("auth/csrf/", views.csrf, name="api-csrf"),
    path("payments/webhook/", webhooks.payments_webhook, name="api-payments-webhook"),
]
