"""A DNS server for the app's domain (Debian's dnsmasq-base): 127.0.0.1 on a free port, no upstream.

It answers ``shop.localhost`` (and its subdomains) with 127.0.0.1 and refuses every other name, so
gonogo's DNS check runs against a real server without any lookup leaving the machine. The fault
``dns-wrong-address`` restarts it answering :data:`WRONG_ADDRESS` instead.
"""

from __future__ import annotations

import time

import dns.exception
import dns.nameserver
import dns.resolver

from . import APP_HOST, SandboxError, progress
from .envfile import port
from .ports import is_free
from .processes import read_pid, require, start, stop
from .state import Paths, State

NAME = "dnsmasq"
ADDRESS = "127.0.0.1"
#: what the domain resolves to while the fault dns-wrong-address is active (another loopback address)
WRONG_ADDRESS = "127.0.0.2"


def address(state: State) -> str:
    """The address the domain must resolve to, given the active faults."""
    return WRONG_ADDRESS if "dns-wrong-address" in state.faults else ADDRESS


def answer(dns_port: int, timeout: float = 1.0) -> str | None:
    """The A record dnsmasq gives for the app's domain, or None (no answer, no server)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(ADDRESS, dns_port)]
    resolver.lifetime = timeout
    try:
        return str(resolver.resolve(APP_HOST, "A")[0])
    except dns.exception.DNSException:
        return None


def running(paths: Paths) -> int | None:
    return read_pid(paths, NAME)


def start_server(paths: Paths, values: dict[str, str], state: State) -> None:
    """Run dnsmasq answering the address the active faults call for (restart it if it answers another)."""
    dns_port = port(values, "SANDBOX_DNS_PORT")
    wanted = address(state)
    pid = running(paths)
    if pid and answer(dns_port) == wanted:
        progress(NAME, f"already running on 127.0.0.1:{dns_port} (pid {pid}): {APP_HOST} -> {wanted}")
        return
    if pid:
        stop(paths, NAME, timeout=5)
    if not is_free(dns_port, udp=True):
        raise SandboxError(f"port {dns_port} (SANDBOX_DNS_PORT) is taken by another process")
    argv = [
        require("dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
        "--no-resolv", "--no-hosts", f"--listen-address={ADDRESS}", "--bind-interfaces", f"--port={dns_port}",
        f"--address=/{APP_HOST}/{wanted}", "--log-facility=-", "--log-queries",
    ]
    pid = start(paths, NAME, argv)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if answer(dns_port, timeout=0.2) == wanted:
            progress(NAME, f"started on 127.0.0.1:{dns_port} (pid {pid}): {APP_HOST} -> {wanted}")
            return
        if not read_pid(paths, NAME):
            break
    raise SandboxError(f"dnsmasq did not answer {APP_HOST} with {wanted}; see {paths.log(NAME)}")


def stop_server(paths: Paths) -> bool:
    was = stop(paths, NAME, timeout=5)
    if was:
        progress(NAME, "stopped")
    return was
