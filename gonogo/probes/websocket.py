"""Websocket probe: the upgrade through the proxy, judged raw, then one message round trip
(``[[websocket]]``: :mod:`gonogo.sections.websocket`).

The handshake is written by hand on a bounded socket (to the ``resolve`` address, with SNI and
Host kept as the URL's host, verified against the profile's CA, like ``curl --resolve``), so the
fact holds the raw answer: the status line, the headers, the ``Sec-WebSocket-Accept`` against
base64(sha1(key + GUID)) of the key sent, and what a broken proxy answers instead (a 200, a
redirect to the login page, a 502, silence). Only after a verified ``101`` does the probe send the
profile's message (framed by websocket-client's RFC 6455 ``ABNF``) and read frames until one
answers it, or the deadline passes, or the server closes. It then closes the socket with a close
frame. Every step is bounded; no exception leaves :meth:`WebsocketProbe.exchange`: refused,
timed out, TLS failures and protocol errors are the fact's ``error`` or ``round_trip_error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import base64
import hashlib
import os
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from websocket import ABNF, WebSocketException, continuous_frame, frame_buffer

from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.secrets import masker
from gonogo.sections.websocket import WebsocketEndpoint

if TYPE_CHECKING:
    from gonogo.stack import Stack

#: RFC 6455's GUID: the server proves it read the key with base64(sha1(key + GUID))
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: the answer's head (status line and headers) may not be longer
HEAD_LIMIT = 64 * 1024
#: what is kept of a non-101 answer's body, and of each message received
BODY_LIMIT = 2048
#: messages kept for the evidence (the ones that did not answer the probe included)
MESSAGES_KEPT = 20


def accept_for(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key`` (RFC 6455, 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


class WebsocketFact(Observed):
    """What one upgrade attempt, and the round trip after it, observed."""

    EVIDENCE_NAME = "websocket {name} {url}"

    name: str
    url: str
    #: where the connection went (``127.0.0.1:8443``)
    address: str
    elapsed_ms: float
    #: no answer to the upgrade: refused, timed out, TLS failure, not HTTP
    error: str | None = None
    status: int | None = None
    reason: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    #: the beginning of a non-101 answer's body
    body: str = ""
    #: the ``Sec-WebSocket-Accept`` the key sent calls for
    expected_accept: str = ""
    #: request headers sent (the values of cookies and profile headers shown as ***)
    sent_headers: tuple[str, ...] = ()
    #: the message sent once upgraded (None: no round trip asked, or no upgrade)
    sent: str | None = None
    #: messages received after sending, in order (the answer included)
    received: tuple[str, ...] = ()
    #: the message that answered, and how long after sending
    answer: str | None = None
    answer_ms: float | None = None
    #: why no answer came: the deadline, the server's close frame, a protocol error
    round_trip_error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    def header(self, name: str) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower())

    @property
    def accept_ok(self) -> bool:
        return self.header("Sec-WebSocket-Accept") == self.expected_accept

    def handshake_problems(self) -> list[str]:
        """What in the answer is not a websocket upgrade (empty when upgraded)."""
        if self.error is not None:
            return [no_answer(self.elapsed_ms, self.error)]
        if self.status != 101:
            location = self.header("Location")
            return [f"{self.status} {self.reason}".rstrip() + (f" (Location: {location})" if location else "")]
        problems = []
        if (self.header("Upgrade") or "").lower() != "websocket":
            problems.append(f"Upgrade: {self.header('Upgrade') or 'missing'} (expected websocket)")
        if "upgrade" not in [t.strip() for t in (self.header("Connection") or "").lower().split(",")]:
            problems.append(f"Connection: {self.header('Connection') or 'missing'} (expected Upgrade)")
        if not self.accept_ok:
            problems.append(f"Sec-WebSocket-Accept {self.header('Sec-WebSocket-Accept') or 'missing'} "
                            f"(expected {self.expected_accept} for the key sent)")
        return problems

    @property
    def upgraded(self) -> bool:
        return not self.handshake_problems()

    @property
    def handshake_text(self) -> str:
        """The answer in one line: '101 Switching Protocols', or what came instead."""
        problems = self.handshake_problems()
        return masker.mask("; ".join(problems) if problems else f"101 {self.reason}".rstrip())

    @property
    def round_trip_text(self) -> str:
        """The round trip in one line: the answer and its time, or what happened instead."""
        if self.answer is not None:
            return masker.mask(f"{_short(self.answer)} after {self.answer_ms:.0f} ms")
        others = f"; received {len(self.received)} other message(s): " + ", ".join(
            _short(m, 80) for m in self.received[:3]) if self.received else "; nothing received"
        return masker.mask(f"no answer: {self.round_trip_error}{others}")

    def evidence(self) -> str:
        lines = [f"GET {self.url} (upgrade to websocket, connected to {self.address})", *self.sent_headers, ""]
        if self.error is not None:
            lines.append(no_answer(self.elapsed_ms, self.error))
        else:
            lines += [f"answer: {self.status} {self.reason} after {self.elapsed_ms:.0f} ms",
                      *(f"{k}: {v}" for k, v in self.headers.items()),
                      f"expected Sec-WebSocket-Accept: {self.expected_accept}"]
            if self.body:
                lines += ["", self.body]
            lines.append(f"handshake: {'ok' if self.upgraded else self.handshake_text}")
        if self.sent is not None:
            lines += ["", f"sent: {self.sent}", *(f"received: {_short(m, 300)}" for m in self.received),
                      f"round trip: {self.round_trip_text}"]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        text = f"<websocket {self.name} {self.url}: {self.handshake_text}"
        if self.sent is not None:
            text += f"; round trip: {self.round_trip_text}"
        return text + ">"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class _Deadline:
    """Seconds left until a moment; a socket's timeout is set to them before each call."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{self.what} within {self.seconds:g} s")
        return left


