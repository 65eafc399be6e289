"""Render the shop's front page as static HTML, for the frontend (nginx) to serve.

Run at image build time, after ``collectstatic``: its stylesheet, script and logo URLs are the
collected files' hashed names, read from the static files manifest. Needs no database.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.template.loader import render_to_string


class Command(BaseCommand):
    help = "Write the front page (shop/front_page.html, rendered without a request) to OUTPUT."

    def add_arguments(self, parser) -> None:
        parser.add_argument("output", help="the HTML file to write, e.g. /app/frontend/index.html")

    def handle(self, *args: object, output: str, **options: object) -> None:
        html = render_to_string("shop/front_page.html", {
            "release": settings.RELEASE,
            "release_version": settings.RELEASE_VERSION,
        })
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.stdout.write(f"front page written to {path} ({len(html)} characters)")
