"""The host probe against real components: a real dnsmasq (answering, answering wrong, refusing),
a nameserver address where nothing listens and a UDP socket that never answers; real listeners
(this process, another process, nothing); real files and directories for disk and artefacts; this
machine's load and memory; a Docker API socket that is missing, and one that accepts and never
answers. Every fact comes back in bounded time. The sandbox's real dockerd is in
tests/sandbox/test_probe_host.py; the checks themselves run against the sandbox in the fault matrix.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.host import HostProbe, bounded
from gonogo.sections.host import Artefact, DiskPath, HostSection, PortRule

SLACK_S = 1.0  # what a bounded call may take beyond its timeout (thread start, scheduling)


def free_port() -> int:
    """A loopback port free for both UDP and TCP (dnsmasq takes both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def probe(**host: object) -> HostProbe:
    return HostProbe(HostSection.model_validate(host), base_dir=Path("/"))


def process_name(pid: int) -> str:
    return psutil.Process(pid).name()


# ---------------------------------------------------------------------------------------- DNS


def test_dns_answer_through_the_profile_nameserver(dnsmasq: Callable[..., int]) -> None:
    port = dnsmasq({"shop.test": ["127.0.0.1"]})
    host = probe(nameservers=[f"127.0.0.1:{port}"], dns={"shop.test": "127.0.0.1"})

    fact = host.resolve(host.section.dns[0])

    assert fact.error is None and fact.addresses == ("127.0.0.1",)
    assert fact.via == f"127.0.0.1:{port}" and fact.command == f"dig @127.0.0.1 -p {port} shop.test A"
    assert "shop.test. 0 IN A 127.0.0.1" in fact.evidence()
    assert repr(fact) == f"<dns shop.test via 127.0.0.1:{port}: 127.0.0.1>"


def test_dns_wrong_answer_is_observed_as_is(dnsmasq: Callable[..., int]) -> None:
    port = dnsmasq({"shop.test": ["127.0.0.2"]})
    host = probe(nameservers=[f"127.0.0.1:{port}"], dns={"shop.test": "127.0.0.1"})

    fact = host.resolve(host.section.dns[0])

    assert fact.error is None and fact.addresses == ("127.0.0.2",)


def test_dns_both_families_and_several_addresses(dnsmasq: Callable[..., int]) -> None:
    port = dnsmasq({"dual.test": ["127.0.0.1", "127.0.0.3", "::1"]})
    host = probe(nameservers=[f"127.0.0.1:{port}"], dns={"dual.test": ["::1", "127.0.0.1", "127.0.0.3"]})
    entry = host.section.dns[0]

    fact = host.resolve(entry)

    assert entry.record_types == ["A", "AAAA"]
    assert fact.error is None and sorted(fact.addresses) == ["127.0.0.1", "127.0.0.3", "::1"]


def test_dns_refused_name_is_a_fact(dnsmasq: Callable[..., int]) -> None:
    """dnsmasq without upstream refuses names it does not serve: an answer, not a timeout."""
    port = dnsmasq({"shop.test": ["127.0.0.1"]})
    host = probe(nameservers=[f"127.0.0.1:{port}"], dns={"other.test": "127.0.0.1"}, dns_timeout_s=3)

    fact = host.resolve(host.section.dns[0])

    assert fact.addresses == () and "REFUSED" in (fact.error or "") and fact.elapsed_ms < 1000
    assert fact.text.startswith("no usable answer after ")


def test_dns_nothing_listening_is_bounded_by_the_timeout() -> None:
    """UDP to a port where nothing listens: no answer ever comes; the lookup ends at dns_timeout_s."""
    host = probe(nameservers=[f"127.0.0.1:{free_port()}"], dns={"shop.test": "127.0.0.1"}, dns_timeout_s=1.5)

    started = time.monotonic()
    fact = host.resolve(host.section.dns[0])

    assert fact.error and "lifetime expired" in fact.error, fact
    assert 1.4 < time.monotonic() - started < 1.5 + SLACK_S


def test_dns_silent_server_is_bounded_by_the_timeout() -> None:
    """A socket that receives every query and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        host = probe(nameservers=[f"127.0.0.1:{port}"], dns={"shop.test": "127.0.0.1"}, dns_timeout_s=1.5)

        started = time.monotonic()
        fact = host.resolve(host.section.dns[0])
        elapsed = time.monotonic() - started
        silent.settimeout(0)
        query = silent.recv(512)

    assert query, "the query reached the silent server"
    assert fact.error and "lifetime expired" in fact.error, fact
    assert 1.4 < elapsed < 1.5 + SLACK_S


def test_dns_second_nameserver_answers_when_the_first_is_silent(dnsmasq: Callable[..., int]) -> None:
    port = dnsmasq({"shop.test": ["127.0.0.1"]})
    host = probe(nameservers=[f"127.0.0.1:{free_port()}", f"127.0.0.1:{port}"], dns={"shop.test": "127.0.0.1"},
                 dns_timeout_s=3)

    fact = host.resolve(host.section.dns[0])

    assert fact.error is None and fact.addresses == ("127.0.0.1",)


SYSTEM_LOOKUP = """
from pathlib import Path
from gonogo.probes.host import HostProbe
from gonogo.sections.host import HostSection
host = HostProbe(HostSection.model_validate({"dns": {"sys.test": "127.0.0.9"}, "dns_timeout_s": 2}), Path("/"))
fact = host.resolve(host.section.dns[0])
print(fact.via, "|", fact.addresses, "|", fact.error, "|", fact.command)
"""


def test_dns_through_the_system_nameservers(dnsmasq: Callable[..., int], tmp_path: Path) -> None:
    """No nameservers in the profile: /etc/resolv.conf decides. The probe runs in a private mount
    namespace whose /etc/resolv.conf names a real dnsmasq on a loopback address (never the machine's
    own nameserver: no query leaves the machine)."""
    address = f"127.53.{random.randrange(1, 255)}.{random.randrange(1, 255)}"  # port 53 there is free
    dnsmasq({"sys.test": ["127.0.0.9"]}, address=address, port=53)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {address}\n")
    script = tmp_path / "lookup.py"
    script.write_text(SYSTEM_LOOKUP)
    shell = f"mount --bind {resolv} /etc/resolv.conf && exec {sys.executable} {script}"

    out = subprocess.run(["unshare", "--mount", "sh", "-c", shell], capture_output=True, text=True, timeout=30)

    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"the system's: {address} | ('127.0.0.9',) | None | dig sys.test A"


# ---------------------------------------------------------------------------------------- ports


def test_free_port_has_no_listener() -> None:
    port = free_port()
    fact = probe().port(PortRule(port=port, expect="free", host="127.0.0.1"))

    assert fact.error is None and fact.listeners == () and fact.text == "nothing listens"


def test_port_held_by_this_process() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        rule = PortRule(port=port, process=process_name(os.getpid()))

        fact = probe().port(rule)

    (listener,) = fact.listeners
    assert (listener.address, listener.port, listener.pid) == ("127.0.0.1", port, os.getpid())
    assert listener.matches(rule) and f"by pid {os.getpid()}" in fact.text


LISTENER = "import signal, socket, sys\ns = socket.socket()\ns.bind((sys.argv[1], 0))\ns.listen()\n" \
           "print(s.getsockname()[1], flush=True)\nsignal.pause()\n"


@pytest.fixture
def other_listener() -> Iterator[Callable[[str], tuple[int, int]]]:
    """Another process listening on a loopback address: (its pid, its port)."""
    procs: list[subprocess.Popen[str]] = []

    def start(address: str) -> tuple[int, int]:
        proc = subprocess.Popen([sys.executable, "-c", LISTENER, address], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        return proc.pid, int(proc.stdout.readline())

    yield start
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)


def test_port_held_by_another_process(other_listener: Callable[[str], tuple[int, int]]) -> None:
    pid, port = other_listener("127.0.0.1")
    expected = PortRule(name="app", port=port, process=process_name(pid), cmdline=r"-c import signal")
    stranger = PortRule(name="app", port=port, process="traefik")
    wanted_free = PortRule(name="spare", port=port, expect="free")

    fact = probe().port(expected)

    (listener,) = fact.listeners
    assert listener.pid == pid and listener.cmdline and "import signal, socket, sys s = socket.socket()" in listener.cmdline
    assert listener.matches(expected) and not listener.matches(stranger)
    assert probe().port(wanted_free).listeners == fact.listeners
    assert "\n" not in fact.text, "a command line is shown on one line"


def test_port_addresses_overlap_only_through_the_wildcard(other_listener: Callable[[str], tuple[int, int]]) -> None:
    _, on_other = other_listener("127.0.0.2")
    _, on_any = other_listener("0.0.0.0")

    assert probe().port(PortRule(port=on_other, host="127.0.0.1")).listeners == ()
    assert len(probe().port(PortRule(port=on_other)).listeners) == 1, "host 0.0.0.0: any address"
    assert len(probe().port(PortRule(port=on_any, host="127.0.0.1")).listeners) == 1, "0.0.0.0 holds 127.0.0.1 too"


# ---------------------------------------------------------------------------------------- disk


def test_free_disk_of_a_real_path(tmp_path: Path) -> None:
    fact = probe().disk(DiskPath(path=tmp_path, min_free_gb=1))
    stats = os.statvfs(tmp_path)

    assert fact.error is None and fact.total_bytes == stats.f_blocks * stats.f_frsize
    assert abs(fact.free_bytes - stats.f_bavail * stats.f_frsize) < 64 * 1024 * 1024
    assert fact.text.endswith(" GiB") and " GiB free of " in fact.text


def test_free_disk_of_a_missing_path(tmp_path: Path) -> None:
    fact = probe().disk(DiskPath(path=tmp_path / "nowhere"))

    assert fact.error and fact.error.startswith("FileNotFoundError") and fact.free_bytes == 0
    assert fact.text == fact.error


def test_relative_paths_are_relative_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "app.tar.gz").write_bytes(b"x")
    host = HostProbe(HostSection.model_validate({"artefacts": ["dist/app.tar.gz"]}), base_dir=tmp_path)

    assert host.artefact(host.section.artefacts[0]).size == 1
    assert host.disk(DiskPath(path=Path("dist"))).error is None


def test_a_call_that_blocks_in_the_kernel_is_bounded(tmp_path: Path) -> None:
    """Opening a FIFO with no writer blocks in the kernel, as statvfs does on a hung network mount
    (which cannot be produced here): the caller gets TimeoutError after timeout_s."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer after 0.5 s"):
        bounded(lambda: fifo.open("rb"), 0.5)
    assert time.monotonic() - started < 0.5 + SLACK_S
    with fifo.open("wb"):  # a writer: the left-behind open returns, its thread ends
        pass


