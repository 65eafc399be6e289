"""A private CA (kept; ``certs/ca.pem`` is what the suite verifies against) and the HTTPS leaf for
Traefik (SANs shop.localhost, staging.shop.localhost, localhost, 127.0.0.1), generated at start-up with ``cryptography``."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import APP_HOST, STAGING_HOST, progress
from .state import Paths, atomic_write

LEAF_DAYS = 397
RENEW_BEFORE_DAYS = 30


def leaf_files(paths: Paths) -> tuple[Path, Path]:
    return paths.certs / "shop.pem", paths.certs / "shop-key.pem"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_ca(paths: Paths):
    cert = x509.load_pem_x509_certificate(paths.ca_file.read_bytes())
    key = serialization.load_pem_private_key((paths.certs / "ca-key.pem").read_bytes(), None)
    return cert, key


def ensure_ca(paths: Paths) -> None:
    key_file = paths.certs / "ca-key.pem"
    if paths.ca_file.exists() and key_file.exists():
        return
    paths.certs.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gonogo sandbox"),
        x509.NameAttribute(NameOID.COMMON_NAME, f"gonogo sandbox CA {paths.key}"),
    ])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    atomic_write(key_file, _key_pem(key), mode=0o600)
    atomic_write(paths.ca_file, cert.public_bytes(serialization.Encoding.PEM))
    progress("certs", f"generated CA {paths.ca_file}")


def issue_leaf(paths: Paths, days: float = LEAF_DAYS) -> None:
    """(Re)issue the server certificate, valid for `days` from now."""
    ensure_ca(paths)
    ca_cert, ca_key = _load_ca(paths)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, APP_HOST)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName(APP_HOST),
                x509.DNSName(STAGING_HOST),
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = leaf_files(paths)
    atomic_write(key_file, _key_pem(key), mode=0o600)
    # full chain: leaf then CA
    atomic_write(cert_file, cert.public_bytes(serialization.Encoding.PEM) + paths.ca_file.read_bytes())
    progress("certs", f"issued {APP_HOST} certificate valid until {cert.not_valid_after_utc:%Y-%m-%d %H:%M}Z")


def leaf_not_after(paths: Paths) -> dt.datetime | None:
    cert_file, _ = leaf_files(paths)
    try:
        return x509.load_pem_x509_certificate(cert_file.read_bytes()).not_valid_after_utc
    except (FileNotFoundError, ValueError):
        return None


def leaf_names_staging(paths: Paths) -> bool:
    """The leaf names staging's host too (a leaf issued before staging existed does not)."""
    cert_file, _ = leaf_files(paths)
    try:
        san = x509.load_pem_x509_certificate(cert_file.read_bytes()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName)
    except (FileNotFoundError, ValueError, x509.ExtensionNotFound):
        return False
    return STAGING_HOST in san.value.get_values_for_type(x509.DNSName)


def leaf_issuer_matches(paths: Paths) -> bool:
    cert_file, _ = leaf_files(paths)
    try:
        leaf = x509.load_pem_x509_certificate(cert_file.read_bytes())
        ca = x509.load_pem_x509_certificate(paths.ca_file.read_bytes())
        leaf.verify_directly_issued_by(ca)
        return True
    except Exception:
        return False


def ensure_leaf(paths: Paths, keep_short_lived: bool = False) -> bool:
    """Issue the leaf at start-up when missing, not from our CA, or due for renewal. True if issued."""
    ensure_ca(paths)
    not_after = leaf_not_after(paths)
    if keep_short_lived and not_after is not None:
        return False
    if (
        not_after is None
        or not leaf_issuer_matches(paths)
        or not leaf_names_staging(paths)
        or not_after - _now() < dt.timedelta(days=RENEW_BEFORE_DAYS)
    ):
        issue_leaf(paths)
        return True
    return False
