"""The commands probe against real processes and real sockets (no sandbox needed).

Host commands are real processes: exit codes, output, a command that hangs or leaves children behind
(bounded by ``timeout_s``, its whole session killed), a missing binary, a file that is not
executable, a missing working folder, a process killed by a signal, output larger than what is kept,
secrets in the output. Container commands meet an engine that is not there (no socket), refuses (a
socket nobody listens on) or hangs (a socket that accepts and never answers): each is a fact within
``[docker] timeout_s``. Commands in a running container: tests/sandbox/test_probe_commands.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gonogo.probes.commands import OUTPUT_LIMIT, CommandFact, CommandProbe
from gonogo.sections.commands import CommandEntry
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.secrets import masker

PY = sys.executable


def on_host(folder: Path, **entry: Any) -> CommandFact:
    return CommandProbe(folder, None).run(CommandEntry(name="t", host=True, **entry))


# -- on the host ------------------------------------------------------------------------------------

def test_a_command_that_passes_runs_in_the_profiles_folder(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run=[PY, "-c", "import os; print(os.getcwd())"])

    assert fact.exit_code == 0 and fact.finished and fact.error is None
    assert fact.output == f"{tmp_path}\n"
    assert fact.where == f"host, in {tmp_path}"
    assert repr(fact) == f"<command t on host, in {tmp_path}: exit code 0>"


def test_a_failing_command_keeps_its_output_in_order(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run="echo one; echo two >&2; echo three; echo 'four: it broke' >&2; exit 3", shell=True)

    assert fact.exit_code == 3, fact.evidence()
    assert fact.output.splitlines() == ["one", "two", "three", "four: it broke"]  # one pipe: exactly as written
    assert fact.last_words == "two | three | four: it broke"
    assert fact.search("^four: .*$") == "four: it broke"
    assert fact.search("^five") is None  # the output pattern that is missing


def test_a_string_is_split_like_a_shell_would_without_a_shell(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run=f"{PY} -c 'import sys; print(sys.argv[1:])' \"two words\" $HOME '*'")

    assert fact.output == "['two words', '$HOME', '*']\n"  # nothing expanded


def test_workdir_is_relative_to_the_profiles_folder(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    assert on_host(tmp_path, run=["pwd"], workdir="app").output == f"{tmp_path / 'app'}\n"

    missing = on_host(tmp_path, run=["pwd"], workdir="gone")
    assert missing.exit_code is None
    assert missing.error == f"could not start: No such file or directory: {tmp_path / 'gone'}"


@pytest.mark.parametrize("shell", [False, True])
def test_a_command_that_hangs_is_killed_at_its_timeout_with_its_children(tmp_path: Path, shell: bool) -> None:
    marker = f"{time.time_ns() % 10**6 + 100}.5"  # a sleep nobody else runs, to look for afterwards
    run: Any = f"sleep {marker} & sleep {marker}; echo never" if shell else ["sleep", marker]
    started = time.monotonic()
    fact = on_host(tmp_path, run=run, shell=shell, timeout_s=0.5)
    elapsed = time.monotonic() - started

    assert 0.5 <= elapsed < 2, elapsed
    assert fact.exit_code is None and not fact.finished
    assert fact.error == "timed out after 0.5 s: killed, with every process it started"
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True, timeout=10)
    assert left.stdout == "", "a process the command started outlived its timeout"


def test_a_command_that_closes_its_output_and_goes_on_is_still_bounded(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run="echo bye; exec >&- 2>&-; sleep 30", shell=True, timeout_s=0.5)

    assert fact.exit_code is None and fact.output == "bye\n"
    assert fact.elapsed_ms < 2000


def test_a_missing_binary(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run=["no-such-binary-gonogo"])

    assert fact.exit_code is None
    assert fact.error == "could not start: No such file or directory: no-such-binary-gonogo"
    assert fact.status_text == fact.error


def test_a_file_that_is_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)

    fact = on_host(tmp_path, run=["./check.sh"])
    assert fact.error == "could not start: Permission denied: ./check.sh"


def test_a_command_killed_by_a_signal(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run="kill -9 $$", shell=True)

    assert fact.exit_code == -9 and fact.finished
    assert fact.status_text == "killed by signal 9"


def test_a_command_that_writes_a_lot_keeps_its_end(tmp_path: Path) -> None:
    fact = on_host(tmp_path, run=[PY, "-c", "for i in range(100000): print(f'line {i:06d} ' + 'x' * 40)"],
                   tail_lines=3)

    assert fact.exit_code == 0
    assert fact.output_bytes == 100000 * 53 and len(fact.output.encode()) == OUTPUT_LIMIT
    assert fact.tail() == [f"line {i:06d} " + "x" * 40 for i in (99997, 99998, 99999)]
    assert f"--- output: the last 3 of {len(fact.output.splitlines())} lines, of 5300000 bytes in all ---" \
        in fact.evidence()


@pytest.fixture
def secret() -> Iterator[str]:
    value = "hunter2-very-secret-token"
    masker.add(value)
    yield value
    masker.clear()


def test_output_is_masked_wherever_it_is_shown(tmp_path: Path, secret: str) -> None:
    fact = on_host(tmp_path, run=["echo", f"token={secret}"])

    assert secret in fact.output  # the raw fact: a check may search it
    for shown in (fact.evidence(), repr(fact), fact.last_words, fact.evidence_name):
        assert secret not in shown
    assert "token=***" in fact.evidence() and fact.last_words == "token=***"


# -- the Docker engine not there, refusing, hanging ----------------------------------------------------

def in_service(host: str, timeout_s: float = 1) -> CommandFact:
    docker = DockerProbe(DockerSection(host=host, compose_project="shop", timeout_s=timeout_s))
    try:
        return CommandProbe(Path("/"), docker).run(CommandEntry(name="t", service="web", run=["true"]))
    finally:
        docker.close()


def test_an_engine_socket_that_does_not_exist(tmp_path: Path) -> None:
    fact = in_service(f"unix://{tmp_path}/no-docker.sock")

    assert fact.exit_code is None and fact.elapsed_ms < 1000
    assert fact.error is not None
    assert fact.error.startswith(f"the Docker engine at unix://{tmp_path}/no-docker.sock did not answer: "), fact.error
    assert "No such file or directory" in fact.error


def test_an_engine_socket_nobody_listens_on(tmp_path: Path) -> None:
    path = tmp_path / "refusing.sock"
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(str(path))  # bound, never listening: connections are refused
    try:
        fact = in_service(f"unix://{path}")
    finally:
        bound.close()

    assert fact.error is not None and "Connection refused" in fact.error, fact.error
    assert fact.elapsed_ms < 1000


def test_an_engine_that_accepts_and_never_answers(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    held: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True)
    accepting.start()
    try:
        fact = in_service(f"unix://{path}", timeout_s=1)
    finally:
        for connection in held:
            connection.close()
        server.close()

    assert held, "the probe never connected"
    assert fact.error is not None and "timed out" in fact.error.lower(), fact.error
    assert 1000 <= fact.elapsed_ms < 3000, fact.elapsed_ms


def test_a_service_command_without_a_docker_table() -> None:
    fact = CommandProbe(Path("/"), None).run(CommandEntry(name="t", service="web", run=["true"]))

    assert fact.error == "the profile has no [docker] table: gonogo cannot reach the service's container"
    assert fact.where == "service web"