# ---------------------------------------------------------------------------------------- artefacts


def test_artefact_present_with_its_digest(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    (tmp_path / "app.tar.gz").write_bytes(data)

    fact = probe().artefact(Artefact(path=tmp_path / "app.tar.gz"))

    assert fact.error is None and fact.size == len(data) and fact.sha256 == hashlib.sha256(data).hexdigest()
    assert fact.sha256 in fact.evidence() and fact.sha256 in repr(fact)


def test_artefact_empty(tmp_path: Path) -> None:
    (tmp_path / "empty.tar.gz").touch()

    fact = probe().artefact(Artefact(path=tmp_path / "empty.tar.gz"))

    assert fact.error is None and fact.size == 0


@pytest.mark.parametrize("kind, error", [("missing", "FileNotFoundError"), ("directory", "IsADirectoryError"),
                                         ("fifo", "is not a regular file")])
def test_artefact_that_is_not_a_file(tmp_path: Path, kind: str, error: str) -> None:
    path = tmp_path / "app.tar.gz"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # reading it would block: it is refused before

    fact = probe(timeout_s=2).artefact(Artefact(path=path))

    assert fact.size is None and error in (fact.error or ""), fact
    assert fact.elapsed_ms < 1000


# ---------------------------------------------------------------------------------------- CPU, memory


def test_cpu_load_and_a_sampled_cpu_use() -> None:
    fact = probe(max_load_per_core=4, max_cpu_percent=90, cpu_sample_s=0.3).cpu()

    assert fact.cores == os.cpu_count() and fact.load == pytest.approx(os.getloadavg(), abs=0.5)
    assert fact.percent is not None and 0 <= fact.percent <= 100 and fact.elapsed_ms >= 250
    assert "per core over 5 min" in fact.text and "CPU" in fact.text


def test_cpu_use_is_sampled_only_when_a_threshold_asks() -> None:
    fact = probe(max_load_per_core=4).cpu()

    assert fact.percent is None and fact.elapsed_ms < 100


def test_memory() -> None:
    fact = probe().memory()
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())

    assert fact.total_bytes == int(meminfo["MemTotal"].split()[0]) * 1024
    assert 0 < fact.available_bytes <= fact.total_bytes and 0 <= fact.percent <= 100


