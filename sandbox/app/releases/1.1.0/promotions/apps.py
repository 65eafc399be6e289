"""App config for promotions."""

from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    """Seasonal offers shown to cashiers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "promotions"
    verbose_name = "Promotions"
