"""Host probe: the machine the stack runs on (``[host]``: :mod:`gonogo.sections.host`).

``stack.host`` is a :class:`HostProbe` built from ``[host]``. It observes free disk space
(``statvfs``), the TCP listeners on a port and the processes holding them, CPU load and memory
(psutil), a build artefact's size and sha256, and what a name resolves to (dnspython, through the
profile's nameservers or the system's). Facts only: a missing path, a silent nameserver, a process
gonogo may not inspect are facts with an ``error``. Every call is bounded: filesystem calls by
``timeout_s`` (a hung network mount does not hang the check), DNS by ``dns_timeout_s``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psutil

from gonogo import lazy
from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.secrets import masker
from gonogo.sections.host import Artefact, DNS_PORT, DiskPath, DnsName, HostSection, PortRule, nameserver_address

if TYPE_CHECKING:
    from dns import nameserver as dns_nameserver
    from dns import resolver as dns_resolver

    from gonogo.stack import Stack
else:  # dnspython is imported when a name is first resolved
    dns_nameserver = lazy.module("dns.nameserver")
    dns_resolver = lazy.module("dns.resolver")

T = TypeVar("T")
GIB = 1024**3
#: addresses a listener binds to mean "every address"
ANY_ADDRESS = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))


# ------------------------------------------------------------------------------------ the [host] table


# ------------------------------------------------------------------------------------ facts


class DiskFact(Observed):
    """Free space on the filesystem holding a path (``df``)."""

    EVIDENCE_NAME = "free disk {path}"

    path: str
    elapsed_ms: float
    total_bytes: int = 0
    free_bytes: int = 0
    error: str | None = None

    @property
    def free_gb(self) -> float:
        return self.free_bytes / GIB

    @property
    def total_gb(self) -> float:
        return self.total_bytes / GIB

    @property
    def text(self) -> str:
        """``75.9 GiB free of 252.0 GiB``, or what happened instead."""
        if self.error:
            return masker.mask(self.error)
        return f"{self.free_gb:.1f} GiB free of {self.total_gb:.1f} GiB"

    def evidence(self) -> str:
        lines = [f"path: {self.path}", f"elapsed: {self.elapsed_ms:.1f} ms"]
        if self.error:
            lines.append(f"error: {self.error}")
        else:
            lines += [f"free (available to unprivileged users): {self.free_bytes} bytes ({self.free_gb:.2f} GiB)",
                      f"total: {self.total_bytes} bytes ({self.total_gb:.2f} GiB)"]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<disk {self.path}: {self.text}>"


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket and the process holding it (None where it cannot be seen)."""

    address: str
    port: int
    pid: int | None
    name: str | None = None
    cmdline: str | None = None

    def __str__(self) -> str:
        where = f"{self.address}:{self.port}"
        if self.pid is None:
            return f"{where} by a process gonogo cannot see (run as root to name it)"
        command = f" ({self.cmdline[:120]})" if self.cmdline else ""
        return masker.mask(f"{where} by pid {self.pid} {self.name or '?'}{command}")

    def matches(self, rule: PortRule) -> bool:
        """Whether this listener is the process the rule expects."""
        if self.pid is None:
            return False
        named = rule.process is None or self.name == rule.process
        return named and (rule.cmdline is None or bool(rule.cmdline.search(self.cmdline or "")))


class PortFact(Observed):
    """Who listens on a TCP port (``ss -ltnp``)."""

    EVIDENCE_NAME = "port {host}:{port}"

    host: str
    port: int
    elapsed_ms: float
    listeners: tuple[Listener, ...] = ()
    error: str | None = None

    @property
    def text(self) -> str:
        """``nothing listens``, ``held on ... by pid 12 traefik (...)``, or what happened instead."""
        if self.error:
            return masker.mask(f"could not list the listeners: {self.error}")
        if not self.listeners:
            return "nothing listens"
        return "held on " + "; ".join(str(listener) for listener in self.listeners)

    def evidence(self) -> str:
        lines = [f"port: {self.port} (address {self.host}; 0.0.0.0 or :: means any)",
                 f"elapsed: {self.elapsed_ms:.1f} ms", self.text]
        lines += [f"listener: {listener.address}:{listener.port} pid={listener.pid} name={listener.name} "
                  f"cmdline={listener.cmdline}" for listener in self.listeners]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<port {self.host}:{self.port}: {self.text}>"


class CpuFact(Observed):
    """Load averages (1, 5, 15 minutes), cores, and CPU use when sampled."""

    EVIDENCE_NAME = "cpu load"

    cores: int
    load: tuple[float, float, float]
    elapsed_ms: float
    percent: float | None = None
    sample_s: float | None = None

    @property
    def load_per_core(self) -> float:
        """The 5-minute load average per core."""
        return self.load[1] / self.cores

    @property
    def text(self) -> str:
        used = f", CPU {self.percent:.0f}% over {self.sample_s:g} s" if self.percent is not None else ""
        return (f"load {self.load[0]:.2f} {self.load[1]:.2f} {self.load[2]:.2f} on {self.cores} cores "
                f"({self.load_per_core:.2f} per core over 5 min){used}")

    def evidence(self) -> str:
        return self.text

    def one_line(self) -> str:
        return f"<cpu {self.text}>"


