"""URL configuration: shop pages, auth, health/API endpoints and optional release apps."""

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from shop import health

urlpatterns = [
    path("health/live/", health.live, name="health-live"),
    path("health/ready/", health.ready, name="health-ready"),
    path("health/detailed/", health.detailed, name="health-detailed"),
    path("api/v1/", include("shop.api_urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("shop.urls")),
]

if apps.is_installed("promotions"):
    urlpatterns.append(path("promotions/", include("promotions.urls")))
