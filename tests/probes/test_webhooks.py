"""The webhooks probe against real HTTP servers on loopback: one that verifies Stripe signatures with
the sandbox shop's own verifier (``sandbox/app/src/shop/signatures.py``, loaded from its file), one
that accepts anything, one that fails (500), one without the route (404); a port that refuses and
a server that accepts the connection and never answers. The events the probe sends never verify;
every case ends in a fact, in bounded time. The checks end to end, with real env files for the secrets.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gonogo.probes.http import HttpProbe
from gonogo.probes.webhooks import SCHEMES, WebhookProbe
from gonogo.sections.webhooks import DEFAULT_EVENT, WebhookEndpoint

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("shop_signatures", REPO / "sandbox" / "app" / "src" / "shop" / "signatures.py")
assert _spec is not None and _spec.loader is not None
shop = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shop)

HOST = "pay.example.test"
SECRET = "whsec_the-endpoints-own-secret"


class Handler(BaseHTTPRequestHandler):
    """Answers as its server's ``mode`` says, and records what it received."""

    server: Any

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((dict(self.headers), body))
        mode = self.server.mode
        if mode == "verifying":
            why = shop.problem(self.headers.get(shop.HEADER), body, SECRET, time.time())
            self._answer(400 if why else 200, {"error": why} if why else {"received": True})
        elif mode == "accepting":
            self._answer(200, {"received": True})
        elif mode == "error":
            self._answer(500, {"error": "KeyError: 'STRIPE_WEBHOOK_SECRET'"})
        else:
            self._answer(404, {"error": "not found"})

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Silent:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def shutdown(self) -> None:
        self.sock.close()

    server_close = shutdown


@pytest.fixture
def serve() -> Iterator:
    servers: list[Any] = []

    def start(mode: str) -> Any:
        if mode == "silent":
            servers.append(Silent())
            return servers[-1]
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.mode, server.received, server.port = mode, [], server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def endpoint(port: int, **keys: Any) -> WebhookEndpoint:
    return WebhookEndpoint(name="payments", url=f"http://{HOST}:{port}/api/v1/payments/webhook/", **keys)


def send(port: int, attempt: str, **keys: Any):
    started = time.monotonic()
    fact = WebhookProbe(HttpProbe(resolve={HOST: "127.0.0.1"})).send(endpoint(port, **keys), attempt)
    return fact, time.monotonic() - started


def test_the_stripe_scheme_signs_as_the_shop_verifies():
    """Only the secret of the probe's wrong signature is wrong: the shop's verifier accepts the same scheme's
    signature made with its own secret (so a refusal is the secret's, not a malformed header's)."""
    body, now = DEFAULT_EVENT.encode(), int(time.time())
    header = SCHEMES["stripe"].sign(SECRET.encode(), body, now)
    assert shop.problem(header, body, SECRET, now) is None
    assert header == shop.sign(SECRET, body, now)


@pytest.mark.parametrize("attempt", ["unsigned", "wrong-signature"])
def test_a_verifying_endpoint_refuses_both_events(serve, attempt):
    server = serve("verifying")

    fact, seconds = send(server.port, attempt)

    assert fact.status == 400 and seconds < 2, fact
    headers, body = server.received[-1]
    assert body == DEFAULT_EVENT.encode() and headers["Content-Type"] == "application/json"
    signature = headers.get("Stripe-Signature")
    if attempt == "unsigned":
        assert signature is None and fact.status_text == '400: {"error": "no Stripe-Signature header"}'
    else:
        assert signature.startswith(f"t={int(time.time()) // 100}") and ",v1=" in signature
        assert fact.status_text == '400: {"error": "no signature matches"}'
    evidence = fact.evidence()
    assert evidence.startswith(f"sent: an event {fact.sent_as}\nContent-Type: application/json\n")
    assert f"POST http://{HOST}:{server.port}/api/v1/payments/webhook/" in evidence and "status: 400" in evidence


def test_every_wrong_signature_is_made_with_a_new_random_secret(serve):
    server = serve("verifying")
    for _ in range(2):
        send(server.port, "wrong-signature")
    first, second = (h["Stripe-Signature"].split(",v1=")[1] for h, _ in server.received)
    assert first != second


def test_an_endpoint_that_accepts_anything(serve):
    fact, _ = send(serve("accepting").port, "unsigned")
    assert fact.status == 200 and repr(fact) == '<webhook payments unsigned: 200: {"received": true}>'


@pytest.mark.parametrize(("mode", "status"), [("error", 500), ("missing", 404)])
def test_an_endpoint_that_fails_or_is_not_there(serve, mode, status):
    fact, _ = send(serve(mode).port, "wrong-signature")
    assert fact.status == status and fact.answered


@pytest.mark.parametrize(("mode", "expected"), [("refused", "Connection refused"), ("silent", "Read timed out")])
def test_no_answer_is_a_fact_in_bounded_time(serve, mode, expected):
    if mode == "refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    else:
        port = serve(mode).port

    fact, seconds = send(port, "unsigned", timeout_s=1)

    assert not fact.answered and expected in fact.status_text, fact
    assert fact.status_text.startswith("no answer after ") and seconds < 3


CHECKS = REPO / "checks" / "test_webhooks.py"


