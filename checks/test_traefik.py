"""Traefik: its API answers, each expected router is enabled and configured as expected, its service's servers
are up, a request through the entrypoint reaches the right backend, plain HTTP redirects to HTTPS, and the
containers declare their routers in their labels, on the proxy network.

Runbook steps: RCY-0.5 (Traefik running, the proxy network exists), RCY-4.2 (routers enabled, services up,
containers labelled and on the proxy network), RCY-4.3 (the stack answers through Traefik). Each
``[[traefik.routers]]`` entry is one check of each kind; the router and service JSON are the evidence.
Unlike a script that greps container names, this reads Traefik's API and goes through the proxy for real.

A status alone does not prove which backend answered (any backend, or a catch-all router, answers 200):
``route_has_backend_proof`` (a warning) fails for a router whose entry sets neither ``expect_headers`` nor
``expect_body``, so the missing proof shows in the verdict (GO-WITH-WARNINGS) without breaking a profile.

A service without a health check cannot prove its servers are up: Traefik lists them ``UP`` even when
nothing listens. For such a service ``service_up`` connects to each server itself (a refused server
fails it), and ``service_health_checked`` (a warning) asks for a health check, so that Traefik stops
sending requests to a dead server on its own.

The proxy as its dashboard shows it: ``configuration_without_errors`` (critical) fails for every router,
service or middleware Traefik refused (``disabled``: a route whose service does not exist, a middleware that
failed to load), and ``configuration_without_warnings`` (a warning) for those it runs with a complaint, each
named with its provider and Traefik's own words; the profile's routers and their services are left to
``router_enabled`` and ``service_up``, and ``[traefik] known_broken`` accepts named objects with a reason.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from gonogo import dependent, evidence, judge, served, skips
from gonogo.memo import Memo
from gonogo.probes.http import HttpFact
from gonogo.probes.traefik import (
    ConfigObject,
    ConfigurationFact,
    LabelledContainer,
    LabelsFact,
    RouterFact,
    ServiceFact,
    TraefikProbe,
    labels,
    network,
)
from gonogo.sections.traefik import TraefikRoute
from gonogo.profile import Profile
from gonogo.stack import Stack

pytestmark = [pytest.mark.predeploy, pytest.mark.postdeploy]

#: where a router or service of each provider is configured
SOURCES = {
    "file": "the file provider's dynamic configuration",
    "docker": "the container's traefik.* labels",
    "internal": "Traefik's static configuration",
}
#: permanent redirects (a 302 or 307 would let clients keep using plain HTTP)
PERMANENT = (301, 308)


class Api:
    """Traefik's answers about each router and service, asked once per module (several checks judge each)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._routers: Memo[str, RouterFact] = Memo()
        self._services: Memo[str, ServiceFact] = Memo()
        self._configuration: Memo[str, ConfigurationFact] = Memo()

    @property
    def probe(self) -> TraefikProbe:
        return self.stack.traefik

    def router(self, route: TraefikRoute) -> RouterFact:
        return self._routers.get(route.name, lambda: self.probe.router(route.name))

    def service(self, name: str) -> ServiceFact:
        return self._services.get(name, lambda: self.probe.service(name))

    def configuration(self) -> ConfigurationFact:
        return self._configuration.get("configuration", lambda: self.probe.configuration())

    def where(self, kind: str, name: str, provider: str | None) -> str:
        """The API URL of a router or service, and where it is configured."""
        source = SOURCES.get(provider or "", f"its provider ({provider})" if provider else "its provider")
        return f"{self.probe.section.api}/api/http/{kind}s/{name}; {source}"


@pytest.fixture(scope="module")
def api(stack: Stack) -> Api:
    """Traefik's routers and services, each fetched once for the module's checks."""
    return Api(stack)


def _readable(fact: RouterFact) -> RouterFact:
    """The router, or skip as dependent: its absence is ``router_enabled``'s failure, a silent API ``api_answers``'."""
    if not fact.answer.answered:
        dependent("traefik.api_answers", f"Traefik's API did not answer ({fact.error})")
    if not fact.found:
        dependent(f"traefik.router_enabled[{fact.name}]", f"the router could not be read ({fact.error})")
    return fact


