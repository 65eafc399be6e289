"""TLS: each endpoint serves a certificate that verifies, names its host and stays valid long enough.

Runbook steps: RCY-4.5 (the TLS certificate is valid for the domain, after the deploy) and NPR-1.3
(its TLS part: certificates fine, before the deploy). Each ``[tls] endpoints`` entry (default: the
public domain on 443) is checked three ways, from one handshake per endpoint: the chain against
the profile's CA, the names against the host, the days left against ``min_days``. When no
certificate could be fetched at all, the names and dates are skipped as dependent on the first.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gonogo import dependent, judge
from gonogo.memo import Memo
from gonogo.probes.tls import CertFact
from gonogo.sections.tls import TlsEndpoint
from gonogo.profile import Profile
from gonogo.stack import Stack

pytestmark = [pytest.mark.predeploy, pytest.mark.postdeploy, pytest.mark.runbook("RCY-4.5", "NPR-1.3")]


@pytest.fixture(scope="session")
def certificate(stack: Stack) -> Callable[[TlsEndpoint], CertFact]:
    """The certificate each endpoint serves, fetched once per session."""
    seen: Memo[str, CertFact] = Memo()

    def fetch(endpoint: TlsEndpoint) -> CertFact:
        return seen.get(endpoint.name, lambda: stack.tls.certificate(endpoint))

    return fetch


def _served(endpoint: TlsEndpoint, certificate: Callable[[TlsEndpoint], CertFact]) -> CertFact:
    fact = certificate(endpoint)
    if not fact.answered:
        dependent(f"tls.certificate_trusted[{endpoint.name}]", f"no certificate was served ({fact.error})")
    return fact


@pytest.mark.severity("blocker")
@pytest.mark.each("tls.endpoints", "endpoint")
def test_certificate_trusted(endpoint: TlsEndpoint, certificate: Callable[[TlsEndpoint], CertFact]) -> None:
    """The endpoint serves a certificate whose chain verifies against the profile's CA."""
    fact = certificate(endpoint)
    actual = (f"no certificate: {fact.error}" if not fact.answered
              else f"a chain that does not verify: {fact.chain_error} (issuer {fact.issuer})")
    judge(f"{endpoint.name} certificate chain", fact.trusted, expected=f"a chain that verifies against {fact.ca_file}",
          actual=actual, where=f"{endpoint.name} ({fact.address}); the proxy's certificate store", fact=fact)


@pytest.mark.severity("blocker")
@pytest.mark.each("tls.endpoints", "endpoint")
def test_certificate_names_the_host(endpoint: TlsEndpoint, certificate: Callable[[TlsEndpoint], CertFact]) -> None:
    """The certificate's names (SAN) cover the endpoint's host."""
    fact = _served(endpoint, certificate)
    judge(f"{endpoint.name} certificate names", fact.covers(endpoint.host), expected=f"a name covering {endpoint.host}",
          actual=f"names {fact.names} ({fact.subject})", where=f"{endpoint.name}: the certificate the proxy serves",
          fact=fact)


@pytest.mark.severity("critical")
@pytest.mark.each("tls.endpoints", "endpoint")
def test_certificate_valid_long_enough(endpoint: TlsEndpoint, certificate: Callable[[TlsEndpoint], CertFact],
                                       profile: Profile) -> None:
    """The certificate stays valid for more than [tls] min_days."""
    fact = _served(endpoint, certificate)
    min_days = profile.tls.min_days if profile.tls else 0
    days = fact.days_left if fact.days_left is not None else 0.0
    not_yet = fact.not_before is not None and fact.not_before > fact.checked_at
    judge(f"{endpoint.name} certificate validity", days > min_days and not not_yet,
          expected=f"valid now and for more than {min_days:g} days",
          actual=(f"not valid before {fact.not_before:%Y-%m-%d}" if not_yet
                  else f"{days:.1f} days left (not after {fact.not_after:%Y-%m-%d %H:%M} UTC)"),
          where=f"{endpoint.name}: renew the certificate (issuer {fact.issuer})", fact=fact)
