"""The Traefik probe against the sandbox: the labels of its real containers (compose.yaml's labels reach the
containers the lifecycle creates with the SDK) against the routers its Traefik serves, and Docker networks
of its private dockerd. The engine refusing or hanging is in tests/probes/test_traefik.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from checks.test_traefik import label_problems
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.http import HttpProbe
from gonogo.probes.traefik import TraefikProbe, labels, network
from gonogo.sections.traefik import TraefikSection

if TYPE_CHECKING:
    from conftest import Sandbox

PROJECT = "boutique-sandbox"
ROUTERS = {"boutique-web": "Host(`shop.localhost`)", "boutique-ws": "Host(`shop.localhost`) && PathPrefix(`/ws/`)"}


@pytest.fixture(scope="module")
def docker(sandbox: "Sandbox") -> Iterator[DockerProbe]:
    probe = DockerProbe(DockerSection(host=sandbox.values["SANDBOX_DOCKER_HOST"], compose_project=PROJECT, timeout_s=10))
    yield probe
    probe.close()


@pytest.fixture(scope="module")
def traefik(sandbox: "Sandbox") -> TraefikProbe:
    api = f"http://127.0.0.1:{sandbox.values['SANDBOX_TRAEFIK_API_PORT']}"
    return TraefikProbe(TraefikSection(api=api), HttpProbe())


@pytest.mark.parametrize("router", list(ROUTERS))
def test_the_web_container_declares_the_routers_traefik_serves(docker: DockerProbe, traefik: TraefikProbe,
                                                               sandbox: "Sandbox", router: str) -> None:
    fact = labels(docker, router)
    served = traefik.router(f"{router}@file")

    assert fact.error is None and [c.name for c in fact.containers] == [f"{PROJECT}-web-1"], fact
    web = fact.containers[0]
    assert (web.service, web.state, web.networks) == ("web", "running", ("host",))
    assert web.labels == {
        "traefik.enable": "true",
        "traefik.http.routers.boutique-web.rule": ROUTERS["boutique-web"],
        "traefik.http.routers.boutique-web.entrypoints": "websecure",
        "traefik.http.routers.boutique-web.tls": "true",
        "traefik.http.routers.boutique-web.service": "boutique-web",
        "traefik.http.services.boutique-web.loadbalancer.server.port": sandbox.values["WEB_PORT"],
        "traefik.http.routers.boutique-ws.rule": ROUTERS["boutique-ws"],
        "traefik.http.routers.boutique-ws.entrypoints": "websecure",
        "traefik.http.routers.boutique-ws.tls": "true",
        "traefik.http.routers.boutique-ws.service": "boutique-ws",
        "traefik.http.services.boutique-ws.loadbalancer.server.port": sandbox.values["WEB_PORT"],
    }
    assert served.rule == ROUTERS[router]
    assert label_problems(fact, served.rule, served, proxy_network=None) == []
    assert label_problems(fact, served.rule, served, proxy_network="host") == []  # host networking: the "host" network
    assert label_problems(fact, served.rule, served, proxy_network="traefik-public") == [
        f"{PROJECT}-web-1: not on network traefik-public (on host)"]
    assert label_problems(fact, "Host(`shop.local`)", served, proxy_network=None) == [
        f"{PROJECT}-web-1: traefik.http.routers.{router}.rule={ROUTERS[router]}"]


def test_a_router_no_container_declares(docker: DockerProbe, traefik: TraefikProbe) -> None:
    fact = labels(docker, "frontend-of-another-stack")
    router = traefik.router("frontend-of-another-stack@file")

    assert fact.error is None and fact.containers == () and not router.found
    assert label_problems(fact, "Host(`x`)", router, None) == [
        f"no container of project {PROJECT} declares traefik.http.routers.frontend-of-another-stack.rule"]
    assert "none" in fact.evidence()


def test_networks_of_the_engine(docker: DockerProbe) -> None:
    host, missing = network(docker, "host"), network(docker, "traefik-public")

    assert host.exists and host.driver == "host" and host.error is None, host
    assert host.evidence().endswith("network host (driver host)")
    assert not missing.exists and missing.error is None
    assert missing.evidence().endswith("no network named traefik-public")
