"""TLS probe: the certificate an endpoint serves, whether its chain verifies (``[tls]``:
:mod:`gonogo.sections.tls`).

One handshake with the profile's CA (chain verification only: the names are judged separately, so
a wrong name and an untrusted chain read as two different facts); when the chain does not verify,
a second handshake without verification still fetches the certificate, so its names and dates can
be shown. The connection goes to the ``resolve`` address and keeps the name for SNI, like
``curl --resolve``. Every step is bounded by ``timeout_s``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.secrets import masker
from gonogo.sections.tls import TlsEndpoint

if TYPE_CHECKING:
    from gonogo.stack import Stack


class CertFact(Observed):
    """The certificate an endpoint served, and whether its chain verified against the CA."""

    EVIDENCE_NAME = "certificate of {endpoint}"

    endpoint: str
    address: str
    answered: bool
    elapsed_ms: float
    error: str | None = None
    #: None when the chain verified; else why not (OpenSSL's message)
    chain_error: str | None = None
    subject: str = ""
    issuer: str = ""
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    serial: str = ""
    sha256: str = ""
    protocol: str = ""
    ca_file: str = "the system's trust store"
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def trusted(self) -> bool:
        return self.answered and self.chain_error is None

    @property
    def days_left(self) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - self.checked_at).total_seconds() / 86400

    def covers(self, host: str) -> bool:
        """Do the certificate's names (SANs) cover ``host``? (One leftmost wildcard label at most.)"""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return any(_name_matches(name, host) for name in self.dns_names)
        return any(ipaddress.ip_address(a) == ip for a in self.ip_addresses)

    @property
    def names(self) -> str:
        return ", ".join([*self.dns_names, *self.ip_addresses]) or "none"

    def evidence(self) -> str:
        if not self.answered:
            return masker.mask(f"{self.endpoint} ({self.address}): {no_answer(self.elapsed_ms, self.error, 'no certificate')}")
        days = self.days_left
        lines = [
            f"endpoint: {self.endpoint} (connected to {self.address}, {self.protocol})",
            f"subject: {self.subject}",
            f"issuer: {self.issuer}",
            f"names (SAN): {self.names}",
            f"not before: {self.not_before:%Y-%m-%d %H:%M:%S} UTC" if self.not_before else "not before: ?",
            f"not after: {self.not_after:%Y-%m-%d %H:%M:%S} UTC" if self.not_after else "not after: ?",
            f"days left: {days:.1f}" if days is not None else "days left: ?",
            f"serial: {self.serial}",
            f"sha256 fingerprint: {self.sha256}",
            f"chain: {'verified' if self.chain_error is None else 'NOT verified: ' + self.chain_error} against {self.ca_file}",
        ]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if not self.answered:
            return f"<certificate of {self.endpoint}: none: {self.error}>"
        return (f"<certificate of {self.endpoint}: {self.subject}, names {self.names}, "
                f"{self.days_left:.1f} days left, chain {'ok' if self.trusted else self.chain_error}>")


def _name_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


@dataclass(frozen=True)
class TlsProbe:
    """TLS handshakes with the stack (``stack.tls``): the profile's resolve map and CA plumbed in once."""

    resolve: Mapping[str, str] = field(default_factory=dict)
    ca_file: Path | None = None
    timeout_s: float = 5.0

    def certificate(self, endpoint: TlsEndpoint) -> CertFact:
        """The certificate ``endpoint`` serves (never raises: no answer is a fact)."""
        address = self.resolve.get(endpoint.host, endpoint.host)
        shown = f"{address}:{endpoint.port}"
        watch = Stopwatch()
        ca = str(self.ca_file) if self.ca_file else "the system's trust store"
        try:
            der, protocol = self._handshake(endpoint, address, verify=True)
            chain_error = None
        except ssl.SSLCertVerificationError as exc:
            chain_error = exc.verify_message or str(exc)
            try:
                der, protocol = self._handshake(endpoint, address, verify=False)
            except (OSError, ValueError) as again:
                return CertFact(endpoint.name, shown, False, watch.ms(), error=_reason(again), ca_file=ca)
        except (OSError, ValueError) as exc:  # refused, timeout, not TLS, handshake failure
            return CertFact(endpoint.name, shown, False, watch.ms(), error=_reason(exc), ca_file=ca)
        return _describe(endpoint.name, shown, der, protocol, chain_error, watch.ms(), ca)

    def _handshake(self, endpoint: TlsEndpoint, address: str, verify: bool) -> tuple[bytes, str]:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.check_hostname = False  # names are judged on their own (CertFact.covers)
        if not verify:
            context.verify_mode = ssl.CERT_NONE
        with socket.create_connection((address, endpoint.port), timeout=self.timeout_s) as raw:
            raw.settimeout(self.timeout_s)
            with context.wrap_socket(raw, server_hostname=endpoint.host) as tls:
                der = tls.getpeercert(binary_form=True)
                if not der:
                    raise ssl.SSLError("the server sent no certificate")
                return der, tls.version() or ""


def _describe(endpoint: str, address: str, der: bytes, protocol: str, chain_error: str | None,
              elapsed_ms: float, ca: str) -> CertFact:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns_names, ips = (), ()
    return CertFact(
        endpoint, address, True, elapsed_ms, chain_error=chain_error,
        subject=_common_name(cert.subject) or cert.subject.rfc4514_string(),
        issuer=_common_name(cert.issuer) or cert.issuer.rfc4514_string(),
        dns_names=dns_names, ip_addresses=ips,
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        serial=format(cert.serial_number, "x"), sha256=hashlib.sha256(der).hexdigest(),
        protocol=protocol, ca_file=ca,
    )


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return ""
    value = values[0].value
    return f"CN={value.decode(errors='replace') if isinstance(value, bytes) else value}"



def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out (no TLS answer)"
    text = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def from_stack(stack: Stack) -> TlsProbe:
    """``stack.tls``: TLS handshakes: the resolve map, the CA file and ``[tls] timeout_s``."""
    section = stack.section("tls")
    environment = stack.env.profile.environment
    return TlsProbe(resolve=dict(environment.resolve), ca_file=stack.env.ca_path, timeout_s=section.timeout_s)
