"""Commands probe: run a command the profile names and observe how it ended (``[[command]]``:
:mod:`gonogo.sections.commands`).

A command runs either inside a service's running container, through the Docker API (an exec, like
``docker compose exec -T web ...``), or on the gate's own host (a CI check command), with its
argv as written (no shell unless the entry asks for one). ``stack.commands`` is a
:class:`CommandProbe`; it returns a :class:`CommandFact` and never raises: an engine that does not
answer, a service with no running container, a missing binary, a command still running at its
``timeout_s`` are facts with an ``error``. Output (stdout and stderr together: one pipe on the host;
in a container two streams, so lines written in the same instant may swap) is read as it comes;
the last :data:`OUTPUT_LIMIT` bytes are kept, and it is masked wherever it is shown: a command's
output may print secrets.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonogo.fact import Observed, Stopwatch
from gonogo.probes.docker import DockerProbe, error_text
from gonogo.secrets import masker
from gonogo.sections.commands import CommandEntry

if TYPE_CHECKING:
    from gonogo.stack import Stack

#: the most output kept per command (its end): what ``expect_output`` is searched in
OUTPUT_LIMIT = 256 * 1024
_CHUNK = 64 * 1024
#: how many of the last lines of output a failure's one-line reason quotes
_LAST_LINES = 3
#: how often the engine is asked for the exit code of an exec whose output has ended
_EXIT_POLL_S = 0.05


class CommandFact(Observed):
    """How one command ended: where it ran, its exit code (None when it did not end) and its output."""

    EVIDENCE_NAME = "command {name}: {command}"

    name: str
    command: str
    #: "host, in /srv/gonogo/environments", "container shop-web-1 (service web, image shop/web:1a2b3c4)"
    where: str
    elapsed_ms: float
    exit_code: int | None = None
    #: stdout and stderr together, as they arrived: the last OUTPUT_LIMIT bytes
    output: str = field(default="", repr=False)
    #: how many bytes the command wrote in all (more than ``output`` holds when it was long)
    output_bytes: int = 0
    tail_lines: int = 40
    #: why there is no exit code: could not start, engine unreachable, no container, timed out
    error: str | None = None

    @property
    def finished(self) -> bool:
        """The command ran to its end (it has an exit code)."""
        return self.exit_code is not None

    @property
    def status_text(self) -> str:
        """``exit code 1``, ``killed by signal 9``, or what happened instead."""
        if self.exit_code is None:
            return masker.mask(str(self.error))
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        return f"exit code {self.exit_code}"

    def tail(self) -> list[str]:
        """The last ``tail_lines`` lines of output."""
        return self.output.splitlines()[-self.tail_lines:]

    @property
    def last_words(self) -> str:
        """The last lines of output that say something (where the error usually is), on one line, masked."""
        said = [line.strip() for line in self.output.splitlines() if line.strip()][-_LAST_LINES:]
        return masker.mask(" | ".join(line[:200] for line in said)) if said else "(no output)"

    def search(self, pattern: str) -> str | None:
        """The first piece of output matching ``pattern`` (multi-line mode), or None."""
        found = re.search(pattern, self.output, re.MULTILINE)
        return found.group(0) if found else None

    def evidence(self) -> str:
        lines = [f"command: {self.command}", f"where: {self.where}", f"result: {self.status_text}",
                 f"elapsed: {self.elapsed_ms:.0f} ms"]
        if self.output_bytes or self.finished:
            shown = self.tail()
            kept = len(self.output.splitlines())
            more = "" if self.output_bytes <= OUTPUT_LIMIT else f", of {self.output_bytes} bytes in all"
            lines += ["", f"--- output: the last {len(shown)} of {kept} lines{more} ---", *shown]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<command {self.name} on {self.where}: {self.status_text}>"


class CommandProbe:
    """Runs the profile's commands (``stack.commands``): in containers through ``docker``, or on this host."""

    def __init__(self, folder: Path, docker: DockerProbe | None) -> None:
        #: the profile's folder: a host command's working directory (``workdir`` is relative to it)
        self.folder = folder
        self.docker = docker

    def __repr__(self) -> str:
        return f"<commands probe ({self.folder})>"

    def run(self, entry: CommandEntry) -> CommandFact:
        """Run ``entry`` where it says, bounded by its ``timeout_s``; never raises."""
        return self._on_host(entry) if entry.host else self._in_service(entry)

    # -- on this host ---------------------------------------------------------------------------
    def _on_host(self, entry: CommandEntry) -> CommandFact:
        cwd = self.folder / entry.workdir if entry.workdir else self.folder
        result = _Result(entry, f"host, in {cwd}")
        try:
            process = subprocess.Popen(entry.argv(), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:  # no such binary or folder, not executable: a fact
            return result.fact(error=f"could not start: {exc.strerror or exc}"
                                     + (f": {exc.filename}" if exc.filename else ""))
        with process:
            assert process.stdout is not None
            fd = process.stdout.fileno()
            ended = _read(fd, lambda: os.read(fd, _CHUNK), result.deadline, result.add)
            try:
                code = process.wait(timeout=max(0.0, result.deadline - time.monotonic())) if ended else None
            except subprocess.TimeoutExpired:
                code = None
            if code is None:  # the whole session it started goes, so nothing it spawned lingers either
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return result.fact(error=f"timed out after {entry.timeout_s:g} s: killed, with every process "
                                         "it started")
        return result.fact(exit_code=code)

    # -- in a service's container ---------------------------------------------------------------
    def _in_service(self, entry: CommandEntry) -> CommandFact:
        service = entry.service or ""
        docker = self.docker
        if docker is None:
            return _Result(entry, f"service {service}").fact(
                error="the profile has no [docker] table: gonogo cannot reach the service's container")
        project = docker.section.compose_project
        result = _Result(entry, f"service {service} of project {project}")
        try:
            containers = docker.service_containers(service)
        except Exception as exc:  # refused, no socket, timed out: the engine did not answer
            return result.fact(error=f"the Docker engine at {docker.section.host} did not answer: {error_text(exc)}")
        running = [c for c in containers if c.state == "running"]
        if not running:
            others = "; ".join(f"{c.name} is {c.status or c.state}" for c in containers)
            return result.fact(error=f"no running container for service {service} in project {project}"
                                     + (f" ({others})" if others else ""))
        container = running[0]
        result.where = f"container {container.name} (service {service}, image {container.image})"
        api = docker.client.api
        try:
            exec_id = api.exec_create(container.id, entry.argv(), stdout=True, stderr=True,
                                      workdir=entry.workdir)["Id"]
            stream = api.exec_start(exec_id, socket=True)
        except Exception as exc:
            return result.fact(error=f"the engine did not start the command: {error_text(exc)}")
        result.restart_clock()
        sock = getattr(stream, "_sock", stream)  # the socket beneath docker-py's SocketIO
        frames = _Frames(result.add)
        try:
            ended = _read(sock, lambda: sock.recv(_CHUNK), result.deadline, frames.feed)
        except OSError as exc:
            return result.fact(error=f"the engine's stream broke: {exc}")
        finally:
            stream.close()
            sock.close()
        try:
            code = _exit_code(api, exec_id, result.deadline) if ended else None
        except Exception as exc:
            return result.fact(error=f"the engine did not say how the command ended: {error_text(exc)}")
        if code is None:
            return result.fact(error=f"timed out after {entry.timeout_s:g} s; the command may still be running "
                                     f"in container {container.name} (exec {exec_id[:12]})")
        return result.fact(exit_code=code)


class _Result:
    """What a run has gathered so far: where, since when, the output; becomes the fact."""

    def __init__(self, entry: CommandEntry, where: str) -> None:
        self.entry = entry
        self.where = where
        self.watch = Stopwatch()
        self.deadline = time.monotonic() + entry.timeout_s
        self.kept = bytearray()
        self.size = 0

    def restart_clock(self) -> None:
        """The command starts now: its ``timeout_s`` counts from here (engine calls have their own bound)."""
        self.deadline = time.monotonic() + self.entry.timeout_s

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self.kept += data
        if len(self.kept) > OUTPUT_LIMIT:
            del self.kept[:-OUTPUT_LIMIT]

    def fact(self, *, exit_code: int | None = None, error: str | None = None) -> CommandFact:
        return CommandFact(
            name=self.entry.name, command=self.entry.command, where=self.where,
            elapsed_ms=self.watch.ms(), exit_code=exit_code,
            output=self.kept.decode("utf-8", errors="replace"), output_bytes=self.size,
            tail_lines=self.entry.tail_lines, error=error,
        )


def _read(source: Any, receive: Callable[[], bytes], deadline: float, sink: Callable[[bytes], None]) -> bool:
    """Pass what ``source`` gives to ``sink`` until it ends (True) or the deadline passes (False)."""
    with selectors.DefaultSelector() as selector:
        selector.register(source, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return False
            data = receive()
            if not data:
                return True
            sink(data)


class _Frames:
    """Docker's multiplexed exec stream (frames: an 8-byte header with the stream and size, then the
    payload) turned back into the bytes the command wrote, stdout and stderr as they came."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.pending = bytearray()

    def feed(self, data: bytes) -> None:
        self.pending += data
        while len(self.pending) >= 8:
            (size,) = struct.unpack(">I", self.pending[4:8])
            if len(self.pending) < 8 + size:
                return
            self.sink(bytes(self.pending[8:8 + size]))
            del self.pending[:8 + size]


def _exit_code(api: Any, exec_id: str, deadline: float) -> int | None:
    """The exec's exit code once the engine has it (its output can end a moment before), or None."""
    while True:
        state = api.exec_inspect(exec_id)
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        if time.monotonic() >= deadline:
            return None
        time.sleep(_EXIT_POLL_S)  # the engine offers no way to wait for an exec's end but its event stream


def from_stack(stack: Stack) -> CommandProbe:
    """``stack.commands``: runs the ``[[command]]`` entries: in a service's container (through ``[docker]``) or on
    this host (relative to the profile's folder)."""
    return CommandProbe(stack.env.path.parent.resolve(), stack.docker if stack.env.profile.docker else None)