@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.5")
def test_api_answers(stack: Stack) -> None:
    """Traefik's API answers: /ping says OK and /api/overview describes its routers and services."""
    traefik = stack.traefik
    if traefik.section.ping:
        ping = traefik.ping()
        judge("Traefik ping", ping.status == 200 and ping.body.strip() == "OK", expected="200 OK",
              actual=ping.error or f"{ping.status} {ping.body.strip()[:100]!r}",
              where=f"{ping.url}: is Traefik running, with ping on this entrypoint? (its log)", fact=ping)
    overview = traefik.overview()
    ok = isinstance(overview.data, dict) and isinstance(overview.data.get("http"), dict)
    judge("Traefik API", ok, expected="its overview (JSON with the http routers and services)",
          actual=overview.error or f"JSON without 'http': {overview.body.strip()[:200]}",
          where=f"{overview.url}: Traefik's api section and its entrypoint", fact=overview)


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-0.5")
def test_proxy_network_exists(stack: Stack, profile: Profile) -> None:
    """The Docker network Traefik and the routed containers share ([docker] proxy_network) exists."""
    stack.section("traefik")
    if profile.docker is None or profile.docker.proxy_network is None:
        skips.not_applicable("not applicable: no [docker] proxy_network (the stack names no proxy network)")
    fact = network(stack.docker, profile.docker.proxy_network)
    judge(f"network {fact.name}", fact.exists, expected=f"a Docker network named {fact.name}",
          actual=f"the engine did not answer: {fact.error}" if fact.error else "no such network",
          where=f"`docker network ls` on {fact.engine} (create it: docker network create {fact.name})", fact=fact)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-4.2")
@pytest.mark.each("traefik.routers", "route")
def test_router_enabled(route: TraefikRoute, api: Api) -> None:
    """The router exists in Traefik, is enabled and has no error."""
    fact = api.router(route)
    if not fact.answer.answered:
        dependent("traefik.api_answers", f"Traefik's API did not answer ({fact.error})")
    if not fact.found:
        actual = f"no such router: Traefik's API {fact.error}"
    else:
        actual = f"status {fact.status}" + (f"; Traefik says: {'; '.join(fact.errors)}" if fact.errors else "")
    judge(f"{route.name} router", fact.found and fact.status == "enabled" and not fact.errors,
          expected="an enabled router without errors", actual=actual,
          where=api.where("router", route.name, route.provider), fact=fact)


def _has_expectations(route: TraefikRoute) -> bool:
    return any(v is not None for v in (route.rule_host, route.rule, route.entrypoints, route.middlewares,
                                       route.tls, route.service))


def router_problems(route: TraefikRoute, fact: RouterFact) -> list[str]:
    """How the router differs from the profile's expectations."""
    problems = []
    if route.rule_host and route.rule_host.lower() not in (h.lower() for h in fact.hosts):
        problems.append(f"rule {fact.rule} does not match host {route.rule_host}")
    if route.rule is not None and fact.rule != route.rule:
        problems.append(f"rule {fact.rule}")
    if route.entrypoints is not None and set(fact.entrypoints) != set(route.entrypoints):
        problems.append(f"entrypoints {fact.entrypoints}")
    if route.middlewares is not None and fact.middlewares != [route.qualified(m) for m in route.middlewares]:
        problems.append(f"middlewares {fact.middlewares or 'none'}")
    if route.tls is not None and fact.tls != route.tls:
        problems.append("TLS" if fact.tls else "no TLS")
    if route.service is not None and fact.service != route.qualified(route.service):
        problems.append(f"service {fact.service}")
    return problems


def _expected_router(route: TraefikRoute) -> str:
    parts = [f"a rule matching Host(`{route.rule_host}`)" if route.rule_host else "",
             f"rule {route.rule}" if route.rule is not None else "",
             f"entrypoints {route.entrypoints}" if route.entrypoints is not None else "",
             f"middlewares {[route.qualified(m) for m in route.middlewares] or 'none'}" if route.middlewares is not None else "",
             ("TLS" if route.tls else "no TLS") if route.tls is not None else "",
             f"service {route.qualified(route.service)}" if route.service is not None else ""]
    return ", ".join(p for p in parts if p)


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-4.2")
@pytest.mark.each("traefik.routers", "route", where=_has_expectations, optional=True,
                  what="rule_host, rule, entrypoints, middlewares, tls or service")
def test_router_as_expected(route: TraefikRoute, api: Api) -> None:
    """The router has the expected host rule, entrypoints, middlewares, TLS and service."""
    fact = _readable(api.router(route))
    problems = router_problems(route, fact)
    judge(f"{route.name} configuration", not problems, expected=_expected_router(route), actual="; ".join(problems),
          where=api.where("router", route.name, route.provider), fact=fact)


