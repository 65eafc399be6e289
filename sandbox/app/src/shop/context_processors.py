"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Release and environment shown in the page footer."""
    return {
        "release": settings.RELEASE,
        "release_version": settings.RELEASE_VERSION,
        "environment": settings.ENVIRONMENT,
        "promotions_enabled": "promotions" in settings.OPTIONAL_APPS,
    }
