"""``[host]``: the machine the stack runs on: disk, ports, CPU and memory, build artefacts and DNS.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.host`.
"""

from __future__ import annotations

import ipaddress
import re
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, IPvAnyAddress, field_validator, model_validator

from gonogo.model import Section

DNS_PORT = 53


def _named(data: Any, key: str) -> Any:
    """An entry written as a plain string is its ``key``; its name defaults to that value as written."""
    if isinstance(data, str):
        data = {key: data}
    if isinstance(data, dict) and "name" not in data and key in data:
        data = {**data, "name": str(data[key])}
    return data


class DiskPath(Section):
    """A filesystem that must keep free space (an entry of ``disk_paths``: a path, or a table)."""

    #: the check's id (default: the path as written)
    name: str
    #: any path on the filesystem (relative to the profile)
    path: Path
    #: free space it must keep, in GiB (default: ``min_free_disk_gb``)
    min_free_gb: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _entry(cls, data: Any) -> Any:
        return _named(data, "path")


class PortRule(Section):
    """A TCP port the stack needs: free (nothing may listen) or listening, held by the expected process."""

    #: the check's id (default: the port number)
    name: str
    port: int = Field(ge=1, le=65535)
    #: the address the stack binds; 0.0.0.0 or :: (the default) means any: every listener on the port counts
    host: IPvAnyAddress = IPv4Address("0.0.0.0")
    expect: Literal["free", "listening"] = "listening"
    #: the process that must hold a listening port: its name as ``ps -o comm`` shows it (e.g. traefik)
    process: str | None = None
    #: or a regular expression its command line must match (searched, e.g. "gunicorn .*config.wsgi")
    cmdline: re.Pattern[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _entry(cls, data: Any) -> Any:
        return _named(data, "port")

    @model_validator(mode="after")
    def _holder_needs_a_listener(self) -> PortRule:
        if self.expect == "free" and (self.process or self.cmdline):
            raise ValueError("process and cmdline name who holds a listening port: not for expect = 'free'")
        return self

    @property
    def holder(self) -> str | None:
        """The expected holder, as the profile names it (None: any process)."""
        parts = [self.process, f"a command line matching {self.cmdline.pattern!r}" if self.cmdline else None]
        return " with ".join(p for p in parts if p) or None


class DnsName(Section):
    """A name that must resolve to exactly these addresses (an entry of ``dns``)."""

    name: str
    addresses: list[IPvAnyAddress] = Field(min_length=1)

    @property
    def record_types(self) -> list[str]:
        """The record types to ask for: A for IPv4 addresses, AAAA for IPv6 ones."""
        return sorted({"A" if a.version == 4 else "AAAA" for a in self.addresses})


class Artefact(Section):
    """A build artefact that must exist and not be empty (an entry of ``artefacts``: a path, or a table)."""

    #: the check's id (default: the path as written)
    name: str
    #: the file (relative to the profile)
    path: Path
    #: its expected sha256 (hex); without it the digest is only recorded
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")

    @model_validator(mode="before")
    @classmethod
    def _entry(cls, data: Any) -> Any:
        return _named(data, "path")


def nameserver_address(text: str) -> tuple[str, int]:
    """``addr``, ``addr:port`` or ``[v6addr]:port`` -> (address, port)."""
    host, port = text, DNS_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else DNS_PORT
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number)
    ipaddress.ip_address(host)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return host, port


class HostSection(Section):
    """The machine the stack runs on: disk, ports, CPU and memory, build artefacts and DNS."""

    #: free space every ``disk_paths`` entry must keep, in GiB (none: no disk check)
    min_free_disk_gb: float | None = Field(default=None, gt=0)
    disk_paths: list[DiskPath] = Field(default_factory=lambda: [DiskPath(name="/", path=Path("/"))])
    ports: list[PortRule] = Field(default_factory=list)
    #: the nameservers to ask (``addr`` or ``addr:port``); none: the system's (/etc/resolv.conf)
    nameservers: list[str] = Field(default_factory=list)
    #: name -> the address (or list of addresses) it must resolve to: all of them, nothing else
    dns: list[DnsName] = Field(default_factory=list)
    #: the whole lookup of one name, every nameserver tried
    dns_timeout_s: float = Field(default=5, gt=0)
    #: the 5-minute load average divided by the number of cores
    max_load_per_core: float | None = Field(default=None, gt=0)
    #: CPU use, sampled over ``cpu_sample_s``
    max_cpu_percent: float | None = Field(default=None, gt=0, le=100)
    cpu_sample_s: float = Field(default=1, gt=0, le=10)
    #: memory in use (not available to new processes), in percent of the total
    max_memory_percent: float | None = Field(default=None, gt=0, le=100)
    min_available_memory_gb: float | None = Field(default=None, gt=0)
    artefacts: list[Artefact] = Field(default_factory=list)
    #: each filesystem call (free space of a path, reading an artefact)
    timeout_s: float = Field(default=10, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _disk_threshold(cls, data: Any) -> Any:
        """Each disk path keeps ``min_free_disk_gb`` unless it says otherwise."""
        if not isinstance(data, dict) or data.get("min_free_disk_gb") is None:
            return data
        entries = [_named(e, "path") for e in data.get("disk_paths", ["/"])]
        default = data["min_free_disk_gb"]
        return {**data, "disk_paths": [{"min_free_gb": default, **e} if isinstance(e, dict) else e for e in entries]}

    @field_validator("dns", mode="before")
    @classmethod
    def _dns_mapping(cls, value: Any) -> Any:
        """``{ "shop.example.org" = "203.0.113.7" }`` (or a list of addresses) -> entries."""
        if not isinstance(value, dict):
            return value
        return [{"name": name, "addresses": [a] if isinstance(a, str) else a} for name, a in value.items()]

    @field_validator("nameservers")
    @classmethod
    def _nameservers(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                nameserver_address(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a nameserver: write an IP address, addr:port or [v6addr]:port")
        return value