def _service_of(route: TraefikRoute, api: Api) -> ServiceFact:
    router = _readable(api.router(route))
    evidence.attach_fact(router)
    name = route.qualified(route.service) if route.service else router.service
    judge(f"{route.name} service", name is not None, expected="a router that names its service",
          actual="no service", where=api.where("router", route.name, route.provider), fact=router)
    return api.service(str(name))


def service_problems(route: TraefikRoute, fact: ServiceFact) -> list[str]:
    """What keeps the service from serving: missing, disabled, other servers, servers down or unreachable."""
    if not fact.found:
        return [f"no such service: Traefik's API {fact.error}"]
    problems = []
    if fact.status != "enabled" or fact.errors:
        problems.append(f"status {fact.status}" + (f" ({'; '.join(fact.errors)})" if fact.errors else ""))
    if not fact.servers:
        problems.append(f"no servers (a {fact.kind} service)")
    if route.servers is not None and {_norm(s) for s in fact.servers} != {_norm(s) for s in route.servers}:
        problems.append(f"servers {fact.servers}")
    if fact.health_check is not None:
        path = fact.health_check.get("path", "?")
        problems += [f"{url} is {fact.server_status.get(url, 'not reported')} (Traefik's health check on {path})"
                     for url in fact.servers if fact.server_status.get(url) != "UP"]
    else:
        problems += [f"{r.url} refuses connections ({r.error}); the service has no health check, so Traefik still "
                     "calls it UP" for r in fact.reached if not r.reachable]
    return problems


def _norm(url: str) -> str:
    return url.rstrip("/").lower()


@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-4.2")
@pytest.mark.each("traefik.routers", "route")
def test_service_up(route: TraefikRoute, api: Api) -> None:
    """The router's service exists, has the expected servers, and every server is up."""
    fact = _service_of(route, api)
    problems = service_problems(route, fact)
    expected = "an enabled service whose servers are all UP"
    if route.servers is not None:
        expected += f": {route.servers}"
    judge(f"{route.name} service {fact.name}", not problems, expected=expected, actual="; ".join(problems),
          where=api.where("service", fact.name, fact.data.get("provider") or route.provider) + "; the backend servers",
          fact=fact)


@pytest.mark.severity("warning")
@pytest.mark.runbook("RCY-4.2")
@pytest.mark.each("traefik.routers", "route")
def test_service_health_checked(route: TraefikRoute, api: Api) -> None:
    """The router's service has a health check (without one, Traefik lists dead servers as UP and sends them requests)."""
    fact = _service_of(route, api)
    if not fact.found:
        dependent(f"traefik.service_up[{route.name}]", f"the service could not be read ({fact.error})")
    judge(f"{route.name} service {fact.name} health check", fact.health_check is not None,
          expected="a loadBalancer.healthCheck (path, interval, timeout)", actual="none",
          where=api.where("service", fact.name, fact.data.get("provider") or route.provider), fact=fact)


def proof_problems(route: TraefikRoute, fact: HttpFact) -> list[str]:
    """What in the answer fails to prove the route's backend answered: its headers and body."""
    return served.unproven(fact, route.expect_headers, route.expect_body)


@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-4.2", "RCY-4.3")
@pytest.mark.each("traefik.routers", "route")
def test_route_reaches_backend(route: TraefikRoute, stack: Stack) -> None:
    """A request through the HTTPS entrypoint for the route's host and path is answered by the route's backend."""
    fact = stack.traefik.through(route)
    where = f"{fact.url} through Traefik; router {route.name} and its service; Traefik's access log"
    judge(f"{route.name} through the entrypoint", fact.status == route.expect_status, expected=route.expect_status,
          actual=fact.status_text + (f": {' '.join(fact.body.split())[:120]}" if fact.answered else ""),
          where=where, fact=fact)
    problems = proof_problems(route, fact)
    judge(f"{route.name} backend", not problems, expected="an answer from the route's backend "
          f"(headers {route.expect_headers or 'any'}, body {route.expect_body or 'any'})",
          actual=f"status {fact.status} but " + "; ".join(problems), where=where, fact=fact)


def _unproven(route: TraefikRoute) -> bool:
    return not route.expect_headers and route.expect_body is None


