"""The services' logs after a deploy: free of errors, and no rollback trigger (5xx answers, database errors).

Runbook steps: BTQ-4.1, RCY-4.4, SMK-11 (the last lines of each service's log without errors), RBK-2
(no rollback trigger: no 500s or database errors in the logs). Each name of ``[docker] services`` is
one check. The window of each container is its last ``[docker] log_tail`` lines written since it
started (the deploy, or its last restart) and, when ``log_since_s`` is set, within the last that many
seconds; lines matching ``log_allow`` are never counted. The matching lines are attached (masked).
"""

from __future__ import annotations

import pytest

from gonogo import judge
from gonogo.sections.docker import DockerSection
from gonogo.probes.logs import LogScan
from gonogo.stack import Stack


def _where(scan: LogScan, step: str) -> str:
    names = ", ".join(scan.containers) or f"service {scan.service}"
    return f"docker logs --tail N --since <start> {names} at {scan.host}; runbook {step}"


def _judge(scan: LogScan, what: str, allowed: int, expected: str, step: str) -> None:
    """The window of its containers was read (no container, or the engine's error, is no pass), and holds at most
    ``allowed`` matching lines."""
    judge(f"{scan.service} log", scan.error is None and bool(scan.containers),
          expected="the log lines of the service's containers", actual=scan.text, where=_where(scan, step), fact=scan)
    judge(f"{scan.service} {what}", scan.count <= allowed, expected=expected, actual=scan.text,
          where=_where(scan, step), fact=scan)


@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("BTQ-4.1", "RCY-4.4", "SMK-11")
@pytest.mark.each("docker.services", "service")
def test_free_of_errors(service: str, stack: Stack) -> None:
    """The service's recent log lines match none of the log_errors patterns (log_allow aside)."""
    section: DockerSection = stack.docker.section
    _judge(stack.logs.scan(service, section.log_errors), "log errors", 0,
           f"no line matching {' | '.join(section.log_errors)}", "SMK-11")


@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RBK-2")
@pytest.mark.each("docker.services", "service")
def test_no_rollback_trigger(service: str, stack: Stack) -> None:
    """The service's recent log lines hold at most max_log_triggers 5xx answers and database errors (log_triggers)."""
    section: DockerSection = stack.docker.section
    _judge(stack.logs.scan(service, section.log_triggers), "rollback triggers", section.max_log_triggers,
           f"at most {section.max_log_triggers} line(s) with a 5xx answer or a database error", "RBK-2")