# ---------------------------------------------------------------------------------------- Docker


def test_docker_socket_missing(tmp_path: Path) -> None:
    engine = DockerProbe(DockerSection(host=f"unix://{tmp_path}/docker.sock", timeout_s=2, compose_project="p"))

    fact = engine.engine()

    assert not fact.answered and fact.error and fact.elapsed_ms < 1000, fact
    assert repr(fact).startswith(f"<docker unix://{tmp_path}/docker.sock: no answer: ")


def test_docker_socket_that_never_answers_is_bounded_by_timeout_s(tmp_path: Path) -> None:
    path = tmp_path / "docker.sock"
    accepted: list[socket.socket] = []
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()

        def accept() -> None:
            while True:
                try:
                    accepted.append(server.accept()[0])  # kept open, never answered
                except OSError:
                    return

        threading.Thread(target=accept, daemon=True).start()
        engine = DockerProbe(DockerSection(host=f"unix://{path}", timeout_s=1.5, compose_project="p"))

        started = time.monotonic()
        fact = engine.engine()
        elapsed = time.monotonic() - started

    for conn in accepted:
        conn.close()
    assert accepted, "the probe connected"
    assert not fact.answered and "timed out" in (fact.error or "").lower(), fact
    assert 1.4 < elapsed < 1.5 + SLACK_S


