"""App config for the shop."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    """Point-of-sale for a small boutique."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "shop"
    verbose_name = "Boutique shop"
