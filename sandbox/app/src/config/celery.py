"""Celery application: broker and schedule come from Django settings (CELERY_* names).

Beat runs as its own service with :class:`HeartbeatScheduler` (``celery -A config beat -S
config.celery:HeartbeatScheduler``): at every tick it writes when it ticked and the schedule it
holds to ``CELERY_BEAT_HEARTBEAT_FILE``, which ``beat_status.py`` (its healthcheck, gonogo's check) reads.
"""

import json
import os
import time
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_FILE = Path(os.environ.get("CELERY_BEAT_HEARTBEAT_FILE", "/tmp/celerybeat-heartbeat.json"))


class HeartbeatScheduler(PersistentScheduler):
    """Beat's persistent scheduler, writing a heartbeat (tick time, pid, schedule) at every tick."""

    def tick(self, *args, **kwargs):
        remaining = super().tick(*args, **kwargs)
        self.write_heartbeat()
        return remaining

    def write_heartbeat(self) -> None:
        schedule = {
            name: {"task": entry.task, "schedule": str(entry.schedule),
                   "last_run_at": entry.last_run_at.isoformat() if entry.last_run_at else None,
                   "total_run_count": entry.total_run_count}
            for name, entry in sorted(self.schedule.items())
            if not name.startswith("celery.")  # celery's own housekeeping entry (backend_cleanup)
        }
        data = {"tick_at": time.time(), "pid": os.getpid(), "max_interval_s": self.max_interval,
                "schedule": schedule}
        tmp = HEARTBEAT_FILE.with_name(HEARTBEAT_FILE.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, HEARTBEAT_FILE)