class _Connection:
    """A socket (TLS when asked) whose every call is bounded by the current deadline; ``stage`` says how far it got."""

    def __init__(self, deadline: _Deadline) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.stage = "connecting"
        self.pending = b""

    def open(self, address: str, port: int, host: str, context: ssl.SSLContext | None) -> None:
        self.sock = socket.create_connection((address, port), timeout=self.deadline.left())
        if context is not None:
            self.stage = "TLS handshake"
            self.sock.settimeout(self.deadline.left())
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.stage = "waiting"

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    def recv(self, size: int) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        sock = self._connected()
        sock.settimeout(self.deadline.left())
        try:
            data = sock.recv(size)
        except TimeoutError:
            raise TimeoutError(f"{self.deadline.what} within {self.deadline.seconds:g} s") from None
        if not data:
            raise ConnectionError("the server closed the connection")
        return data

    def send(self, data: bytes) -> None:
        sock = self._connected()
        sock.settimeout(self.deadline.left())
        sock.sendall(data)

    def _connected(self) -> socket.socket:
        if self.sock is None:
            raise ConnectionError("not connected")
        return self.sock

    def read_head(self) -> bytes:
        """The answer's status line and headers; what came after them stays pending."""
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > HEAD_LIMIT:
                raise ValueError(f"no end of the HTTP headers in the first {HEAD_LIMIT} bytes")
            data += self.recv(4096)
        head, _, self.pending = data.partition(b"\r\n\r\n")
        return head

    def read_some(self, size: int) -> bytes:
        """Up to ``size`` bytes of a body: what is pending, then what comes before the deadline."""
        data = b""
        try:
            while len(data) < size:
                data += self.recv(size - len(data))
        except OSError:
            pass
        return data