@pytest.mark.severity("warning")
@pytest.mark.runbook("RCY-4.3")
@pytest.mark.each("traefik.routers", "route", where=_unproven, optional=True,
                  what="a status as its only proof (no expect_headers, no expect_body)")
def test_route_has_backend_proof(route: TraefikRoute, stack: Stack) -> None:
    """The router's entry says what proves its backend answered: expect_headers or expect_body.

    A status alone is answered by any backend, and by a catch-all router; a failure here is a warning."""
    judge(f"{route.name} backend proof", False,
          expected="expect_headers or expect_body: what only the route's backend answers",
          actual=f"neither: route_reaches_backend proves only a {route.expect_status}, which any backend or a "
                 "catch-all router gives",
          where=f'[[traefik.routers]] name = "{route.name}" in {stack.env.display_path}; the answer\'s headers and '
                f"body are in route_reaches_backend[{route.name}]'s evidence")


def _redirects(route: TraefikRoute) -> bool:
    return bool(route.https_redirect)


def same_url(location: str, target: str) -> bool:
    """Do two absolute URLs name the same scheme, host, port, path and query (default ports spelled or not)?"""
    a, b = urlsplit(location), urlsplit(target)
    try:
        ports = (a.port or {"https": 443, "http": 80}.get(a.scheme), b.port or {"https": 443, "http": 80}.get(b.scheme))
    except ValueError:  # a Location with a port that is not a number
        return False
    return ((a.scheme.lower(), (a.hostname or "").lower(), ports[0], a.path, a.query)
            == (b.scheme.lower(), (b.hostname or "").lower(), ports[1], b.path, b.query))


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-4.2")
@pytest.mark.each("traefik.routers", "route", where=_redirects, optional=True, what="https_redirect")
def test_http_redirects_to_https(route: TraefikRoute, stack: Stack) -> None:
    """Plain HTTP to the route's host and path redirects permanently to HTTPS, same host, path and query."""
    traefik = stack.traefik
    fact = traefik.plain_http(route)
    target = traefik.redirect_target(route)
    location = fact.header("Location")
    if not fact.answered:
        actual = fact.status_text
    elif location is None:
        actual = f"{fact.status} without a Location"
    else:
        actual = f"{fact.status} to {location}"
    judge(f"{route.name} HTTP to HTTPS", fact.status in PERMANENT and same_url(location or "", target),
          expected=f"301 or 308 to {target}", actual=actual,
          where=f"{fact.url}; the HTTP entrypoint's redirections (or a redirectScheme middleware) in Traefik's configuration",
          fact=fact)


def _labelled(route: TraefikRoute) -> bool:
    return route.labels


def label_problems(fact: LabelsFact, rule: str, router: RouterFact, proxy_network: str | None) -> list[str]:
    """How the containers' labels differ from the router Traefik serves (or are off the proxy network)."""
    if fact.error:
        return [f"the Docker engine did not answer: {fact.error}"]
    if not fact.containers:
        return [f"no container of project {fact.project} declares {fact.rule_label}"]
    problems: list[str] = []
    for c in fact.containers:
        problems += _container_problems(c, fact, rule, router, proxy_network)
    return problems


def _container_problems(c: LabelledContainer, fact: LabelsFact, rule: str, router: RouterFact,
                        proxy_network: str | None) -> list[str]:
    prefix = f"traefik.http.routers.{fact.router}."
    problems = []
    enable = c.label("traefik.enable")
    if (enable or "").lower() != "true":
        problems.append(f"{c.name}: traefik.enable={enable if enable is not None else '(missing)'}")
    if c.label(fact.rule_label) != rule:
        problems.append(f"{c.name}: {fact.rule_label}={c.label(fact.rule_label)}")
    entrypoints = c.label(prefix + "entrypoints")
    if entrypoints is not None and router.found and set(e.strip() for e in entrypoints.split(",")) != set(router.entrypoints):
        problems.append(f"{c.name}: {prefix}entrypoints={entrypoints} (the router is on {router.entrypoints})")
    tls = c.label(prefix + "tls")
    if tls is not None and router.found and (tls.lower() == "true") != router.tls:
        problems.append(f"{c.name}: {prefix}tls={tls} (the router {'terminates' if router.tls else 'has no'} TLS)")
    if proxy_network is not None and proxy_network not in c.networks:
        problems.append(f"{c.name}: not on network {proxy_network} (on {', '.join(c.networks) or 'none'})")
    return problems


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-4.2")
@pytest.mark.each("traefik.routers", "route", where=_labelled, optional=True, what="labels = true")
def test_router_labels(route: TraefikRoute, api: Api, stack: Stack) -> None:
    """Containers of the project declare the router in their labels (traefik.enable=true, the router's rule)
    and sit on the proxy network ([docker] proxy_network) when there is one."""
    stack.needs("docker", "the labels are read from the containers through its engine")
    docker = stack.docker
    router = api.router(route)
    rule = route.rule if route.rule is not None else _readable(router).rule
    if router.found:
        evidence.attach_fact(router)
    fact = labels(docker, route.base_name)
    proxy_network = docker.section.proxy_network
    problems = label_problems(fact, rule, router, proxy_network)
    expected = f"traefik.enable=true and {fact.rule_label}={rule}" + (f", on network {proxy_network}" if proxy_network else "")
    compose_file = docker.section.compose_file
    compose = stack.env.resolve_path(compose_file) if compose_file else "the compose file"
    judge(f"{route.name} labels", not problems, expected=expected, actual="; ".join(problems),
          where=f"the labels of the service in {compose} (project {fact.project}); {api.where('router', route.name, route.provider)}",
          fact=fact)


