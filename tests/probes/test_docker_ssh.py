"""A remote engine, ``[docker] host = "ssh://root@127.0.0.1:<port>"``: Debian's sshd (``openssh-server``) on a
free loopback port, with a throwaway host key and an authorized key, in front of the private dockerd of these
tests (its sessions get DOCKER_HOST, so ``docker system dial-stdio`` reaches it). The probes go through it as
they would to another host; ssh refusing, ssh accepting and never answering, an unknown host key and a key
the server does not accept are facts, each within ``timeout_s``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockerd import Engine, accepting_silently, compose_container
from gonogo.probes.containers import ContainersProbe
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.logs import LogsProbe
from pg import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    key: Path
    known_hosts: Path
    folder: Path

    @property
    def host(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gonogo-test", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


def _wait_banner(port: int, process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if conn.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not answer on {port} (exit {process.poll()})")


@pytest.fixture(scope="module")
def sshd(dockerd: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """sshd -D -e -f <config> on a free loopback port, root allowed by key only; stopped by its pid."""
    if not Path(SSHD).exists():
        pytest.fail("sshd is missing: install Debian's openssh-server (./run setup does)")
    folder = tmp_path_factory.mktemp("sshd")
    port = free_port()
    host_key = _keygen(folder / "host_key")
    (folder / "authorized_keys").write_text(_keygen(folder / "client_key") + "\n")
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\nPidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPermitRootLogin prohibit-password\nAllowUsers root\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"SetEnv DOCKER_HOST={dockerd.host}\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory (the package's service makes it)
    with open(folder / "sshd.log", "wb") as log:
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_banner(port, process)
        yield Sshd(port, folder / "client_key", folder / "known_hosts", folder)
    finally:
        process.terminate()
        process.wait(timeout=10)


def over_ssh(host: str, sshd: Sshd, project: str = "shop", timeout_s: float = 5, **keys: object) -> DockerProbe:
    values: dict[str, object] = {"ssh_key": sshd.key, "ssh_known_hosts": sshd.known_hosts, **keys}
    return DockerProbe(DockerSection(host=host, compose_project=project, timeout_s=timeout_s, **values))  # type: ignore[arg-type]


@pytest.fixture
def web(dockerd: Engine) -> Iterator[str]:
    """A healthy web container of project ``remote`` that logged an error."""
    client = dockerd.client()
    health = {"test": ["CMD-SHELL", "exit 0"], "interval": 300_000_000, "retries": 1}
    container = compose_container(client, "remote", "web", ["sh", "-c", "echo 'ERROR over there'; sleep 300"],
                                  healthcheck=health)
    yield container.name
    container.remove(force=True)
    client.close()


def test_the_probes_through_ssh(sshd: Sshd, web: str) -> None:
    docker_probe = over_ssh(sshd.host, sshd, project="remote")
    try:
        engine = docker_probe.engine()
        containers = ContainersProbe(docker_probe)
        deadline = time.monotonic() + 20
        fact = containers.service("web")
        while not fact.healthy and time.monotonic() < deadline:
            fact = containers.service("web")
        scan = LogsProbe(docker_probe).scan("web", ["ERROR"])
    finally:
        docker_probe.close()

    assert engine.answered and engine.version, engine
    assert engine.host == f"ssh://root@127.0.0.1:{sshd.port}"
    assert fact.healthy and [c.name for c in fact.containers] == [web], fact
    assert scan.count == 1 and scan.matches[0].line == "ERROR over there", scan.evidence()
    assert "Accepted publickey for root" in (sshd.folder / "sshd.log").read_text()


def test_ssh_refused(sshd: Sshd) -> None:
    port = free_port()  # nothing listens there
    fact = ContainersProbe(over_ssh(f"ssh://root@127.0.0.1:{port}", sshd)).service("web")

    assert fact.error is not None and fact.elapsed_ms < 2000, fact
    assert fact.error.startswith(f"the Docker engine at ssh://root@127.0.0.1:{port} is unreachable: "), fact.error
    assert "Unable to connect to port" in fact.error


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (no SSH banner)."""
    with accepting_silently(socket.create_server(("127.0.0.1", 0))) as server:
        yield server.getsockname()[1]


def test_ssh_accepting_and_never_answering(sshd: Sshd, silent_port: int) -> None:
    fact = ContainersProbe(over_ssh(f"ssh://root@127.0.0.1:{silent_port}", sshd, timeout_s=2)).service("web")

    assert fact.error is not None and "is unreachable" in fact.error, fact
    # paramiko says one or the other, as the banner wait ends before or after its own session check
    assert "SSH protocol banner" in fact.error or "No existing session" in fact.error, fact.error
    assert 2000 <= fact.elapsed_ms < 5000, fact.elapsed_ms


def test_an_unknown_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    fact = ContainersProbe(over_ssh(sshd.host, sshd, ssh_known_hosts=empty)).service("web")

    assert fact.error is not None and "is unreachable" in fact.error, fact
    assert "not found in known_hosts" in fact.error, fact.error


def test_a_key_the_server_does_not_accept(sshd: Sshd, tmp_path: Path) -> None:
    _keygen(tmp_path / "other_key")
    fact = ContainersProbe(over_ssh(sshd.host, sshd, ssh_key=tmp_path / "other_key")).service("web")

    assert fact.error is not None and "is unreachable" in fact.error, fact
    assert "Authentication failed" in fact.error, fact.error


def test_relative_key_paths_are_the_profiles(sshd: Sshd) -> None:
    section = DockerSection(host=sshd.host, compose_project="shop", ssh_key=Path(sshd.key.name),
                            ssh_known_hosts=Path("known_hosts"))
    docker_probe = DockerProbe(section, base_dir=sshd.folder)
    try:
        assert docker_probe.engine().answered
    finally:
        docker_probe.close()
