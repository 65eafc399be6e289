"""`manage.py backup`: database dump + media archive into BACKUP_DIR, with checksums and manifest."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from shop.backups import BackupError, run_backup


class Command(BaseCommand):
    help = "Write a backup set (pg_dump | gzip, media tar.gz, .sha256 sidecars, manifest.json) to BACKUP_DIR."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print the manifest as JSON only")

    def handle(self, *args, **options) -> None:
        try:
            result = run_backup()
        except BackupError as exc:
            raise CommandError(f"backup failed: {exc}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for entry in result["files"]:
            path = f"{settings.BACKUP_DIR}/{entry['name']}"
            self.stdout.write(f"{path}  {entry['size']} bytes  sha256 {entry['sha256']}")
        self.stdout.write(f"{settings.BACKUP_DIR}/manifest.json")
        for name in result["removed"]:
            self.stdout.write(f"removed (older than {settings.BACKUP_RETENTION_DAYS} days): {name}")