class MemoryFact(Observed):
    """Memory in use and available to new processes (``free``)."""

    EVIDENCE_NAME = "memory"

    total_bytes: int
    available_bytes: int
    percent: float
    elapsed_ms: float

    @property
    def available_gb(self) -> float:
        return self.available_bytes / GIB

    @property
    def text(self) -> str:
        return f"{self.percent:.0f}% in use, {self.available_gb:.1f} GiB available of {self.total_bytes / GIB:.1f} GiB"

    def evidence(self) -> str:
        return f"{self.text}\ntotal: {self.total_bytes} bytes\navailable: {self.available_bytes} bytes"

    def one_line(self) -> str:
        return f"<memory {self.text}>"


class ArtefactFact(Observed):
    """A build artefact: its size and sha256 (``ls -l``, ``sha256sum``)."""

    EVIDENCE_NAME = "artefact {path}"

    path: str
    elapsed_ms: float
    size: int | None = None
    sha256: str | None = None
    error: str | None = None

    @property
    def text(self) -> str:
        if self.error:
            return masker.mask(self.error)
        return f"{self.size} bytes, sha256 {self.sha256}"

    def evidence(self) -> str:
        return masker.mask(f"path: {self.path}\nelapsed: {self.elapsed_ms:.1f} ms\n{self.text}")

    def one_line(self) -> str:
        return f"<artefact {self.path}: {self.text}>"


class DnsFact(Observed):
    """The addresses a name resolved to, and through which nameservers (``dig``)."""

    EVIDENCE_NAME = "dns {name}"

    name: str
    #: the nameservers asked (``127.0.0.1:5353``, or the system's)
    via: str
    #: the same question with dig (``dig @127.0.0.1 -p 5353 shop.example.org A``)
    command: str
    elapsed_ms: float
    addresses: tuple[str, ...] = ()
    error: str | None = None
    #: the answers as dig prints them
    answers: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.error:
            return masker.mask(no_answer(self.elapsed_ms, self.error, "no usable answer"))
        return ", ".join(self.addresses) or "no address (the name exists, with no record of that type)"

    def evidence(self) -> str:
        lines = [f"name: {self.name}", f"nameservers: {self.via}", f"ask again: {self.command}",
                 f"elapsed: {self.elapsed_ms:.1f} ms",
                 f"addresses: {self.text}", *self.answers]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<dns {self.name} via {self.via}: {self.text}>"


# ------------------------------------------------------------------------------------ the probe


