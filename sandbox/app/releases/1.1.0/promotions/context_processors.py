"""Puts the current headline promotion in every template (the product list shows it as a banner)."""

from django.http import HttpRequest

from .models import Promotion


def promotions(request: HttpRequest) -> dict[str, object]:
    """`promotion_banner`: the best current promotion, looked up lazily when a template uses it."""
    return {"promotion_banner": lambda: Promotion.objects.current().first()}
