"""HTTP probe: one request, its status, timing, headers and body, as a fact.

``resolve`` works like ``curl --resolve``: the connection goes to the given address while the
Host header, TLS SNI and certificate check keep the name in the URL. That is how a stack is
checked before (or without) DNS, and how ``*.localhost`` names are reached without a DNS lookup.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit

import urllib3

from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.probes import silence
from gonogo.secrets import masker

if TYPE_CHECKING:
    from gonogo.stack import Stack

BODY_LIMIT = 64 * 1024


class HttpFact(Observed):
    """What one HTTP request observed."""

    EVIDENCE_NAME = "{method} {url}"

    method: str
    url: str
    status: int | None
    elapsed_ms: float
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, TypeError):
            return None

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def status_text(self) -> str:
        """The status, or what happened instead ('no answer after 5000 ms: connection refused')."""
        if self.status is not None:
            return str(self.status)
        return masker.mask(no_answer(self.elapsed_ms, self.error))

    def header(self, name: str) -> str | None:
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get(name.lower())

    def one_line(self) -> str:
        if self.error:
            return f"{self.method} {self.url} -> {no_answer(self.elapsed_ms, self.error)}"
        body = " ".join(self.body.split())[:300]
        return f"{self.method} {self.url} -> {self.status} in {self.elapsed_ms:.0f} ms: {body}"

    def evidence(self) -> str:
        """Status line, headers and body, for an attachment."""
        lines = [f"{self.method} {self.url}", f"status: {self.status}", f"elapsed: {self.elapsed_ms:.1f} ms"]
        if self.error:
            lines.append(f"error: {self.error}")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return masker.mask("\n".join(lines) + "\n\n" + self.body)


@dataclass(frozen=True)
class HttpProbe:
    """HTTP requests to the stack, with the profile's resolve map and CA plumbed in once (``stack.http``)."""

    resolve: Mapping[str, str] = field(default_factory=dict)
    ca_file: Path | None = None
    timeout_s: float = 5.0

    def get(self, url: str, *, method: str = "GET", timeout_s: float | None = None,
            headers: Mapping[str, str] | None = None, body_limit: int = BODY_LIMIT) -> HttpFact:
        """One request to ``url`` (redirects not followed; at most ``body_limit`` bytes of body kept); never raises."""
        return fetch(url, method=method, timeout_s=timeout_s or self.timeout_s, resolve=self.resolve,
                     ca_file=self.ca_file, headers=headers, body_limit=body_limit)


def fetch(
    url: str,
    *,
    method: str = "GET",
    timeout_s: float = 5.0,
    resolve: Mapping[str, str] | None = None,
    ca_file: Path | None = None,
    verify: bool = True,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    body_limit: int = BODY_LIMIT,
) -> HttpFact:
    """Send one request (no redirects followed) and return what happened; never raises."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    address = (resolve or {}).get(host, host)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    send_headers = {"Host": _host_header(parts), "User-Agent": "gonogo", **_basic_auth(parts), **(headers or {})}
    target = f"{address}:{port}"
    quiet = silence.silent(target)
    if quiet is not None:  # it did not answer earlier in this run: its timeout is not paid again
        return HttpFact(method, url, None, 0.0, {}, "", f"not asked: {quiet}")
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    if scheme == "https":
        try:
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except OSError as exc:  # a CA file that is missing, a folder, not PEM (ssl.SSLError): a fact, not a crash
            return HttpFact(method, url, None, 0.0, error=f"the CA file {ca_file} cannot be used: {type(exc).__name__}: {exc}")
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            address, port, timeout=timeout, retries=False, ssl_context=context,
            server_hostname=host, assert_hostname=host if verify else False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    watch = Stopwatch()
    try:
        response = pool.request(method, path, headers=send_headers, body=body, redirect=False,
                                preload_content=False)
        data = response.read(body_limit, decode_content=True) if method != "HEAD" else b""
        response.release_conn()
        return HttpFact(method, url, response.status, watch.ms(), dict(response.headers),
                        data.decode("utf-8", errors="replace"))
    except Exception as exc:  # any failure to get an answer is a fact, not a crash
        elapsed = watch.ms()
        reason = _reason(exc)
        # the address asked, as the connection error itself no longer says it (the summary groups a target's failures)
        error = f"{type(exc).__name__}: {reason}" + ("" if target in reason else f" (connecting to {target})")
        if silence.timed_out(exc):
            silence.record(target, f"{method} {url}", error, at_once=silence.in_handshake(exc))
        return HttpFact(method, url, None, elapsed, {}, "", error)
    finally:
        pool.close()


def _host_header(parts: SplitResult) -> str:
    """``hostname[:port]`` of a URL: never its credentials."""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{host}:{parts.port}" if parts.port is not None else host


def _basic_auth(parts: SplitResult) -> dict[str, str]:
    """Credentials written in a URL (``https://user:password@host/``), as Basic authentication."""
    if parts.username is None and parts.password is None:
        return {}
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}


def _reason(exc: BaseException) -> str:
    """The useful part of a connection error ('Failed to establish a new connection: [Errno 111] ...')."""
    text = str(getattr(exc, "reason", None) or exc)
    # urllib3 prefixes its connection object's repr: 'HTTPSConnection(host=..., port=...): Failed to ...'
    return text.split("): ", 1)[1] if text.startswith("HTTP") and "): " in text else text


def from_stack(stack: Stack) -> HttpProbe:
    """``stack.http``: HTTP(S) to the stack: the profile's ``resolve`` map (like curl --resolve) and CA file."""
    environment = stack.env.profile.environment
    return HttpProbe(resolve=dict(environment.resolve), ca_file=stack.env.ca_path)