class HostProbe:
    """The machine the stack runs on (``stack.host``); paths relative to ``base_dir`` (the profile's folder)."""

    def __init__(self, section: HostSection, base_dir: Path) -> None:
        self.section = section
        self.base_dir = base_dir

    def __repr__(self) -> str:
        return f"<host probe ({self.base_dir})>"

    def path(self, path: Path) -> Path:
        """A path of the profile, made absolute."""
        return path if path.is_absolute() else self.base_dir / path

    def disk(self, entry: DiskPath) -> DiskFact:
        """Free and total space of the filesystem holding ``entry.path``."""
        path, watch = self.path(entry.path), Stopwatch()
        try:
            usage = bounded(lambda: psutil.disk_usage(str(path)), self.section.timeout_s)
        except Exception as exc:  # missing path, permission denied, hung mount: a fact
            return DiskFact(str(path), watch.ms(), error=_reason(exc))
        return DiskFact(str(path), watch.ms(), usage.total, usage.free)

    def port(self, rule: PortRule) -> PortFact:
        """The TCP listeners on ``rule.port`` at an address that overlaps ``rule.host``."""
        watch = Stopwatch()
        try:
            sockets = psutil.net_connections(kind="tcp")
        except Exception as exc:  # psutil.AccessDenied where the system forbids it
            return PortFact(str(rule.host), rule.port, watch.ms(), error=_reason(exc))
        found = {(s.laddr.ip, s.laddr.port, s.pid) for s in sockets
                 if s.status == psutil.CONN_LISTEN and s.laddr.port == rule.port and _overlaps(s.laddr.ip, rule.host)}
        listeners = tuple(_listener(*key) for key in sorted(found, key=lambda k: (k[0], k[2] or 0)))
        return PortFact(str(rule.host), rule.port, watch.ms(), listeners)

    def cpu(self) -> CpuFact:
        """Load averages per core and, when ``max_cpu_percent`` is set, CPU use over ``cpu_sample_s``."""
        watch = Stopwatch()
        cores = psutil.cpu_count() or 1
        load = os.getloadavg()
        if self.section.max_cpu_percent is None:
            return CpuFact(cores, load, watch.ms())
        sample = self.section.cpu_sample_s
        percent = psutil.cpu_percent(interval=sample)
        return CpuFact(cores, load, watch.ms(), percent, sample)

    def memory(self) -> MemoryFact:
        """Memory in use, and available to new processes."""
        watch = Stopwatch()
        memory = psutil.virtual_memory()
        return MemoryFact(memory.total, memory.available, memory.percent, watch.ms())

    def artefact(self, entry: Artefact) -> ArtefactFact:
        """Size and sha256 of a build artefact (a regular file)."""
        path, watch = self.path(entry.path), Stopwatch()
        try:
            size, digest = bounded(lambda: _digest(path), self.section.timeout_s)
        except Exception as exc:  # missing, a directory, unreadable, hung: a fact
            return ArtefactFact(str(path), watch.ms(), error=_reason(exc))
        return ArtefactFact(str(path), watch.ms(), size, digest)

    def resolve(self, entry: DnsName) -> DnsFact:
        """What ``entry.name`` resolves to (A and/or AAAA, as its expected addresses are), within ``dns_timeout_s``."""
        watch = Stopwatch()
        deadline = time.monotonic() + self.section.dns_timeout_s
        via = ", ".join(self.section.nameservers) or "the system's nameservers (/etc/resolv.conf)"
        command = self._dig(entry)
        addresses: list[str] = []
        answers: list[str] = []
        try:
            resolver = self._resolver()
            via = via if self.section.nameservers else f"the system's: {', '.join(map(str, resolver.nameservers))}"
            for record_type in entry.record_types:
                answer = resolver.resolve(entry.name, record_type, search=False, raise_on_no_answer=False,
                                          lifetime=max(deadline - time.monotonic(), 0.001))
                answers += [rrset.to_text() for rrset in answer.response.answer]  # CNAMEs included
                if answer.rrset is not None:
                    addresses += [record.to_text() for record in answer.rrset]
        except Exception as exc:  # NXDOMAIN, refused, timed out, no resolv.conf, a malformed name: a fact
            return DnsFact(entry.name, via, command, watch.ms(), tuple(addresses), _reason(exc), tuple(answers))
        return DnsFact(entry.name, via, command, watch.ms(), tuple(addresses), answers=tuple(answers))

    def _dig(self, entry: DnsName) -> str:
        """The dig command that asks the first nameserver the same question."""
        server = ""
        if self.section.nameservers:
            address, port = nameserver_address(self.section.nameservers[0])
            server = f"@{address} " + (f"-p {port} " if port != DNS_PORT else "")
        return "; ".join(f"dig {server}{entry.name} {record_type}" for record_type in entry.record_types)

    def _resolver(self) -> dns_resolver.Resolver:
        """The profile's nameservers, or the system's; each try at most 1 s, the lookup ``dns_timeout_s``."""
        if self.section.nameservers:
            resolver = dns_resolver.Resolver(configure=False)
            resolver.nameservers = [dns_nameserver.Do53Nameserver(*nameserver_address(text))
                                    for text in self.section.nameservers]
        else:
            resolver = dns_resolver.Resolver()
        resolver.timeout = min(1.0, self.section.dns_timeout_s)
        resolver.lifetime = self.section.dns_timeout_s
        return resolver


def bounded(call: Callable[[], T], timeout_s: float) -> T:
    """``call()`` in a daemon thread: its result, its exception, or TimeoutError after ``timeout_s``
    (a call stuck in the kernel, on a hung network mount, is left behind, not waited for)."""
    outcome: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            outcome.put((True, call()))
        except BaseException as exc:  # handed to the caller
            outcome.put((False, exc))

    threading.Thread(target=run, name="gonogo-bounded-call", daemon=True).start()
    try:
        ok, value = outcome.get(timeout=timeout_s)
    except queue.Empty:
        raise TimeoutError(f"no answer after {timeout_s:g} s") from None
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _digest(path: Path) -> tuple[int, str]:
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory: name the archive of the build")
    if path.exists() and not path.is_file():
        raise OSError(f"{path} is not a regular file")  # a FIFO would block the read
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _overlaps(address: str, host: Any) -> bool:
    """A listener on ``address`` takes the port at ``host``: same address, or either one is "any"."""
    listening = ipaddress.ip_address(address.split("%")[0])
    return listening == host or listening in ANY_ADDRESS or host in ANY_ADDRESS


def _listener(address: str, port: int, pid: int | None) -> Listener:
    if pid is None:
        return Listener(address, port, None)
    try:
        process = psutil.Process(pid)
        return Listener(address, port, pid, process.name(), " ".join(" ".join(process.cmdline()).split()))
    except psutil.Error:  # gone since, or not ours to inspect
        return Listener(address, port, pid)



def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:400]


def from_stack(stack: Stack) -> HostProbe:
    """``stack.host``: the machine of ``[host]``: disk, ports, CPU, memory, artefacts and DNS (paths relative to
    the profile)."""
    return HostProbe(stack.section("host"), base_dir=stack.env.path.parent)
