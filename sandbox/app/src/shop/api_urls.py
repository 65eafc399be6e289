"""JSON API URLs under /api/v1/."""

from django.urls import path

from . import views, webhooks

urlpatterns = [
    path("auth/csrf/", views.csrf, name="api-csrf"),
    path("tagged-data/remove/", views.remove_tagged_data, name="api-remove-tagged-data"),
    path("payments/webhook/", webhooks.payments_webhook, name="api-payments-webhook"),
]
