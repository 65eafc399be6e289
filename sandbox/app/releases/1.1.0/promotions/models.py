"""A promotion: an offer with a validity window, shown on the Promotions page and banner."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone


class PromotionQuerySet(models.QuerySet):
    def current(self, day: dt.date | None = None) -> PromotionQuerySet:
        """Active promotions valid on `day` (today by default); open-ended windows allowed."""
        day = day or timezone.localdate()
        return self.filter(active=True).filter(
            Q(starts_on__isnull=True) | Q(starts_on__lte=day),
            Q(ends_on__isnull=True) | Q(ends_on__gte=day),
        )


class Promotion(models.Model):
    """An offer announced to customers (informational: prices are not changed)."""

    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    percent_off = models.PositiveSmallIntegerField(default=0)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PromotionQuerySet.as_manager()

    class Meta:
        ordering = ["-percent_off", "title"]

    def __str__(self) -> str:
        return self.title
