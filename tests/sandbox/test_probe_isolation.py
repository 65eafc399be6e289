"""The isolation probe against the sandbox's real dockerd: two throwaway Compose projects of created
(never started) containers, with named volumes, bind-mounted host paths and internal networks
(nothing is routed: the engine has no bridge to the outside), shared or not; the sandbox's own
project; and an engine socket where nothing answers. Every fact comes back in bounded time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import pytest
from docker.types import Mount

from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.isolation import IsolationProbe
from gonogo.sections.isolation import IsolationSection

if TYPE_CHECKING:
    from conftest import Sandbox

BASE_IMAGE = "gonogo-sandbox/base:bookworm"
PROD, STAGING = "iso-prod", "iso-staging"


def probe(host: str, project: str = PROD, **section: Any) -> IsolationProbe:
    docker_probe = DockerProbe(DockerSection(host=host, timeout_s=5, compose_project=project))
    return IsolationProbe(IsolationSection(other_projects=[STAGING], **section), docker_probe)


@pytest.fixture
def projects(sandbox: "Sandbox", tmp_path: Path) -> Iterator[Any]:
    """``make(project, service, mounts=[...], network="...")`` creates a labelled container; all removed at the end."""
    client: docker.DockerClient = sandbox.docker
    made: list[Any] = []
    networks: dict[str, Any] = {}

    def make(project: str, service: str, mounts: list[Mount] = (), network: str = "none") -> Any:
        if network not in ("none", "host") and network not in networks:
            networks[network] = client.networks.create(network, internal=True)
        labels = {"com.docker.compose.project": project, "com.docker.compose.service": service}
        container = client.containers.create(BASE_IMAGE, ["true"], name=f"{project}-{service}-1", labels=labels,
                                             mounts=list(mounts), network=None if network in ("none", "host") else network,
                                             network_mode=network if network in ("none", "host") else None)
        made.append(container)
        return container

    yield make
    for container in made:
        container.remove(force=True, v=False)
    for network in networks.values():
        network.remove()
    for volume in client.volumes.list(filters={"name": "iso-"}):
        volume.remove(force=True)


def test_isolated_projects_share_nothing(sandbox: "Sandbox", projects: Any, tmp_path: Path) -> None:
    (tmp_path / "prod").mkdir()
    (tmp_path / "staging").mkdir()
    projects(PROD, "web", [Mount("/data", "iso-prod-media"), Mount("/backups", str(tmp_path / "prod"), type="bind")],
             network="iso-prod-net")
    projects(STAGING, "web", [Mount("/data", "iso-staging-media"), Mount("/backups", str(tmp_path / "staging"),
                                                                           type="bind")], network="iso-staging-net")

    fact = probe(sandbox.values["SANDBOX_DOCKER_HOST"]).compare(STAGING)

    assert fact.answered and fact.shared_volumes() == [] and fact.shared_networks() == [], fact
    assert fact.ours.containers == ("iso-prod-web-1",) and fact.theirs.volumes == {"iso-staging-media": ("iso-staging-web-1",)}
    assert fact.ours.networks == {"iso-prod-net": ("iso-prod-web-1",)}
    assert f"bind {tmp_path / 'prod'}: iso-prod-web-1" in fact.evidence()


def test_a_shared_volume_a_path_inside_another_and_a_shared_network(sandbox: "Sandbox", projects: Any,
                                                                     tmp_path: Path) -> None:
    (tmp_path / "media" / "staging").mkdir(parents=True)
    projects(PROD, "web", [Mount("/data", "iso-shared"), Mount("/media", str(tmp_path / "media"), type="bind")],
             network="iso-proxy")
    projects(STAGING, "web", [Mount("/data", "iso-shared"),
                              Mount("/media", str(tmp_path / "media" / "staging"), type="bind")], network="iso-proxy")
    projects(STAGING, "worker", network="iso-private")

    fact = probe(sandbox.values["SANDBOX_DOCKER_HOST"]).compare(STAGING)

    assert [str(s) for s in fact.shared_volumes()] == [
        "volume iso-shared (iso-prod-web-1 / iso-staging-web-1)",
        f"bind {tmp_path / 'media'} ~ {tmp_path / 'media' / 'staging'} (iso-prod-web-1 / iso-staging-web-1)"]
    assert [s.name for s in fact.shared_networks()] == ["iso-proxy"]
    allowed = probe(sandbox.values["SANDBOX_DOCKER_HOST"], shared_networks_allowed=["iso-proxy"]).compare(STAGING)
    assert allowed.shared_networks() == [] and "allowed to share: networks iso-proxy" in allowed.evidence()


def test_host_networking_is_shared_unless_allowed(sandbox: "Sandbox", projects: Any) -> None:
    projects(PROD, "web", network="host")
    projects(STAGING, "web", network="host")
    host = sandbox.values["SANDBOX_DOCKER_HOST"]

    assert [s.name for s in probe(host).compare(STAGING).shared_networks()] == ["host"]
    assert probe(host, shared_networks_allowed=["host"]).compare(STAGING).shared_networks() == []


def test_the_sandbox_beside_a_project_that_is_not_there(sandbox: "Sandbox") -> None:
    fact = probe(sandbox.values["SANDBOX_DOCKER_HOST"], project="boutique-sandbox").compare(STAGING)
    assert fact.answered and fact.theirs.containers == () and fact.shared_volumes() == []
    assert "boutique-sandbox-web-1" in fact.ours.containers and "host" in fact.ours.networks
    assert any(path.endswith("/media") for path in fact.ours.binds), fact.ours.binds


def test_an_engine_that_does_not_answer(tmp_path: Path) -> None:
    start = time.monotonic()
    fact = probe(f"unix://{tmp_path}/missing.sock").compare(STAGING)
    assert not fact.answered and fact.error and time.monotonic() - start < 6, fact
    assert "no answer" in repr(fact) and fact.shared_volumes() == []