def _theirs(api: Api) -> set[tuple[str, str]]:
    """The profile's routers and their services, as (kind, name): router_enabled and service_up judge them."""
    listed = {r.name for r in api.probe.section.routers}
    routers = [o for o in api.configuration().objects if o.kind == "http router" and o.name in listed]
    return {("http router", name) for name in listed} | {("http service", o.service) for o in routers if o.service}


def _elsewhere(api: Api, objects: list[ConfigObject]) -> tuple[list[ConfigObject], list[str]]:
    """The objects left to judge (not the profile's routers and services, not accepted), and those accepted."""
    theirs, judged, accepted = _theirs(api), [], []
    for o in (o for o in objects if (o.kind, o.name) not in theirs):
        known = next((k for k in api.probe.section.known_broken if k.matches(o.name)), None)
        if known is None:
            judged.append(o)
        else:
            accepted.append(f"{o!r}: accepted ([traefik] known_broken {known.name}: {known.reason})")
    return judged, accepted


def _judge_configuration(api: Api, errors: bool) -> None:
    """Judge the proxy's objects in error (``errors``) or with warnings, elsewhere than the profile's routers."""
    fact = api.configuration()
    overview = fact.answers[0].data if isinstance(fact.answers[0].data, dict) else {}
    if not isinstance(overview.get("http"), dict):
        dependent("traefik.api_answers", f"Traefik's overview could not be read ({fact.answers[0].error or 'no http'})")
    what = "in error" if errors else "with warnings"
    found, accepted = _elsewhere(api, fact.in_error if errors else fact.warned)
    if accepted:
        evidence.attach("accepted as known broken ([traefik] known_broken)", "\n".join(accepted))
    if fact.error or not fact.objects:
        actual = f"the configuration could not be read: {fact.error}" if fact.error else "Traefik lists no object at all"
    else:
        actual = f"{len(found)} {what}: " + "; ".join(
            f"{o.kind} {o.name} (provider {o.provider}): {'; '.join(o.errors) or o.status}" for o in found)
    sources = sorted({SOURCES.get(o.provider, f"its provider ({o.provider})") for o in found})
    judge("Traefik configuration", not fact.error and bool(fact.objects) and not found,
          expected=f"no router, service or middleware {what}", actual=actual,
          where=f"{api.probe.section.api}/api/http/routers (services, middlewares; tcp, udp), as Traefik's dashboard "
          f"shows them; {', '.join(sources) or 'Traefik'} (the profile's routers are judged apart; [traefik] "
          "known_broken accepts an object for good, with its reason)", fact=fact)


@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-4.2")
def test_configuration_without_errors(api: Api) -> None:
    """No router, service or middleware of the proxy is in error (Traefik refused it), beyond the profile's routers.

    A disabled router answers 404 to its users; a middleware that failed to load takes every router using it down."""
    _judge_configuration(api, errors=True)


@pytest.mark.severity("warning")
@pytest.mark.runbook("RCY-4.2")
def test_configuration_without_warnings(api: Api) -> None:
    """No router, service or middleware of the proxy carries a warning (Traefik runs it, and says what is wrong)."""
    _judge_configuration(api, errors=False)
