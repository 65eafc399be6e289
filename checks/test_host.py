"""The host is ready for the deploy: Docker answers, disk, ports, CPU and memory, the artefact, DNS.

Runbook steps: RCY-0.4 (Docker daemon reachable), RCY-0.6 (enough free disk), RCY-0.7 (DNS of
the public domain resolves to the expected address), RCY-0.9 (ports free or held by the expected
service), NPR-1.2 (the build artefact exists and is archived), NPR-1.3 (CPU and memory are fine).
The Docker check needs ``[docker]`` ("not applicable: needs [docker]" without it), the others ``[host]``; each disk path, port, artefact and DNS
name of ``[host]`` is one check. Checks only read: statvfs, /proc, the artefact, DNS queries.
"""

from __future__ import annotations

import pytest

from gonogo import judge, skips
from gonogo.fact import no_answer
from gonogo.sections.host import Artefact, DiskPath, DnsName, HostSection, PortRule
from gonogo.stack import Stack


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.4")
def test_docker_daemon_reachable(stack: Stack) -> None:
    """The Docker daemon answers and says which version it runs."""
    stack.needs("docker", "the daemon it asks is [docker] host")
    fact = stack.docker.engine()
    actual = f"Docker Engine {fact.version} (API {fact.api_version})" if fact.answered else \
        no_answer(fact.elapsed_ms, fact.error)
    judge("docker daemon", fact.answered and bool(fact.version), expected="an answer with the engine's version",
          actual=actual, where=f"{fact.host} (docker version)", fact=fact)


def _has_threshold(disk: DiskPath) -> bool:
    return disk.min_free_gb is not None


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-0.6")
@pytest.mark.each("host.disk_paths", "disk", where=_has_threshold, optional=True, what="min_free_gb")
def test_free_disk(disk: DiskPath, stack: Stack) -> None:
    """The filesystem holding the path keeps at least its minimum of free space."""
    fact = stack.host.disk(disk)
    minimum = disk.min_free_gb or 0
    judge(f"free disk on {disk.name}", fact.error is None and fact.free_gb >= minimum,
          expected=f"at least {minimum:g} GiB free", actual=fact.text, where=f"df -h {fact.path}", fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.9")
@pytest.mark.each("host.ports", "rule")
def test_port_as_expected(rule: PortRule, stack: Stack) -> None:
    """The port is free, or listening and held by the expected process."""
    fact = stack.host.port(rule)
    where = f"{fact.host}:{rule.port} (ss -ltnp 'sport = :{rule.port}')"
    if rule.expect == "free":
        judge(f"port {rule.name}", fact.error is None and not fact.listeners, expected=f"port {rule.port} free",
              actual=fact.text, where=where, fact=fact)
        return
    judge(f"port {rule.name}", fact.error is None and bool(fact.listeners),
          expected=f"port {rule.port} listening", actual=fact.text, where=where, fact=fact)
    if rule.holder:
        judge(f"port {rule.name} holder", all(listener.matches(rule) for listener in fact.listeners),
              expected=f"held by {rule.holder}", actual=fact.text, where=where, fact=fact)


def _thresholds(stack: Stack, *keys: str) -> HostSection:
    """``[host]``, or skip the calling check as not applicable when it sets none of ``keys``."""
    host: HostSection = stack.section("host")
    if all(getattr(host, key) is None for key in keys):
        skips.not_applicable(f"not applicable: [host] sets none of {', '.join(keys)} in {stack.env.display_path}")
    return host


@pytest.mark.predeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("NPR-1.3")
def test_cpu_load(stack: Stack) -> None:
    """CPU load (per core) and CPU use are under the profile's thresholds."""
    host = _thresholds(stack, "max_load_per_core", "max_cpu_percent")
    fact = stack.host.cpu()
    if host.max_load_per_core is not None:
        judge("cpu load per core", fact.load_per_core <= host.max_load_per_core,
              expected=f"at most {host.max_load_per_core:g} per core (5-minute load average)",
              actual=fact.text, where="uptime; top", fact=fact)
    if host.max_cpu_percent is not None and fact.percent is not None:
        judge("cpu use", fact.percent <= host.max_cpu_percent, expected=f"at most {host.max_cpu_percent:g}%",
              actual=fact.text, where="top", fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("NPR-1.3")
def test_memory_available(stack: Stack) -> None:
    """Memory in use and memory available are within the profile's thresholds."""
    host = _thresholds(stack, "max_memory_percent", "min_available_memory_gb")
    fact = stack.host.memory()
    if host.max_memory_percent is not None:
        judge("memory in use", fact.percent <= host.max_memory_percent,
              expected=f"at most {host.max_memory_percent:g}% in use", actual=fact.text, where="free -h", fact=fact)
    if host.min_available_memory_gb is not None:
        judge("memory available", fact.available_gb >= host.min_available_memory_gb,
              expected=f"at least {host.min_available_memory_gb:g} GiB available", actual=fact.text,
              where="free -h", fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("NPR-1.2")
@pytest.mark.each("host.artefacts", "artefact")
def test_artefact_ready(artefact: Artefact, stack: Stack) -> None:
    """The build artefact exists and is not empty; its sha256 is recorded (and matches, when the profile gives it)."""
    fact = stack.host.artefact(artefact)
    where = f"sha256sum {fact.path}"
    judge(f"artefact {artefact.name}", fact.error is None and bool(fact.size),
          expected="a non-empty file", actual="empty (0 bytes)" if fact.size == 0 else fact.text, where=where,
          fact=fact)
    if artefact.sha256:
        judge(f"artefact {artefact.name} sha256", fact.sha256 == artefact.sha256.lower(),
              expected=artefact.sha256.lower(), actual=fact.sha256, where=where, fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.7")
@pytest.mark.each("host.dns", "name")
def test_dns_resolves(name: DnsName, stack: Stack) -> None:
    """The name resolves to exactly its expected addresses."""
    fact = stack.host.resolve(name)
    expected = {str(address) for address in name.addresses}
    judge(f"dns {name.name}", fact.error is None and set(fact.addresses) == expected,
          expected=", ".join(sorted(expected)), actual=fact.text, where=f"{fact.command} (nameservers: {fact.via})",
          fact=fact)
