"""The host probe against the sandbox's real parts: its private dockerd, Traefik holding the HTTPS
port, its dnsmasq, its state dir and its release artefact (probe tests that need the whole stack)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.host import HostProbe
from gonogo.sections.host import Artefact, DiskPath, HostSection, PortRule

if TYPE_CHECKING:
    from conftest import Sandbox


def test_docker_engine_of_the_sandbox(sandbox: "Sandbox") -> None:
    host = sandbox.values["SANDBOX_DOCKER_HOST"]
    engine = DockerProbe(DockerSection(host=host, timeout_s=5, compose_project="boutique-sandbox"))

    fact = engine.engine()

    assert fact.answered and fact.error is None, fact
    assert fact.version == sandbox.docker.version()["Version"] and fact.api_version
    assert repr(fact) == f"<docker {host}: {fact.version} (API {fact.api_version})>"


def test_host_facts_of_the_sandbox(sandbox: "Sandbox") -> None:
    v = sandbox.values
    section = HostSection.model_validate({
        "nameservers": [f"127.0.0.1:{v['SANDBOX_DNS_PORT']}"],
        "dns": {"shop.localhost": "127.0.0.1", "api.shop.localhost": "127.0.0.1"},
    })
    host = HostProbe(section, base_dir=Path("/"))
    https = PortRule(port=int(v["SANDBOX_HTTPS_PORT"]), host="127.0.0.1", process="traefik")
    pg = PortRule(port=int(v["SANDBOX_PG_PORT"]), host="127.0.0.1", process="postgres")

    assert [listener.matches(https) for listener in host.port(https).listeners] == [True]
    assert host.port(pg).listeners and all(listener.matches(pg) for listener in host.port(pg).listeners)
    assert host.port(PortRule(port=int(v["SANDBOX_SPARE_PORT"]), expect="free")).listeners == ()
    for name in section.dns:
        assert host.resolve(name).addresses == ("127.0.0.1",), name
    assert host.disk(DiskPath(path=sandbox.state_dir)).free_bytes > 0
    artefact = host.artefact(Artefact(path=sandbox.state_dir / "artefacts" / f"boutique-{v['RELEASE']}.tar.gz"))
    assert artefact.error is None and artefact.size and artefact.sha256