# ---------------------------------------------------------------------------------------- the table


@pytest.mark.parametrize("host, problem", [
    ({"ports": [{"port": 80, "expect": "free", "process": "nginx"}]}, "not for expect = 'free'"),
    ({"ports": [{"port": 80, "cmdline": "("}]}, "valid regular expression"),
    ({"ports": [{"port": 70000}]}, "less than or equal to 65535"),
    ({"nameservers": ["dns.example.org"]}, "is not a nameserver"),
    ({"dns": {"shop.test": "not-an-address"}}, "not a valid IPv4 or IPv6 address"),
    ({"artefacts": [{"path": "a", "sha256": "abc"}]}, "should match pattern"),
])
def test_bad_host_tables_are_refused(host: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        HostSection.model_validate(host)


def test_host_table_defaults_and_shorthands() -> None:
    host = HostSection.model_validate(tomllib.loads(textwrap.dedent("""
        min_free_disk_gb = 2
        disk_paths = ["/", { path = "/var/lib/docker", min_free_gb = 20 }]
        ports = [{ port = 443, process = "traefik" }, { name = "spare", port = 8081, expect = "free" }]
        nameservers = ["127.0.0.1:5353", "[::1]:53", "10.0.0.2"]
        dns = { "shop.example.org" = "203.0.113.7", "api.example.org" = ["203.0.113.8", "2001:db8::8"] }
        artefacts = ["dist/app.tar.gz"]
    """)))

    assert [(d.name, d.min_free_gb) for d in host.disk_paths] == [("/", 2), ("/var/lib/docker", 20)]
    assert [(p.name, str(p.host), p.expect) for p in host.ports] == [("443", "0.0.0.0", "listening"),
                                                                     ("spare", "0.0.0.0", "free")]
    assert [(n.name, n.record_types) for n in host.dns] == [("shop.example.org", ["A"]),
                                                            ("api.example.org", ["A", "AAAA"])]
    assert host.artefacts[0].name == "dist/app.tar.gz" and host.artefacts[0].sha256 is None
    assert HostSection().disk_paths[0].min_free_gb is None, "no threshold: no disk check"


# ---------------------------------------------------------------------------------------- the checks

HOST_CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_host.py"


def test_checks_on_real_files_and_a_real_dns_server(pytester: pytest.Pytester, dnsmasq: Callable[..., int],
                                                    inventory_of: Callable[[], None]) -> None:
    """The real checks/test_host.py in a project of its own: what fails says why and where to look; what
    the profile leaves out is not configured, or not applicable for an optional threshold."""
    port = dnsmasq({"shop.test": ["127.0.0.2"]})
    pytester.makefile(".tar.gz", empty="")
    pytester.makepyfile(test_host=HOST_CHECKS.read_text(encoding="utf-8"))
    inventory_of()
    (pytester.path / "environments").mkdir()
    (pytester.path / "environments" / "dev.toml").write_text(textwrap.dedent(f"""
        [environment]
        release = "1.0.0"

        [host]
        nameservers = ["127.0.0.1:{port}"]
        dns = {{ "shop.test" = "127.0.0.1" }}
        artefacts = ["../empty.tar.gz", {{ name = "missing", path = "../dist/app.tar.gz" }}]
    """))

    result = pytester.runpytest_subprocess("--env", "dev", "-m", "predeploy", "-p", "no:cacheprovider", timeout=60)

    gate = json.loads((pytester.path / "reports" / "gate.json").read_text())
    failed = {e["id"]: e["reason"] for e in gate["failed"]}
    assert set(failed) == {"host.artefact_ready[../empty.tar.gz]", "host.artefact_ready[missing]",
                           "host.dns_resolves[shop.test]"}, result.stdout.str()
    assert failed["host.artefact_ready[../empty.tar.gz]"] == \
        "artefact ../empty.tar.gz: expected a non-empty file, got empty (0 bytes)"
    assert failed["host.artefact_ready[missing]"].startswith(
        "artefact missing: expected a non-empty file, got FileNotFoundError: ")
    assert failed["host.dns_resolves[shop.test]"] == "dns shop.test: expected 127.0.0.1, got 127.0.0.2"
    assert f"look at: dig @127.0.0.1 -p {port} shop.test A" in result.stdout.str()
    skipped = {e["id"]: e["status"] for e in gate["skipped"]}
    assert skipped == {
        "host.docker_daemon_reachable": "not-applicable",  # needs [docker] (issue 22, item 2)
        "host.free_disk[not-applicable]": "not-applicable",
        "host.port_as_expected[not-configured]": "not-configured",
        "host.cpu_load": "not-applicable",
        "host.memory_available": "not-applicable",
    }, gate["skipped"]
    assert gate["verdict"] == "NO-GO" and result.ret == 1