@dataclass(frozen=True)
class WebsocketProbe:
    """Websocket upgrades to the stack (``stack.websocket``): the profile's resolve map and CA plumbed in once."""

    resolve: Mapping[str, str] = field(default_factory=dict)
    ca_file: Path | None = None

    def exchange(self, endpoint: WebsocketEndpoint) -> WebsocketFact:
        """Upgrade, then (when the entry says what to send) one round trip; never raises."""
        parts = urlsplit(endpoint.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        address = self.resolve.get(host, host)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        shown, request = _request(endpoint, key)
        base = WebsocketFact(endpoint.name, endpoint.url, f"{address}:{port}", 0.0,
                             expected_accept=accept_for(key), sent_headers=shown)
        connection = _Connection(_Deadline(endpoint.timeout_s, "no upgrade answer"))
        watch = Stopwatch()
        try:
            connection.open(address, port, host, self._context() if parts.scheme == "wss" else None)
            connection.send(request)
            status, reason, headers = _parse_head(connection.read_head())
        except (OSError, ValueError) as exc:
            connection.close()
            return replace(base, elapsed_ms=watch.ms(), error=_reason(exc, connection.stage, endpoint.timeout_s))
        try:
            fact = replace(base, elapsed_ms=watch.ms(), status=status, reason=reason, headers=headers,
                           body="" if status == 101 else _body(connection, headers))
            if not fact.upgraded or endpoint.message is None:
                return fact
            return _round_trip(fact, connection, endpoint)
        finally:
            connection.close()

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def _request(endpoint: WebsocketEndpoint, key: str) -> tuple[tuple[str, ...], bytes]:
    """The upgrade request, and its headers as the evidence shows them (secret values as ***)."""
    parts = urlsplit(endpoint.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname or ""
    plain = [("Host", f"{host}:{parts.port}" if parts.port else host), ("Upgrade", "websocket"),
             ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
             ("User-Agent", "gonogo")]
    if endpoint.origin:
        plain.append(("Origin", endpoint.origin))
    secret = [(k, v.get_secret_value()) for k, v in endpoint.headers.items()]
    if endpoint.cookie is not None:
        secret.append(("Cookie", endpoint.cookie.get_secret_value()))
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in plain + secret)]
    shown = tuple([*(f"{k}: {v}" for k, v in plain), *(f"{k}: ***" for k, _ in secret)])
    return shown, ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    lines = head.decode("iso-8859-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})(?: (.*))?$", lines[0])
    if not match:
        raise ValueError(f"not an HTTP answer: {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = f"{headers[name.strip()]}, {value.strip()}" if name.strip() in headers else value.strip()
    return int(match.group(1)), match.group(2) or "", headers


def _body(connection: _Connection, headers: Mapping[str, str]) -> str:
    """The beginning of a refusal's body (what the proxy or the application said instead)."""
    length = {k.lower(): v for k, v in headers.items()}.get("content-length", "")
    wanted = min(int(length), BODY_LIMIT) if length.isdigit() else len(connection.pending[:BODY_LIMIT])
    return connection.read_some(wanted).decode("utf-8", errors="replace") if wanted else ""


def _round_trip(fact: WebsocketFact, connection: _Connection, endpoint: WebsocketEndpoint) -> WebsocketFact:
    """Send the entry's message, read frames until one answers it; close the socket politely."""
    message = endpoint.message or ""
    connection.deadline = _Deadline(endpoint.answer_within_s, "no answer")
    frames = frame_buffer(connection.recv, skip_utf8_validation=False)
    pieces = continuous_frame(fire_cont_frame=False, skip_utf8_validation=False)
    received: list[str] = []
    answer, answer_ms, error = None, None, None
    watch = Stopwatch()
    try:
        connection.send(ABNF.create_frame(message, ABNF.OPCODE_TEXT).format())
        while answer is None:
            frame = frames.recv_frame()
            if frame.opcode == ABNF.OPCODE_CLOSE:
                error = f"the server closed the websocket ({_close_reason(frame.data)})"
                break
            if frame.opcode == ABNF.OPCODE_PING:
                connection.send(ABNF.create_frame(frame.data, ABNF.OPCODE_PONG).format())
                continue
            if frame.opcode not in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT):
                continue
            pieces.validate(frame)
            pieces.add(frame)
            if not pieces.is_fire(frame):
                continue
            opcode, whole = pieces.extract(frame)
            text = _text(opcode, whole.data)
            if len(received) < MESSAGES_KEPT:
                received.append(text[:BODY_LIMIT])
            if endpoint.answers(text):
                answer, answer_ms = text[:BODY_LIMIT], watch.ms()
    except (OSError, WebSocketException) as exc:  # a malformed frame is a WebSocketProtocolException
        error = _reason(exc, "answering", endpoint.answer_within_s)
    _close(connection)
    return replace(fact, sent=message, received=tuple(received), answer=answer, answer_ms=answer_ms,
                   round_trip_error=error)


def _text(opcode: int, data: str | bytes) -> str:
    """A message as the evidence shows it: the text of a text message, the size of a binary one."""
    raw = data.encode("latin-1") if isinstance(data, str) else data
    return raw.decode("utf-8", errors="replace") if opcode == ABNF.OPCODE_TEXT else f"<{len(raw)} bytes>"


def _close(connection: _Connection) -> None:
    """A close frame (1000, normal closure), sent without waiting for the server's."""
    try:
        connection.deadline = _Deadline(1.0, "closing")
        connection.send(ABNF.create_frame(b"\x03\xe8", ABNF.OPCODE_CLOSE).format())
    except (OSError, TimeoutError):
        pass


def _close_reason(data: str | bytes) -> str:
    raw = data.encode("latin-1") if isinstance(data, str) else data
    if len(raw) < 2:
        return "no status code"
    code = int.from_bytes(raw[:2], "big")
    text = raw[2:].decode("utf-8", errors="replace")
    return f"code {code}" + (f": {text}" if text else "")


def _reason(exc: BaseException, stage: str, timeout_s: float) -> str:
    """What happened, in words that say where to look."""
    if isinstance(exc, TimeoutError):
        return {
            "connecting": f"timed out after {timeout_s:g} s connecting (nothing accepted the connection)",
            "TLS handshake": f"timed out after {timeout_s:g} s in the TLS handshake (the connection was accepted, "
                             "no TLS answer)",
            "waiting": f"timed out after {timeout_s:g} s waiting for the upgrade answer (the connection was "
                       "accepted, nothing came back)",
        }.get(stage, f"nothing answered within {timeout_s:g} s")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the certificate does not verify: {exc.verify_message or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def from_stack(stack: Stack) -> WebsocketProbe:
    """``stack.websocket``: websocket upgrades of the ``[[websocket]]`` endpoints: the resolve map and the CA
    file."""
    stack.section("websocket")
    environment = stack.env.profile.environment
    return WebsocketProbe(resolve=dict(environment.resolve), ca_file=stack.env.ca_path)
