"""A throwaway Docker Engine for the probe tests: a private dockerd and a tiny image made on the spot.

``throwaway_dockerd()`` starts Debian's ``dockerd`` with its own data root, exec root, pid file and
unix socket, no bridge network and no iptables (nothing leaves the machine), and stops it by its pid.
No image can be pulled here: ``import_tiny_image`` imports a rootfs of this host's own ``dash``,
``sleep`` and ``cat`` (and the libraries they load), enough for containers that print, sleep, exit
with a code, crash in a loop or report a healthcheck.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

#: the image every probe test runs (host networking, never pulled)
IMAGE = "gonogo-probe/tiny:1.0"
BINARIES = {"/bin/sh": "/usr/bin/dash", "/bin/sleep": "/usr/bin/sleep", "/bin/cat": "/usr/bin/cat"}


@dataclass
class Engine:
    """A running private dockerd: its socket URL, pid and folders."""

    host: str
    socket: Path
    process: subprocess.Popen[bytes]
    root: Path

    def client(self, timeout: int = 30) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=timeout)

    def stop(self) -> None:
        """Stop dockerd by its pid (it stops its containerd), and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return [part for line in out.splitlines() for part in line.split() if part.startswith("/")]


def tiny_rootfs() -> bytes:
    """A tar of the host's dash (as /bin/sh), sleep and cat with their libraries, and an empty /tmp."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("tmp", "bin"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        files = dict(BINARIES)
        for source in list(BINARIES.values()):
            files.update({lib: lib for lib in _libraries(source)})
        for target, source in files.items():
            tar.add(os.path.realpath(source), arcname=target.lstrip("/"))
    return buffer.getvalue()


def import_tiny_image(client: docker.DockerClient) -> str:
    """Import the tiny rootfs as :data:`IMAGE` (once per engine)."""
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        repository, tag = IMAGE.split(":")
        client.api.import_image_from_data(tiny_rootfs(), repository=repository, tag=tag)
    return IMAGE


@contextmanager
def throwaway_dockerd(timeout_s: float = 30) -> Iterator[Engine]:
    """A private dockerd for the duration of the block (a short runtime dir: a unix socket path is short)."""
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    root = Path(tempfile.mkdtemp(prefix="gonogo-dockerd-"))
    runtime = Path("/run") / f"gonogo-probes-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"
    runtime.mkdir(parents=True, exist_ok=True)
    socket = runtime / "docker.sock"
    argv = [dockerd, "--data-root", str(root / "data"), "--exec-root", str(runtime / "exec"),
            "--pidfile", str(runtime / "dockerd.pid"), "-H", f"unix://{socket}",
            "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip6tables=false", "--ip-masq=false",
            "--userland-proxy=false", "--log-level=warn"]
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env["PATH"] = env.get("PATH", "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"
    with open(root / "dockerd.log", "wb") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
    engine = Engine(f"unix://{socket}", socket, process, root)
    try:
        _wait_answering(engine, timeout_s)
        yield engine
    finally:
        engine.stop()
        _unmount_under(runtime)
        shutil.rmtree(runtime, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def _unmount_under(folder: Path) -> None:
    """Unmount what dockerd left mounted under ``folder`` (its default network namespace), deepest first."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{folder}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)


def _wait_answering(engine: Engine, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise RuntimeError(f"dockerd exited {engine.process.returncode}: {(engine.root / 'dockerd.log').read_text()[-2000:]}")
        if engine.socket.exists():
            try:
                client = engine.client(timeout=2)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except docker.errors.DockerException:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"dockerd did not answer within {timeout_s:g} s")


def compose_container(client: docker.DockerClient, project: str, service: str, command: list[str], *,
                      number: int = 1, **options: object) -> docker.models.containers.Container:
    """Start a container as Compose would name and label it (project, service, number), host networking."""
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
              "com.docker.compose.container-number": str(number), "com.docker.compose.oneoff": "False"}
    return client.containers.run(IMAGE, command, name=f"{project}-{service}-{number}", labels=labels,
                                 network_mode="host", detach=True, **options)


@contextmanager
def accepting_silently(server: socket.socket) -> Iterator[socket.socket]:
    """Accept every connection to a listening ``server`` and never say a word (an engine, or an SSH server,
    that hangs); the connections are closed at the end of the block."""
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()
