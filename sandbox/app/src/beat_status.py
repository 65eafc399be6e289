"""The running Celery beat's state as JSON: the tasks it schedules and how long ago it last ticked.

Usage: `python beat_status.py [--max-age SECONDS]` (stdlib only, no Django import, fast: the beat
container's healthcheck and gonogo's workers check both run it). It reads the heartbeat file the
beat service's scheduler writes at every tick (``config.celery.HeartbeatScheduler``), so it is the
schedule of the beat that runs, not the one the settings would give a new process. Exit code 1
when there is no heartbeat, or (with --max-age) when the last tick is older than that.
"""

import json
import os
import sys
import time

HEARTBEAT_FILE = os.environ.get("CELERY_BEAT_HEARTBEAT_FILE", "/tmp/celerybeat-heartbeat.json")


def main() -> int:
    max_age = float(sys.argv[2]) if sys.argv[1:2] == ["--max-age"] else None
    try:
        with open(HEARTBEAT_FILE) as fh:
            beat = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"no beat heartbeat in {HEARTBEAT_FILE}: {exc}", file=sys.stderr)
        return 1
    schedule = beat.get("schedule") or {}
    age = round(time.time() - float(beat["tick_at"]), 1)
    print(json.dumps({"tick_age_s": age, "pid": beat.get("pid"),
                      "tasks": sorted({entry["task"] for entry in schedule.values()}), "schedule": schedule}, indent=1))
    return 1 if max_age is not None and age > max_age else 0


if __name__ == "__main__":
    sys.exit(main())
