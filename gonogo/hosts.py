"""Host names a profile lists (``[environment] public_hosts``, ``[frontend] asset_hosts``): a host, an IP address,
or a parent domain written as Django writes it in ``ALLOWED_HOSTS`` (``.example.org``: that domain and every
subdomain). Checked when the profile loads, so a URL or a wildcard written by mistake is one line naming the key.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

#: every host (``[frontend] asset_hosts = ["*"]``)
ANY = "*"
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def pattern(value: str, *, any_host: bool = False) -> str:
    """``value`` lowercased when it is a host, an IP address or a ``.parent`` domain (or ``*`` with ``any_host``);
    a ValueError that says what to write otherwise."""
    text = value.strip().lower().rstrip(".")
    if any_host and text == ANY:
        return text
    if "://" in text:
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        raise ValueError(f"{value!r} is a URL: write its host alone" + (f" ({host!r})" if host else ""))
    if "*" in text:
        star = "; or '*' alone for every host" if any_host else ""
        parent = text.lstrip("*.")
        if not parent or "*" in parent:
            raise ValueError(f"{value!r} is a wildcard: list the hosts themselves, or a parent domain as "
                             f"'.example.org' (the domain and its subdomains){star}")
        raise ValueError(f"{value!r} is a wildcard: write a parent domain as '.{parent}' (the domain and its "
                         f"subdomains){star}")
    name = text[1:] if text.startswith(".") else text
    if _is_ip(name) and not text.startswith("."):
        return name.strip("[]")  # as a URL's hostname gives it: [::1] -> ::1
    if text.startswith(".") and _is_ip(name):
        raise ValueError(f"{value!r}: an IP address has no subdomains: write it without the leading '.'")
    if not _is_ip(name) and not (name and all(_LABEL.fullmatch(label) for label in name.split("."))):
        raise ValueError(f"{value!r} is not a host name: a host alone (no scheme, port or path), or '.example.org' "
                         "for a domain and its subdomains")
    return text


def matches(host: str, listed: str) -> bool:
    """``host`` (from a URL) is the listed host, or falls under a listed ``.parent`` domain (or ``*``)."""
    host = host.lower().rstrip(".")
    if listed == ANY:
        return True
    if listed.startswith("."):
        return host == listed[1:] or host.endswith(listed)
    return host == listed


def matches_any(host: str, listed: list[str]) -> bool:
    return any(matches(host, item) for item in listed)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True
