"""Admin for promotions."""

from django.contrib import admin

from .models import Promotion


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "percent_off", "starts_on", "ends_on", "active")
