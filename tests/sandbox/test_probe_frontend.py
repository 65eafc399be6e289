"""The frontend probe against the sandbox's real frontend (nginx in its container, behind Traefik).

Through Traefik with the sandbox's CA: the front page and the app's login page, and every asset they
reference (the release's collected static files, served by nginx). In the frontend's container,
through the Docker API: ``nginx -t`` passing, failing on a broken site (nginx-config-broken), and no
container to run it in (frontend-down). nginx on its own (down, refusing, silent, misconfigured) is
tests/probes/test_frontend.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from gonogo.probes.commands import CommandProbe
from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.frontend import FrontendProbe
from gonogo.sections.frontend import FrontendPage, FrontendSection
from gonogo.probes.http import HttpProbe

if TYPE_CHECKING:
    from conftest import Sandbox

PROJECT = "boutique-sandbox"


@pytest.fixture(scope="module")
def docker(sandbox: "Sandbox") -> Any:
    probe = DockerProbe(DockerSection(host=sandbox.values["SANDBOX_DOCKER_HOST"], compose_project=PROJECT,
                                      timeout_s=10))
    yield probe
    probe.close()


def frontend(sandbox: "Sandbox", docker: DockerProbe, path: str = "/") -> tuple[FrontendProbe, FrontendPage]:
    page = FrontendPage(name="p", url=f"https://shop.localhost:{sandbox.values['SANDBOX_HTTPS_PORT']}{path}")
    section = FrontendSection(pages=[page], service="frontend", config_timeout_s=20)
    http = HttpProbe(resolve={"shop.localhost": "127.0.0.1"}, ca_file=Path(sandbox.values["SANDBOX_CA_FILE"]))
    return FrontendProbe(section, http, CommandProbe(Path("."), docker)), page


def test_the_front_page_and_its_assets_come_from_the_frontend(sandbox: "Sandbox", docker: DockerProbe) -> None:
    probe, page = frontend(sandbox, docker)
    fact = probe.page(page)
    assets = probe.assets(page, fact)

    assert fact.status == 200 and fact.header("X-Served-By") == "boutique-frontend", fact
    assert f'data-release="{sandbox.state["current"]}"' in fact.body
    kinds = {a.kind: (a.status, a.media_type) for a in assets.assets}
    assert kinds == {"stylesheet": (200, "text/css"), "image": (200, "image/svg+xml"),
                     "script": (200, "application/javascript")}, assets.evidence()
    assert all("/static/shop/" in a.url and a.size for a in assets.assets), assets.evidence()


def test_the_apps_pages_use_the_frontends_static_files(sandbox: "Sandbox", docker: DockerProbe) -> None:
    probe, page = frontend(sandbox, docker, "/accounts/login/")
    fact = probe.page(page)
    (css,) = probe.assets(page, fact).assets

    assert fact.status == 200 and fact.header("X-Served-By") is None, "the login page is the app's"
    assert css.kind == "stylesheet" and css.status == 200 and css.media_type == "text/css", css
    assert sandbox.https("GET", urlsplit(css.url).path).headers["x-served-by"] == "boutique-frontend"


def test_nginx_t_passes_in_the_frontend_container(sandbox: "Sandbox", docker: DockerProbe) -> None:
    probe, _ = frontend(sandbox, docker)
    fact = probe.config_test()

    assert fact.exit_code == 0, fact.evidence()
    assert "syntax is ok" in fact.output and "test is successful" in fact.output
    assert fact.where == f"container {PROJECT}-frontend-1 (service frontend, image boutique/frontend:{sandbox.state['current']})"


def test_nginx_t_fails_on_a_broken_site(sandbox: "Sandbox", docker: DockerProbe, faults: Any) -> None:
    faults(("nginx-config-broken",))
    probe, page = frontend(sandbox, docker)
    fact = probe.config_test()

    assert fact.exit_code == 1, fact.evidence()
    assert "[emerg]" in fact.last_words and "/etc/nginx/conf.d/boutique.conf" in fact.last_words, fact.last_words
    assert probe.page(page).status == 200, "the running nginx keeps serving"


def test_nginx_t_without_a_running_container(sandbox: "Sandbox", docker: DockerProbe, faults: Any) -> None:
    faults(("frontend-down",))
    probe, _ = frontend(sandbox, docker)
    fact = probe.config_test()

    assert fact.exit_code is None, fact.evidence()
    assert (fact.error or "").startswith(f"no running container for service frontend in project {PROJECT} "
                                         f"({PROJECT}-frontend-1 is Exited"), fact.error
