"""The stack's containers: every service up and healthy, not restarting, one-shots done, one release, resources.

Runbook steps: RCY-3, SMK-1, BTQ-3.5 (every service's containers up and healthy, within a deadline),
RCY-4.1 (the one-shot migrations container exited 0), RBK-1 (every service on the image tagged with
the same release), RBK-5.3 (CPU and RAM under their thresholds). Each name of ``[docker] services``
and ``one_shot`` is one check; everything goes through the Docker API of ``[docker] host`` (inspect
and stats only). Before a deploy they judge the stack running now; after a deploy or a rollback, the
release the profile names (``[environment] release``). An engine that does not answer fails every
check, each saying the engine is unreachable at its host, within ``[docker] timeout_s``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from gonogo import evidence, judge, skips
from gonogo.fixtures import Converge
from gonogo.memo import Memo
from gonogo.probes.containers import ServiceFact, UsageFact
from gonogo.sections.docker import DockerSection
from gonogo.stack import Stack
from gonogo.waiting import Convergence, wait_until


def _where(fact: ServiceFact, step: str) -> str:
    names = ", ".join(c.name for c in fact.containers) or f"service {fact.service}"
    return f"{names} at {fact.host} (docker inspect; docker logs); runbook {step}"


def _settled(fact: ServiceFact) -> bool:
    """Healthy, or nothing more to wait for: the engine did not answer."""
    return fact.healthy or not fact.answered


def _stopped(fact: ServiceFact) -> str | None:
    """Why waiting for the service is vain: a container of it stopped (exited or dead, and Docker is not restarting
    it: only someone starting it again would), or None."""
    stopped = [c.text for c in fact.containers if c.status in ("exited", "dead")]
    return f"stopped, nothing will start it again: {'; '.join(stopped)}" if stopped else None


def _climbed(first: ServiceFact, fact: ServiceFact) -> bool:
    """The service restarted since the first reading, or is restarting (or the engine stopped answering, or it
    has no container left to watch)."""
    return not fact.answered or not fact.containers or fact.restarting or fact.restarts > first.restarts


class Watches:
    """The waits of this module, side by side from the first check that asks: services becoming healthy
    (``healthy_within_s``), restart counts watched (``restart_watch_s``) and stats samples. Three services take one deadline."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._pool = ThreadPoolExecutor(max_workers=12, thread_name_prefix="gonogo-containers")
        #: each batch of waits, started side by side the first time one of them is asked for
        self._started: Memo[str, dict[tuple[str, str], Future[tuple[ServiceFact, Convergence[ServiceFact]]]]] = Memo()
        self._sampled: Memo[str, dict[str, Future[UsageFact]]] = Memo()

    def _start(self) -> dict[tuple[str, str], Future[tuple[ServiceFact, Convergence[ServiceFact]]]]:
        section: DockerSection = self.stack.docker.section
        futures = {}
        for service in section.services:
            futures["healthy", service] = self._pool.submit(self._healthy, service, section.healthy_within_s)
            futures["restarts", service] = self._pool.submit(self._restarts, service, section.restart_watch_s)
        return futures

    def _healthy(self, service: str, timeout_s: float) -> tuple[ServiceFact, Convergence[ServiceFact]]:
        probe = self.stack.containers.service
        result = wait_until(lambda: probe(service), _settled, timeout_s=timeout_s, interval_s=1.0,
                            what=f"service {service} running and healthy", describe=lambda f: f.text,
                            hopeless=_stopped)
        return result.value or probe(service), result

    def _restarts(self, service: str, watch_s: float) -> tuple[ServiceFact, Convergence[ServiceFact]]:
        """Stable means up ``watch_s`` without a restart. Docker says since when each container runs
        (``StartedAt``): containers up for longer are judged at once; one started more recently (by a deploy,
        or a restart seconds ago) is watched until it has been up that long, and a restart meanwhile fails it."""
        probe = self.stack.containers.service
        first = probe(service)
        youngest = first.youngest_up_s()
        remaining = max(0.0, watch_s - youngest) if first.answered and youngest is not None else 0.0
        result = wait_until(lambda: probe(service), lambda f: _climbed(first, f),
                            timeout_s=remaining, interval_s=1.0, what=f"service {service} restarting",
                            describe=lambda f: f.text)
        return first, result

    def result(self, kind: str, service: str) -> tuple[ServiceFact, Convergence[ServiceFact]]:
        return self._started.get("waits", self._start)[kind, service].result()

    def usage(self, service: str) -> UsageFact:
        """The stats sample of ``service``; the first asked samples every service side by side (the engine
        takes about two seconds per sample)."""
        probe = self.stack.containers.usage
        services = self.stack.docker.section.services
        usages = self._sampled.get("usages", lambda: {s: self._pool.submit(probe, s) for s in services})
        return usages[service].result() if service in usages else probe(service)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def watches(stack: Stack) -> Iterator[Watches]:
    """The healthy waits and restart watches of every service, side by side."""
    together = Watches(stack)
    yield together
    together.close()


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-3", "SMK-1", "BTQ-3.5")
@pytest.mark.each("docker.services", "service")
def test_service_healthy(service: str, stack: Stack, watches: Watches, converge: Converge) -> None:
    """Every container of the service is running and healthy (waiting up to healthy_within_s; a stopped one is not
    waited for)."""
    fact, wait = watches.result("healthy", service)
    converge.record(wait)
    within = stack.docker.section.healthy_within_s
    judge(f"service {service}", fact.healthy, expected=f"its containers running and healthy within {within:g} s",
          actual=fact.text, where=_where(fact, "RCY-3"), fact=fact)


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-3", "SMK-1")
@pytest.mark.each("docker.services", "service")
def test_not_restarting(service: str, stack: Stack, watches: Watches) -> None:
    """Every container of the service has been up restart_watch_s without a restart (one started more
    recently is watched until it has), and none is restarting."""
    first, watch = watches.result("restarts", service)
    evidence.attach(f"restart watch: service {service}", watch.log())  # a watch, not a wait: never "converged"
    last = watch.value or first
    judge(f"service {service}", first.answered and bool(first.containers), expected="its containers",
          actual=first.text, where=_where(first, "RCY-3"), fact=first)
    seconds = stack.docker.section.restart_watch_s
    recent = "; ".join(last.restarted_within(seconds))
    actual = (f"{recent + '; ' if recent else ''}restarts {first.restarts} -> {last.restarts} "
              f"(watched {watch.elapsed_s:.0f} s): {last.text}")
    judge(f"service {service} restarts", not watch.converged,
          expected=f"every container up {seconds:g} s without a restart (a younger one watched until it is), "
                   "none restarting",
          actual=actual, where=_where(last, "RCY-3"), fact=last)


