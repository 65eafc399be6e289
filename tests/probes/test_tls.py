"""The TLS probe against real TLS servers on loopback (certificates made for each test with cryptography):
a good certificate, an untrusted chain, a name that does not cover the host, one about to expire, and
endpoints that refuse, never answer, or do not speak TLS. Every case ends in a fact, in bounded time."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gonogo.probes.tls import TlsProbe
from gonogo.sections.tls import TlsEndpoint, parse_endpoint

NOW = dt.datetime.now(dt.timezone.utc)


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    pem: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(folder: Path, cn: str = "gonogo test CA") -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = folder / f"{cn.replace(' ', '-')}.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Authority(key, cert, pem)


def make_leaf(folder: Path, ca: Authority, names: list[str], days: float = 90, ips: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder().subject_name(_name(names[0] if names else "no-name")).issuer_name(ca.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca.key, hashes.SHA256()))
    cert_file, key_file = folder / "leaf.pem", folder / "leaf.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Server:
    """A loopback TCP server in a thread: TLS with a certificate, silent, or speaking plain HTTP."""

    def __init__(self, mode: str, cert: tuple[Path, Path] | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.mode, self.held, self.stop = mode, [], threading.Event()
        self.context = None
        if cert:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*map(str, cert))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            if self.mode == "silent":
                self.held.append(conn)  # accepted, never answered
            elif self.mode == "plain":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                conn.close()
            else:
                try:
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(1)
                except (ssl.SSLError, OSError):
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[Server] = []

    def start(mode: str, cert: tuple[Path, Path] | None = None) -> Server:
        servers.append(Server(mode, cert))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


HOST = "shop.example.test"


def probe(ca: Authority | None, timeout_s: float = 2.0) -> TlsProbe:
    return TlsProbe(resolve={HOST: "127.0.0.1"}, ca_file=ca.pem if ca else None, timeout_s=timeout_s)


def test_a_good_certificate(tmp_path, serve):
    ca = make_ca(tmp_path)
    server = serve("tls", make_leaf(tmp_path, ca, [HOST], days=90))

    fact = probe(ca).certificate(TlsEndpoint(host=HOST, port=server.port))

    assert fact.answered and fact.trusted, fact
    assert fact.covers(HOST) and not fact.covers("other.example.test")
    assert 88 < fact.days_left < 90.1
    assert fact.subject == f"CN={HOST}" and fact.issuer == "CN=gonogo test CA"
    evidence = fact.evidence()
    for part in ("names (SAN): shop.example.test, 127.0.0.1", "days left: 90.0", "chain: verified", "issuer: CN=gonogo test CA"):
        assert part in evidence, evidence


def test_an_untrusted_chain_still_shows_the_certificate(tmp_path, serve):
    (tmp_path / "other").mkdir()
    ca, stranger = make_ca(tmp_path), make_ca(tmp_path / "other", "someone else's CA")
    server = serve("tls", make_leaf(tmp_path, stranger, [HOST]))

    fact = probe(ca).certificate(TlsEndpoint(host=HOST, port=server.port))

    assert fact.answered and not fact.trusted
    assert "unable to get local issuer certificate" in fact.chain_error
    assert fact.issuer == "CN=someone else's CA" and fact.covers(HOST)  # the details are there anyway


def test_names_and_wildcards(tmp_path, serve):
    ca = make_ca(tmp_path)
    server = serve("tls", make_leaf(tmp_path, ca, ["*.example.test", "api.other.test"], ips=()))

    fact = probe(ca).certificate(TlsEndpoint(host=HOST, port=server.port))

    assert fact.trusted
    assert fact.covers("shop.example.test") and fact.covers("API.other.test")
    assert not fact.covers("a.shop.example.test") and not fact.covers("example.test") and not fact.covers("127.0.0.1")


def test_a_certificate_about_to_expire(tmp_path, serve):
    ca = make_ca(tmp_path)
    server = serve("tls", make_leaf(tmp_path, ca, [HOST], days=3))

    fact = probe(ca).certificate(TlsEndpoint(host=HOST, port=server.port))

    assert fact.trusted and 1.9 < fact.days_left < 3.1


@pytest.mark.parametrize(("mode", "expected"), [
    ("refused", "ConnectionRefusedError"),
    ("silent", "timed out"),
    ("plain", "SSLError"),
])
def test_no_certificate_is_a_fact_in_bounded_time(tmp_path, serve, mode, expected):
    if mode == "refused":
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    else:
        port = serve(mode).port
    started = time.monotonic()

    fact = probe(make_ca(tmp_path), timeout_s=1.0).certificate(TlsEndpoint(host=HOST, port=port))

    assert time.monotonic() - started < 5
    assert not fact.answered and expected in fact.error, fact
    assert f"{HOST}:{port} (127.0.0.1:{port}): no certificate" in fact.evidence()


@pytest.mark.parametrize(("text", "expected"), [
    ("shop.example.org:8443", {"host": "shop.example.org", "port": 8443}),
    ("shop.example.org", {"host": "shop.example.org"}),
    ("[::1]:443", {"host": "::1", "port": 443}),
    ("::1", {"host": "::1"}),
])
def test_parse_endpoint(text, expected):
    assert parse_endpoint(text) == expected


CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_tls.py"


def run_checks(pytester: pytest.Pytester, inventory_of: Callable[[], None], ca: Authority, ports: list[int]) -> dict:
    """The real checks/test_tls.py in a pytester project (and its inventory), against the given loopback ports."""
    import json

    endpoints = ", ".join(f'"{HOST}:{p}"' for p in ports)
    (pytester.path / "environments").mkdir()
    (pytester.path / "environments" / "dev.toml").write_text(
        f'[environment]\nrelease = "1.0"\nresolve = {{ "{HOST}" = "127.0.0.1" }}\nca_file = "{ca.pem}"\n\n'
        f'[tls]\nmin_days = 14\ntimeout_s = 1\nendpoints = [{endpoints}]\n')
    (pytester.path / "test_tls.py").write_text(CHECKS.read_text())
    inventory_of()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--env", "dev", "-m", "predeploy", timeout=60)
    return {"out": result.stdout.str(), **json.loads((pytester.path / "reports" / "gate.json").read_text())}


def test_the_checks_end_to_end(tmp_path, serve, pytester, inventory_of):
    ca = make_ca(tmp_path)
    good = serve("tls", make_leaf(tmp_path, ca, [HOST], days=90)).port
    (tmp_path / "expiring").mkdir()
    expiring = serve("tls", make_leaf(tmp_path / "expiring", ca, ["other.example.test"], days=3)).port
    silent = serve("silent").port

    gate = run_checks(pytester, inventory_of, ca, [good, expiring, silent])

    assert gate["verdict"] == "NO-GO", gate["out"]
    failed = {e["id"]: e["reason"] for e in gate["failed"]}
    assert sorted(failed) == [f"tls.certificate_names_the_host[{HOST}:{expiring}]",
                              f"tls.certificate_trusted[{HOST}:{silent}]",
                              f"tls.certificate_valid_long_enough[{HOST}:{expiring}]"], gate["out"]
    assert failed[f"tls.certificate_trusted[{HOST}:{silent}]"] == (
        f"{HOST}:{silent} certificate chain: expected a chain that verifies against {ca.pem}, "
        "got no certificate: timed out (no TLS answer)")
    assert "got names other.example.test, 127.0.0.1" in failed[f"tls.certificate_names_the_host[{HOST}:{expiring}]"]
    # nothing to judge the names and dates of where no certificate came: dependent, not a pile of failures
    dependent = sorted(e["id"] for e in gate["skipped"] if e["status"] == "dependent")
    assert dependent == [f"tls.certificate_names_the_host[{HOST}:{silent}]",
                         f"tls.certificate_valid_long_enough[{HOST}:{silent}]"]
    assert gate["not_run"] == [] and gate["counts"]["passed"] == 4
