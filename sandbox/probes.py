"""Direct probes of the running sandbox, loopback only: HTTPS through Traefik to 127.0.0.1 with SNI
and Host ``shop.localhost`` (never a DNS lookup), verified against the sandbox CA; a websocket
upgrade attempt; the certificate Traefik serves; a small cookie session for form flows."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography import x509

from . import APP_HOST


def tls_context(ca_file: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    return ctx


class _Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:<port> with SNI and Host header `sni` (no name resolution)."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    set_cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def https(
    values: dict[str, str],
    method: str,
    path: str,
    *,
    host: str = APP_HOST,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Response:
    port = int(values["SANDBOX_HTTPS_PORT"])
    conn = _Conn(host, port, context=tls_context(values["SANDBOX_CA_FILE"]), timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        return Response(resp.status, hdrs, data, time.monotonic() - t0, cookies)
    finally:
        conn.close()


def ready(values: dict[str, str], timeout: float = 5.0, host: str = APP_HOST) -> Response:
    return https(values, "GET", "/health/ready/", host=host, timeout=timeout)


def wait_ready(values: dict[str, str], timeout: float = 30.0, host: str = APP_HOST) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            r = ready(values, timeout=3, host=host)
            if r.status == 200 and r.json().get("status") == "ok":
                return True
        except (OSError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.25)
    return False


def served_certificate(values: dict[str, str], host: str = APP_HOST) -> x509.Certificate:
    """The leaf certificate Traefik presents for `host` (chain verified against the CA)."""
    ctx = tls_context(values["SANDBOX_CA_FILE"])
    with socket.create_connection(("127.0.0.1", int(values["SANDBOX_HTTPS_PORT"])), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der)


def cert_days_left(values: dict[str, str]) -> float:
    cert = served_certificate(values)
    return (cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400


def websocket_upgrade(values: dict[str, str], path: str = "/ws/orders/", timeout: float = 5.0) -> tuple[int, str]:
    """Try a websocket handshake through Traefik: (HTTP status, status line). 101 = upgraded."""
    ctx = tls_context(values["SANDBOX_CA_FILE"])
    key = base64.b64encode(os.urandom(16)).decode()
    port = int(values["SANDBOX_HTTPS_PORT"])
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {APP_HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: https://{APP_HOST}:{port}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=APP_HOST) as tls:
            tls.sendall(request.encode())
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
    status_line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    m = re.match(r"HTTP/\d(?:\.\d)? (\d{3})", status_line)
    return (int(m.group(1)) if m else 0), status_line


class Session:
    """A browser-like session through Traefik: cookies, CSRF token, form posts."""

    def __init__(self, values: dict[str, str]):
        self.values = values
        self.cookies: dict[str, str] = {}
        self.origin = f"https://{APP_HOST}:{values['SANDBOX_HTTPS_PORT']}"

    def request(self, method: str, path: str, form: dict[str, Any] | list | None = None,
                timeout: float = 15.0, follow: bool = True) -> Response:
        for _ in range(6):
            headers = {"Accept": "text/html,application/json"}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if form is not None:
                body = urlencode(form, doseq=True).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                headers["Origin"] = self.origin
                headers["Referer"] = self.origin + path
                if "csrftoken" in self.cookies:
                    headers["X-CSRFToken"] = self.cookies["csrftoken"]
            r = https(self.values, method, path, headers=headers, body=body, timeout=timeout)
            for raw in r.set_cookies:
                jar = SimpleCookie()
                jar.load(raw)
                for name, morsel in jar.items():
                    if morsel.value == "" or morsel["max-age"] == "0":
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            if follow and r.status in (301, 302, 303, 307, 308) and "location" in r.headers:
                loc = urlsplit(r.headers["location"])
                path = loc.path + (f"?{loc.query}" if loc.query else "")
                if r.status in (301, 302, 303):
                    method, form = "GET", None
                continue
            return r
        return r

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, Any] | list, **kw) -> Response:
        return self.request("POST", path, form=form, **kw)

    @staticmethod
    def csrf_token(html: str) -> str | None:
        m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        return m.group(1) if m else None

    def login(self, username: str | None = None, password: str | None = None) -> bool:
        page = self.get("/accounts/login/")
        token = self.csrf_token(page.text)
        r = self.post(
            "/accounts/login/",
            {
                "csrfmiddlewaretoken": token or "",
                "username": username or self.values["DEMO_USER"],
                "password": password or self.values["DEMO_PASSWORD"],
            },
        )
        return r.status == 200 and "sessionid" in self.cookies