@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-4.1")
@pytest.mark.each("docker.one_shot", "one_shot")
def test_one_shot_exited(one_shot: tuple[str, int], stack: Stack) -> None:
    """The one-shot service's container has exited, with its expected exit code."""
    service, code = one_shot
    fact = stack.containers.service(service)
    where = _where(fact, "RCY-4.1")
    judge(f"one-shot {service}", fact.answered and bool(fact.containers), expected="its container",
          actual=fact.text, where=where, fact=fact)
    running = [c for c in fact.containers if c.status not in ("exited", "dead")]
    judge(f"one-shot {service}", not running, expected=f"exited with code {code}",
          actual=f"not exited yet: {fact.text}", where=where, fact=fact)
    wrong = [c for c in fact.containers if c.exit_code != code]
    judge(f"one-shot {service} exit code", not wrong, expected=f"exit code {code}", actual=fact.text, where=where,
          fact=fact)


@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RBK-1", "BTQ-3.5")
def test_same_release_tag(stack: Stack) -> None:
    """Every service of same_release_tag runs an image tagged with the target release, the same for all."""
    section: DockerSection = stack.section("docker")
    if not section.same_release_tag:
        skips.not_configured(f"not configured: [docker] same_release_tag names no service in {stack.env.display_path}")
    release = stack.env.profile.environment.release
    facts = [stack.containers.service(s) for s in section.same_release_tag]
    for fact in facts:
        judge(f"service {fact.service}", fact.answered and bool(fact.containers), expected="its containers",
              actual=fact.text, where=_where(fact, "RBK-1"), fact=fact)
    tags = {c.name: c.tag for fact in facts for c in fact.containers}
    expected = release or next(iter(tags.values()))
    wrong = {name: tag for name, tag in tags.items() if tag != expected}
    for fact in facts:  # every image as evidence
        judge(f"service {fact.service} tag", all(c.tag == expected for c in fact.containers),
              expected=f"tag {expected}" + ("" if release else " (the first service's: [environment] release is not set)"),
              actual="; ".join(f"{name} runs tag {tag}" for name, tag in wrong.items()),
              where=_where(fact, "RBK-1"), fact=fact)


def _usage_thresholds(stack: Stack) -> DockerSection:
    section: DockerSection = stack.section("docker")
    if section.max_cpu_percent is None and section.max_memory_percent is None:
        skips.not_applicable(f"not applicable: [docker] sets neither max_cpu_percent nor max_memory_percent "
                             f"in {stack.env.display_path}")
    return section


@pytest.mark.postdeploy
@pytest.mark.severity("warning")
@pytest.mark.runbook("RBK-5.3")
@pytest.mark.each("docker.services", "service")
def test_resources_under_limits(service: str, stack: Stack, watches: Watches) -> None:
    """Each container of the service uses CPU and memory under the profile's thresholds."""
    section = _usage_thresholds(stack)
    fact = watches.usage(service)
    where = f"docker stats --no-stream (service {service} at {fact.host}); runbook RBK-5.3"
    judge(f"service {service} usage", fact.error is None and bool(fact.usages), expected="a stats sample of each container",
          actual=fact.text, where=where, fact=fact)
    for usage in fact.usages:
        if section.max_cpu_percent is not None:
            judge(f"{usage.name} CPU", usage.cpu_percent <= section.max_cpu_percent,
                  expected=f"at most {section.max_cpu_percent:g}% (100 = one core)", actual=usage.text, where=where,
                  fact=fact)
        if section.max_memory_percent is not None:
            judge(f"{usage.name} memory", usage.memory_percent <= section.max_memory_percent,
                  expected=f"at most {section.max_memory_percent:g}% of its limit", actual=usage.text, where=where,
                  fact=fact)
