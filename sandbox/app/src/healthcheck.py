"""Container health check: exit 0 when GET http://127.0.0.1:$WEB_PORT<path> answers 200.

Usage: `python healthcheck.py [/health/live/]` (stdlib only, no Django import, fast).
"""

import os
import sys
import urllib.request


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/health/live/"
    url = f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}{path}"
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
        with opener.open(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
