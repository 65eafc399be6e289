"""The commands probe against the sandbox's real Docker engine: a command in a service's running container.

Each test runs a real exec in the sandbox's containers (web: running; migrations: a one-shot that
has exited) and asserts the fact the probe returns: exit codes, stdout and stderr in their order, a
command that hangs (bounded by its ``timeout_s``), a service or project with no running container.
The engine that is down, refusing or hanging is in tests/probes/test_commands.py (no sandbox needed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gonogo.probes.commands import OUTPUT_LIMIT, CommandFact, CommandProbe
from gonogo.sections.commands import CommandEntry
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection

if TYPE_CHECKING:
    from conftest import Sandbox

PROJECT = "boutique-sandbox"


@pytest.fixture(scope="module")
def docker(sandbox: "Sandbox") -> Any:
    probe = DockerProbe(DockerSection(host=sandbox.values["SANDBOX_DOCKER_HOST"], compose_project=PROJECT,
                                      timeout_s=10))
    yield probe
    probe.close()


def run(docker: DockerProbe, service: str = "web", **entry: Any) -> CommandFact:
    return CommandProbe(Path("/nonexistent-profile-folder"), docker).run(
        CommandEntry(name="t", service=service, **entry))


def test_a_command_that_passes(docker: DockerProbe, sandbox: "Sandbox") -> None:
    fact = run(docker, run=["python", "-c", "import os; print(os.getcwd()); print(os.environ['RELEASE'])"])

    assert fact.exit_code == 0 and fact.error is None, fact.evidence()
    assert fact.output.splitlines() == ["/app/src", sandbox.state["current"]]  # the image's WORKDIR, the container's env
    assert fact.where == f"container {PROJECT}-web-1 (service web, image boutique/web:{sandbox.state['current']})"
    assert "result: exit code 0" in fact.evidence() and "/app/src" in fact.evidence()


def test_a_failing_command_keeps_stdout_and_stderr_in_order(docker: DockerProbe) -> None:
    script = "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 0.2; echo 'four: it broke' >&2; exit 3"
    fact = run(docker, run=script, shell=True)

    assert fact.exit_code == 3 and fact.finished, fact.evidence()
    assert fact.output.splitlines() == ["one", "two", "three", "four: it broke"]
    assert fact.last_words == "two | three | four: it broke"
    assert fact.search("^four: .*$") == "four: it broke" and fact.search("^five") is None


def test_a_command_run_in_the_workdir_it_names(docker: DockerProbe) -> None:
    assert run(docker, run=["pwd"], workdir="/tmp").output == "/tmp\n"


def test_a_binary_missing_from_the_image_is_an_exit_code(docker: DockerProbe) -> None:
    fact = run(docker, run=["no-such-binary-in-the-image"])

    assert fact.exit_code in (126, 127), fact.evidence()
    assert "no-such-binary-in-the-image" in fact.output


def test_a_command_that_hangs_is_bounded_by_its_timeout(docker: DockerProbe) -> None:
    started = time.monotonic()
    fact = run(docker, run=["sleep", "30"], timeout_s=1)
    elapsed = time.monotonic() - started

    assert 1 <= elapsed < 3, elapsed
    assert fact.exit_code is None and not fact.finished
    assert fact.error and fact.error.startswith("timed out after 1 s; the command may still be running in "
                                                f"container {PROJECT}-web-1 (exec "), fact.error


def test_a_command_that_writes_a_lot_keeps_its_end(docker: DockerProbe) -> None:
    fact = run(docker, run=["python", "-c", "for i in range(200000): print(f'line {i:06d} ' + 'x' * 40)"],
               tail_lines=5)

    assert fact.exit_code == 0, fact.status_text
    assert fact.output_bytes == 200000 * 53
    assert len(fact.output.encode()) == OUTPUT_LIMIT
    assert fact.tail() == [f"line {i:06d} " + "x" * 40 for i in range(199995, 200000)]
    assert f"the last 5 of {len(fact.output.splitlines())} lines, of {200000 * 53} bytes in all" in fact.evidence()


def test_a_service_whose_container_has_exited(docker: DockerProbe) -> None:
    fact = run(docker, service="migrations", run=["true"])

    assert fact.exit_code is None
    assert fact.error is not None
    assert fact.error.startswith(f"no running container for service migrations in project {PROJECT} "
                                 f"({PROJECT}-migrations-1 is Exited (0) "), fact.error


@pytest.mark.parametrize(("project", "service"), [(PROJECT, "no-such-service"), ("no-such-project", "web")])
def test_no_container_at_all(sandbox: "Sandbox", project: str, service: str) -> None:
    docker = DockerProbe(DockerSection(host=sandbox.values["SANDBOX_DOCKER_HOST"], compose_project=project))
    fact = run(docker, service=service, run=["true"])
    docker.close()

    assert fact.error == f"no running container for service {service} in project {project}"
    assert repr(fact) == f"<command t on service {service} of project {project}: {fact.error}>"
