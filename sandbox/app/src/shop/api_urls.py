"""JSON API URLs under /api/v1/."""

from django.urls import path

from . import views

urlpatterns = [
    path("auth/csrf/", views.csrf, name="api-csrf"),
]
