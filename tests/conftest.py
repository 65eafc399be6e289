"""The suite's own tests run pytest inside pytest (pytester); a real dnsmasq for the tests that resolve names."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.exception
import dns.nameserver
import dns.resolver
import pytest

from gonogo.probes import silence

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _every_target_unheard() -> None:
    """A test starts with no target recorded as silent (gonogo.probes.silence keeps its record per process)."""
    silence.use_directory(None)


DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(address: str, port: int, name: str) -> bool:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port)]
    resolver.lifetime = 0.2
    try:
        resolver.resolve(name, "A")
        return True
    except dns.exception.DNSException:
        return False


@pytest.fixture
def dnsmasq(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start a real dnsmasq (no upstream) answering ``{domain: [addresses]}``; returns its port."""
    started: list[subprocess.Popen[bytes]] = []

    def start(answers: dict[str, list[str]], address: str = "127.0.0.1", port: int | None = None) -> int:
        port = port or _free_port()
        argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=", "--no-resolv", "--no-hosts",
                f"--listen-address={address}", "--bind-interfaces", f"--port={port}", "--log-facility=-"]
        argv += [f"--address=/{name}/{a}" for name, addresses in answers.items() for a in addresses]
        log = (tmp_path / f"dnsmasq-{port}.log").open("wb")
        started.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        first = next(iter(answers))
        deadline = time.monotonic() + 10
        while not _answers(address, port, first):  # each try waits up to 0.2 s for an answer
            assert time.monotonic() < deadline and started[-1].poll() is None, Path(log.name).read_text()
        assert started[-1].poll() is None, "another server answers there: " + Path(log.name).read_text()
        return port

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=5)
