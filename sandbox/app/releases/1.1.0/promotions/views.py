"""The Promotions page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .models import Promotion


@require_safe
def promotion_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "promotions/promotion_list.html",
        {"current": Promotion.objects.current(), "all_promotions": Promotion.objects.all()},
    )