def _profile(ports: dict[str, int], env_file: str | None = ".env.stack", extra: str = "") -> str:
    environment = f'env_file = "{env_file}"\n' if env_file else ""
    entries = "".join(f'[[webhook]]\nname = "{name}"\nurl = "http://{HOST}:{port}/hook/"\ntimeout_s = 1\n'
                      f'variables = {json.dumps(variables)}\n\n'
                      for name, (port, variables) in ports.items())
    return f'[environment]\nrelease = "1.0"\n{environment}resolve = {{ "{HOST}" = "127.0.0.1" }}\n{extra}\n{entries}'


def _env_file(pytester: pytest.Pytester, text: str) -> None:
    (pytester.path / "environments").mkdir(exist_ok=True)
    (pytester.path / "environments" / ".env.stack").write_text(text)


ENV = ("STRIPE_WEBHOOK_SECRET=whsec_0123456789abcdef0123456789abcdef\nSTRIPE_IDENTITY_WEBHOOK_SECRET=CHANGE_ME_LATER\n"
       "EMPTY_SECRET=\n")


def test_the_checks_end_to_end(run_gate, pytester, serve):
    _env_file(pytester, ENV)
    ports = {"verifying": (serve("verifying").port, ["STRIPE_WEBHOOK_SECRET"]),
             "accepting": (serve("accepting").port, ["STRIPE_IDENTITY_WEBHOOK_SECRET", "EMPTY_SECRET", "UNSET"]),
             "silent": (serve("silent").port, []),
             "error": (serve("error").port, [])}
    started = time.monotonic()

    run = run_gate({"test_webhooks.py": CHECKS.read_text()}, "-m", "postdeploy", profile=_profile(ports))

    gate = run.gate
    assert gate["verdict"] == "NO-GO", run.out
    failed = {e["id"]: e["reason"] for e in gate["failed"]}
    refusal = "expected a refusal (400, 401, 403) of an event"
    unsigned, wrong = f"{refusal} without a Stripe-Signature header", f"{refusal} signed with a random secret, not the endpoint's"
    assert failed.pop("webhooks.secrets_set[accepting]") == (
        "accepting secrets: expected set, not empty, not placeholders: STRIPE_IDENTITY_WEBHOOK_SECRET, EMPTY_SECRET, "
        "UNSET, got STRIPE_IDENTITY_WEBHOOK_SECRET is a placeholder (matches 'CHANGE_ME*'); EMPTY_SECRET empty; UNSET not set")
    assert failed.pop("webhooks.rejects_unsigned[accepting]") == (
        f'accepting unsigned event: {unsigned}, got 200: {{"received": true}} (accepted: the endpoint does not verify signatures)')
    assert failed.pop("webhooks.rejects_wrong_signature[accepting]").startswith(f"accepting wrong-signature event: {wrong}")
    assert failed.pop("webhooks.rejects_unsigned[error]").endswith(
        """got 500: {"error": "KeyError: 'STRIPE_WEBHOOK_SECRET'"} (a server error, not a verification)""")
    assert failed.pop("webhooks.rejects_wrong_signature[error]").startswith(f"error wrong-signature event: {wrong}")
    silent = failed.pop("webhooks.rejects_unsigned[silent]")
    assert silent.startswith(f"silent unsigned event: {unsigned} (Stripe-Signature, current timestamp)"[:60]), silent
    assert "got no answer after 1" in silent and "Read timed out" in silent
    assert failed == {}, failed
    skipped = {e["id"]: e["status"] for e in gate["skipped"]}
    assert skipped == {"webhooks.rejects_wrong_signature[silent]": "dependent"}  # no second wait on a silent endpoint
    assert gate["counts"]["passed"] == 3  # verifying: its secret and both refusals
    assert gate["counts"]["selected"] == 10  # secrets_set only for the entries that name variables
    assert f"look at: POST http://{HOST}:{ports['accepting'][0]}/hook/: the endpoint's signature verification" in run.out
    assert "whsec_0123456789" not in run.out + run.gate_text
    assert time.monotonic() - started < 30


def test_before_the_deploy_only_the_secrets_are_judged(run_gate, pytester, serve):
    _env_file(pytester, ENV)
    server = serve("accepting")

    run = run_gate({"test_webhooks.py": CHECKS.read_text()}, "-m", "predeploy",
                   profile=_profile({"accepting": (server.port, ["STRIPE_WEBHOOK_SECRET"])}))

    assert run.gate["verdict"] == "GO", run.out
    assert run.gate["counts"]["selected"] == run.gate["counts"]["passed"] == 1
    assert server.received == []  # the endpoint of the release being replaced is not judged


def test_the_profiles_placeholders_apply(run_gate, pytester, serve):
    _env_file(pytester, "SECRET_KEY=x\nSTRIPE_WEBHOOK_SECRET=whsec_test_dummy\n")
    rules = '\n[env_file_rules]\nplaceholders = ["whsec_test_*"]\n'
    ports = {"payments": (serve("verifying").port, ["STRIPE_WEBHOOK_SECRET"])}

    run = run_gate({"test_webhooks.py": CHECKS.read_text()}, "-m", "predeploy", profile=_profile(ports, extra=rules))

    assert run.gate["failed"][0]["reason"].endswith("got STRIPE_WEBHOOK_SECRET is a placeholder (matches 'whsec_test_*')")


def test_secrets_without_an_env_file_are_bad_input(run_gate, serve):
    run = run_gate({"test_webhooks.py": CHECKS.read_text()}, "-m", "predeploy",
                   profile=_profile({"payments": (1, ["STRIPE_WEBHOOK_SECRET"])}, env_file=None))

    assert run.ret == 4 and "[[webhook]] variables are read from the stack's env file: set [environment] env_file" in (
        run.out + run.err)
