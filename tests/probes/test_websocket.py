"""The websocket probe against real websocket servers on loopback sockets (standard library only: the
RFC 6455 handshake and framing written out in :class:`WsServer`, independent of the probe's
websocket-client framing), plain and TLS (a certificate from a CA made for the test).

Servers: a good one (101, then ``pong`` to a ping, after an unrelated broadcast and a ping frame of
its own), one answering a wrong ``Sec-WebSocket-Accept``, one answering 200 like an application
behind a proxy that strips the upgrade, one that accepts the connection and never answers, one that
checks the Origin (403), one that checks a cookie and a header, one that upgrades but never answers
messages, one that closes the socket with 1011, one that answers in fragments, one that is no HTTP
server at all; and a port nothing listens on. Every case ends in a fact, in bounded time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_tls import make_ca, make_leaf

from gonogo.probes.websocket import WebsocketProbe, accept_for
from gonogo.sections.websocket import WebsocketEndpoint

HOST = "ws.example.test"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ORIGIN = "https://shop.example.test"
COOKIE, TOKEN = "sessionid=s3cret-session-value", "Bearer t0ken-for-the-socket"


def _frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A server frame (unmasked, RFC 6455 5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    if len(payload) < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", len(payload)) + payload
    return head + bytes([127]) + struct.pack("!Q", len(payload)) + payload


def _exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    """A client frame: (opcode, unmasked payload); a client must mask (RFC 6455 5.3)."""
    b1, b2 = _exactly(conn, 2)
    assert b2 & 0x80, "client frames are masked"
    length = b2 & 0x7F
    if length == 126:
        length = struct.unpack("!H", _exactly(conn, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _exactly(conn, 8))[0]
    mask = _exactly(conn, 4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_exactly(conn, length)))
    return b1 & 0x0F, payload


def _read_request(conn: socket.socket) -> tuple[str, dict[str, str]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return lines[0], headers


def _answer(status: str, body: bytes = b"", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


class WsServer:
    """A websocket server on a loopback port, in threads, behaving as ``mode`` says."""

    def __init__(self, mode: str, context: ssl.SSLContext | None = None) -> None:
        self.mode, self.context = mode, context
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.messages: list[bytes] = []
        self.received = threading.Condition()
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
                self.held.append(conn)
            if self.mode == "silent":
                return  # accepted, never answered (the socket is held open)
            if self.mode == "not-http":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
                return
            line, headers = _read_request(conn)
            self.requests.append((line, headers))
            refusal = self._refusal(headers)
            if refusal:
                conn.sendall(refusal)
                return
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()).decode()
            if self.mode == "wrong-accept":
                accept = base64.b64encode(b"not the right one").decode()
            conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            self._talk(conn)
        except (OSError, AssertionError, KeyError):
            pass

    def _refusal(self, headers: dict[str, str]) -> bytes | None:
        if self.mode == "stripped" or headers.get("upgrade", "").lower() != "websocket":
            return _answer("200 OK", b"<html><title>Orders</title></html>", "Content-Type: text/html\r\n")
        if self.mode == "origin" and headers.get("origin") != ORIGIN:
            return _answer("403 Forbidden")
        if self.mode == "auth" and (headers.get("cookie") != COOKIE or headers.get("authorization") != TOKEN):
            return _answer("401 Unauthorized", b"who are you?")
        return None

    def _talk(self, conn: socket.socket) -> None:
        while True:
            opcode, payload = _read_frame(conn)
            if opcode == 0x8:
                conn.sendall(_frame(0x8, payload))
                return
            self._record(b"<pong> " + payload if opcode == 0xA else payload)  # 0xA: the client's pong to our ping
            if opcode == 0xA:
                continue
            if self.mode == "mute":
                continue
            if self.mode == "closing":
                conn.sendall(_frame(0x8, struct.pack("!H", 1011) + b"consumer crashed"))
                return
            if json.loads(payload) == {"type": "ping"}:
                self._pong(conn)

    def _record(self, message: bytes) -> None:
        with self.received:
            self.messages.append(message)
            self.received.notify_all()

    def messages_when(self, count: int) -> list[bytes]:
        """The messages received, once there are ``count`` (or after 2 s)."""
        with self.received:
            self.received.wait_for(lambda: len(self.messages) >= count, timeout=2)
            return list(self.messages)

    def _pong(self, conn: socket.socket) -> None:
        if self.mode == "fragmented":
            conn.sendall(_frame(0x1, b'{"type":', fin=False) + _frame(0x0, b'"pong"}'))
            return
        conn.sendall(_frame(0x1, b'{"type": "sale.recorded", "sale_id": 7}')  # a broadcast that is no answer
                     + _frame(0x9, b"are you there?")                        # a ping the client must answer
                     + _frame(0x1, b'{"type": "pong", "server": "test"}'))

    def close(self) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[WsServer] = []

    def start(mode: str, context: ssl.SSLContext | None = None) -> WsServer:
        servers.append(WsServer(mode, context))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def endpoint(port: int, scheme: str = "ws", **keys) -> WebsocketEndpoint:
    keys.setdefault("send", {"type": "ping"})
    keys.setdefault("expect_json", {"type": "pong"})
    return WebsocketEndpoint(name="orders", url=f"{scheme}://{HOST}:{port}/ws/orders/", **keys)


def exchange(port: int, scheme: str = "ws", ca: Path | None = None, **keys):
    started = time.monotonic()
    fact = WebsocketProbe(resolve={HOST: "127.0.0.1"}, ca_file=ca).exchange(endpoint(port, scheme, **keys))
    return fact, time.monotonic() - started


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_accept_is_rfc_6455s():
    assert accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455, section 1.3


def test_a_good_upgrade_and_its_round_trip(serve):
    server = serve("good")

    fact, seconds = exchange(server.port)

    assert fact.upgraded and fact.status == 101 and fact.accept_ok, fact
    assert fact.answer == '{"type": "pong", "server": "test"}' and fact.answer_ms is not None, fact
    # the broadcast before it is no answer; the server's ping was answered with a pong
    assert fact.received == ('{"type": "sale.recorded", "sale_id": 7}', fact.answer)
    assert server.messages_when(2)[:2] == [b'{"type":"ping"}', b"<pong> are you there?"]
    line, headers = server.requests[0]
    assert line == "GET /ws/orders/ HTTP/1.1" and headers["host"] == f"{HOST}:{server.port}"
    assert headers["sec-websocket-version"] == "13" and "origin" not in headers
    assert repr(fact).endswith("101 Switching Protocols; round trip: {\"type\": \"pong\", \"server\": \"test\"} after "
                               f"{fact.answer_ms:.0f} ms>")
    evidence = fact.evidence()
    for part in ("GET ws://ws.example.test:", "answer: 101 Switching Protocols", "handshake: ok",
                 'sent: {"type":"ping"}', 'received: {"type": "sale.recorded", "sale_id": 7}'):
        assert part in evidence, evidence
    assert seconds < 2


def test_over_tls_with_the_profiles_ca(tmp_path, serve):
    ca = make_ca(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, make_leaf(tmp_path, ca, [HOST])))
    server = serve("good", context)

    fact, _ = exchange(server.port, "wss", ca.pem)
    assert fact.upgraded and fact.answer is not None, fact

    (tmp_path / "other").mkdir()
    stranger = make_ca(tmp_path / "other", "someone else's CA")
    fact, _ = exchange(server.port, "wss", stranger.pem)
    assert not fact.answered and fact.error.startswith("TLS: the certificate does not verify"), fact


def test_a_wrong_accept_fails_the_handshake_and_nothing_is_sent(serve):
    server = serve("wrong-accept")

    fact, _ = exchange(server.port)

    assert fact.status == 101 and not fact.accept_ok and not fact.upgraded
    assert fact.handshake_text == (f"Sec-WebSocket-Accept {base64.b64encode(b'not the right one').decode()} "
                                   f"(expected {fact.expected_accept} for the key sent)")
    assert fact.sent is None and server.messages == []  # RFC 6455: the client fails the connection


def test_an_application_answering_200_behind_a_proxy_that_strips_the_upgrade(serve):
    fact, _ = exchange(serve("stripped").port)

    assert fact.status == 200 and not fact.upgraded and fact.handshake_text == "200 OK"
    assert fact.body == "<html><title>Orders</title></html>" and fact.header("content-type") == "text/html"
    assert "<html><title>Orders</title></html>" in fact.evidence()


def test_an_origin_the_application_refuses(serve):
    server = serve("origin")

    refused, _ = exchange(server.port, origin="https://evil.example")
    allowed, _ = exchange(server.port, origin=ORIGIN)

    assert refused.status == 403 and refused.handshake_text == "403 Forbidden"
    assert allowed.upgraded and allowed.answer is not None
    assert server.requests[-1][1]["origin"] == ORIGIN


def test_a_cookie_and_a_header_authenticate_and_are_never_shown(serve):
    server = serve("auth")

    anonymous, _ = exchange(server.port)
    fact, _ = exchange(server.port, cookie=COOKIE, headers={"Authorization": TOKEN})

    assert anonymous.handshake_text == "401 Unauthorized" and anonymous.body == "who are you?"
    assert fact.upgraded and fact.answer is not None, fact
    shown = fact.evidence() + repr(fact)
    assert "Cookie: ***" in shown and "Authorization: ***" in shown
    assert "s3cret" not in shown and "t0ken" not in shown


@pytest.mark.parametrize(("mode", "expected"), [
    ("mute", "no answer: nothing answered within 1 s; nothing received"),
    ("closing", "no answer: the server closed the websocket (code 1011: consumer crashed); nothing received"),
], ids=["mute", "closing"])
def test_no_answer_to_the_message(serve, mode, expected):
    fact, seconds = exchange(serve(mode).port, answer_within_s=1)

    assert fact.upgraded and fact.answer is None and fact.sent == '{"type":"ping"}'
    assert fact.round_trip_text == expected
    assert seconds < 3


def test_an_answer_in_fragments(serve):
    fact, _ = exchange(serve("fragmented").port)
    assert fact.answer == '{"type":"pong"}', fact


def test_a_pattern_and_a_text_message(serve):
    server = serve("good")

    fact, _ = exchange(server.port, send='{"type": "ping"}', expect_json={}, expect_pattern=r'"server":\s*"test"')
    wrong, _ = exchange(server.port, expect_json={"type": "pong", "server": "prod"}, answer_within_s=0.5)

    assert fact.answer == '{"type": "pong", "server": "test"}'
    assert wrong.answer is None and len(wrong.received) == 2
    assert wrong.round_trip_text.startswith("no answer: nothing answered within 0.5 s; received 2 other message(s): ")


@pytest.mark.parametrize(("mode", "scheme", "expected"), [
    ("refused", "ws", "connection refused"),
    ("silent", "ws", "timed out after 1 s waiting for the upgrade answer (the connection was accepted, nothing came back)"),
    ("silent", "wss", "timed out after 1 s in the TLS handshake (the connection was accepted, no TLS answer)"),
    ("not-http", "ws", "ValueError: not an HTTP answer: 'SSH-2.0-OpenSSH_9.2'"),
], ids=["refused", "silent", "silent-tls", "not-http"])
def test_no_upgrade_answer_is_a_fact_in_bounded_time(serve, mode, scheme, expected):
    port = refused_port() if mode == "refused" else serve(mode).port

    fact, seconds = exchange(port, scheme, timeout_s=1)

    assert not fact.answered and not fact.upgraded and fact.error == expected, fact
    assert fact.handshake_text.startswith("no answer after ") and fact.handshake_text.endswith(expected)
    assert seconds < 3


def test_the_profile_refuses_what_is_no_websocket_url():
    with pytest.raises(ValueError, match="is not a websocket URL"):
        WebsocketEndpoint(url="https://shop.example.test/ws/")
    with pytest.raises(ValueError, match="is not a valid regular expression"):
        WebsocketEndpoint(url="wss://shop.example.test/ws/", expect_pattern="(")


CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_websocket.py"


def _entry(name: str, port: int, send: bool = True) -> str:
    message = 'send = { type = "ping" }\nexpect_json = { type = "pong" }\n' if send else ""
    return f'[[websocket]]\nname = "{name}"\nurl = "ws://{HOST}:{port}/ws/orders/"\ntimeout_s = 1\n{message}\n'


def test_the_checks_end_to_end(run_gate, serve):
    good, stripped, silent = serve("good").port, serve("stripped").port, serve("silent").port
    profile = (f'[environment]\nrelease = "1.0"\nresolve = {{ "{HOST}" = "127.0.0.1" }}\n\n'
               + _entry("good", good) + _entry("stripped", stripped) + _entry("silent", silent)
               + _entry("bare", good, send=False))
    started = time.monotonic()

    run = run_gate({"test_websocket.py": CHECKS.read_text()}, "-m", "postdeploy", profile=profile)

    gate = run.gate
    assert gate["verdict"] == "NO-GO", run.out
    failed = {e["id"]: e["reason"] for e in gate["failed"]}
    expected = "upgrade: expected 101 Switching Protocols, Upgrade: websocket and the Sec-WebSocket-Accept of the key sent, got"
    assert sorted(failed) == ["websocket.upgrades[silent]", "websocket.upgrades[stripped]"], run.out
    assert failed["websocket.upgrades[stripped]"] == f"stripped {expected} 200 OK"
    assert failed["websocket.upgrades[silent]"].startswith(f"silent {expected} no answer after 1")
    assert failed["websocket.upgrades[silent]"].endswith(
        "timed out after 1 s waiting for the upgrade answer (the connection was accepted, nothing came back)")
    assert f"look at: ws://{HOST}:{silent}/ws/orders/ (the proxy's websocket route" in run.out
    dependent = sorted(e["id"] for e in gate["skipped"] if e["status"] == "dependent")
    assert dependent == ["websocket.round_trip[silent]", "websocket.round_trip[stripped]"]
    assert gate["counts"]["passed"] == 3 and gate["not_run"] == []  # upgrades[good], round_trip[good], upgrades[bare]
    failure = next(e for e in gate["failed"] if e["id"] == "websocket.upgrades[stripped]")
    assert (failure["severity"], failure["phases"], failure["runbook"]) == ("critical", ["postdeploy"], ["SMK-10"])
    assert time.monotonic() - started < 30
