"""The frontend: nginx, from the release's ``boutique/frontend`` image, serving the shop's front page
and the release's collected static files behind Traefik (router ``boutique-frontend``: ``/`` and
``/static/``). Its site configuration is the deployment's: ``sandbox/frontend/site.conf`` rendered into
``<state>/frontend/conf.d/`` (mounted read-only at ``/etc/nginx/conf.d``), broken on purpose by the
``nginx-config-broken`` fault."""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from typing import Any

from . import APP_HOST, PACKAGE_DIR, probes
from .state import Paths, atomic_write

NAME = "frontend"
TEMPLATE = PACKAGE_DIR / "frontend" / "site.conf"
SITE_FILE = "boutique.conf"
#: the header the site sets on every response: proof the frontend served it
SERVED_BY = ("x-served-by", "boutique-frontend")
#: where the image keeps the release's collected static files
STATIC_ROOT = "/srv/frontend/static"
#: the line the nginx-config-broken fault writes without its semicolon (an edit gone wrong)
BROKEN_LINE = "        expires 1y;\n"


def conf_dir(paths: Paths) -> Path:
    """The folder mounted at /etc/nginx/conf.d in the frontend container."""
    return paths.state / "frontend" / "conf.d"


def empty_static_dir(paths: Paths) -> Path:
    """An empty folder the static-missing fault mounts over the image's static files."""
    return paths.state / "fault-data" / "static-empty"


def site_config(values: dict[str, str], broken: bool = False) -> str:
    """The site from its template (only ``${FRONTEND_PORT}`` and ``${APP_HOST}``: nginx has ``$uri`` of its own)."""
    text = TEMPLATE.read_text()
    for key, value in (("FRONTEND_PORT", values["FRONTEND_PORT"]), ("APP_HOST", APP_HOST)):
        text = text.replace("${" + key + "}", value)
    return text.replace(BROKEN_LINE, BROKEN_LINE.replace(";", "")) if broken else text


def write_site(paths: Paths, values: dict[str, str], faults: dict[str, Any]) -> Path:
    """Render the site for the active faults (the folder is mounted: the container sees the new file,
    and nginx reads it at its next start or reload, never here)."""
    target = conf_dir(paths) / SITE_FILE
    text = site_config(values, broken="nginx-config-broken" in faults)
    if not target.exists() or target.read_text() != text:
        atomic_write(target, text)
    return target


def front_page(values: dict[str, str], path: str = "/", timeout: float = 5.0) -> probes.Response:
    """``path`` through Traefik (the front page, or a static file)."""
    return probes.https(values, "GET", path, timeout=timeout)


def serving(values: dict[str, str]) -> bool:
    """The front page answers 200 through Traefik, from the frontend."""
    try:
        page = front_page(values, timeout=3)
    except (OSError, http.client.HTTPException):
        return False
    return page.status == 200 and page.headers.get(SERVED_BY[0]) == SERVED_BY[1]


def wait_serving(values: dict[str, str], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serving(values):
            return True
        time.sleep(0.2)
    return False
