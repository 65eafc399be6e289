"""Traefik probe: the proxy's API (its routers and services), its routes end to end (``[traefik]``:
:mod:`gonogo.sections.traefik`).

``stack.traefik`` reads Traefik's API (``/ping``, ``/api/overview``, ``/api/http/routers/{name}``,
``/api/http/services/{name}``) through ``stack.http`` (resolve map, CA, credentials written in the
API URL), and sends requests through the entrypoints as a client would. Every request is bounded by
``[traefik] timeout_s``; an API that did not answer within it is not asked again in the session
(each later question gets the first answer's error at once), so a silent proxy costs one timeout,
not one per router. Facts only: no answer, a 404, a body that is not JSON are errors in the fact.

Two things Traefik's own answers do not prove, measured with Traefik 3:

- a service **without** ``healthCheck`` lists every server as ``UP``, even when nothing listens:
  for such a service the probe connects to each server itself (``ServiceFact.reached``);
- a router that refers to a missing service (or middleware) is ``disabled`` with its ``error`` list,
  and answers 404 through the entrypoint like a host no router matches.

The whole configuration (``configuration()``), as Traefik's dashboard shows it: every router, service and
middleware of ``/api/{http,tcp,udp}/...`` (the lists the overview says are not empty, page by page), with its
status (``enabled``, ``warning``, ``disabled``) and Traefik's own words (its ``error`` list).

The Docker side (``labels``): the containers of ``[docker] compose_project`` that declare a router
(``traefik.http.routers.<name>.rule``), with their ``traefik.*`` labels and networks, in one
bounded call of the Docker API.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.probes.docker import DockerProbe, error_text
from gonogo.probes.http import HttpFact, HttpProbe
from gonogo.secrets import masker
from gonogo.sections.traefik import TraefikRoute, TraefikSection

if TYPE_CHECKING:
    from gonogo.stack import Stack

#: the query parameter added to the redirect check's request (it must survive the redirect)
REDIRECT_QUERY = "gonogo-redirect-check=1"
#: the lists of Traefik's API its dashboard shows, per protocol (the overview's keys)
LISTS = {"http": ("routers", "services", "middlewares"), "tcp": ("routers", "services", "middlewares"),
         "udp": ("routers", "services")}
#: objects asked per page of a list (Traefik's default is 100), and the most pages followed
PER_PAGE, MAX_PAGES = 500, 20
_HOST_MATCHER = re.compile(r"\bHost\(([^)]*)\)")
_QUOTED = re.compile(r"`([^`]*)`|\"([^\"]*)\"")


# ------------------------------------------------------------------------------------------ facts


class ApiAnswer(Observed):
    """One GET on Traefik's API: its JSON (``data``), or why there is none (``error``)."""

    EVIDENCE_NAME = "Traefik API {url}"

    url: str
    status: int | None
    elapsed_ms: float
    body: str = ""
    data: Any = None
    error: str | None = None
    #: the page Traefik says comes next (``X-Next-Page``; 1 after the last page)
    next_page: int | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    def evidence(self) -> str:
        head = f"GET {self.url}\nstatus: {self.status}\nelapsed: {self.elapsed_ms:.1f} ms"
        if self.error:
            head += f"\nerror: {self.error}"
        shown = json.dumps(self.data, indent=2, sort_keys=True) if self.data is not None else self.body
        return masker.mask(f"{head}\n\n{shown}")

    def one_line(self) -> str:
        if self.error:
            return f"<Traefik API {self.url}: {self.error}>"
        return f"<Traefik API {self.url}: {self.status} in {self.elapsed_ms:.0f} ms>"


class _ApiObject:
    """What a router and a service of Traefik's API have in common: its answer, status and errors."""

    answer: ApiAnswer

    @property
    def found(self) -> bool:
        return isinstance(self.answer.data, dict)

    @property
    def error(self) -> str | None:
        return self.answer.error

    @property
    def data(self) -> Mapping[str, Any]:
        return self.answer.data if self.found else {}

    @property
    def status(self) -> str | None:
        return self.data.get("status")

    @property
    def errors(self) -> list[str]:
        """Traefik's own words about what is wrong with it (a missing service, middleware...)."""
        return [str(e) for e in self.data.get("error") or []]


class RouterFact(_ApiObject, Observed):
    """A router as Traefik's API shows it (``/api/http/routers/{name}``)."""

    EVIDENCE_NAME = "Traefik router {name}"

    name: str
    answer: ApiAnswer

    @property
    def rule(self) -> str:
        return str(self.data.get("rule", ""))

    @property
    def hosts(self) -> list[str]:
        """The hosts of the rule's ``Host(...)`` matchers."""
        return [a or b for args in _HOST_MATCHER.findall(self.rule) for a, b in _QUOTED.findall(args)]

    @property
    def entrypoints(self) -> list[str]:
        return [str(e) for e in self.data.get("entryPoints") or []]

    @property
    def middlewares(self) -> list[str]:
        return [str(m) for m in self.data.get("middlewares") or []]

    @property
    def tls(self) -> bool:
        """Whether the router terminates TLS (its own ``tls`` or its entrypoint's)."""
        return "tls" in self.data

    @property
    def provider(self) -> str | None:
        return self.data.get("provider") or self.name.partition("@")[2] or None

    @property
    def service(self) -> str | None:
        """The router's service, with a provider (the API writes it without one when it is the router's)."""
        name = self.data.get("service")
        if not name:
            return None
        return name if "@" in name or not self.provider else f"{name}@{self.provider}"

    def evidence(self) -> str:
        return self.answer.evidence()

    def one_line(self) -> str:
        if not self.found:
            return f"<router {self.name}: {self.error}>"
        extra = f" errors {self.errors}" if self.errors else ""
        return f"<router {self.name} {self.status}: {self.rule} -> {self.service}{extra}>"


class ServerReach(Observed):
    """Whether gonogo could open a TCP connection to one backend server itself."""

    url: str
    reachable: bool
    elapsed_ms: float
    error: str | None = None

    def one_line(self) -> str:
        said = "reachable" if self.reachable else f"unreachable: {self.error}"
        return f"{self.url} {said} ({self.elapsed_ms:.0f} ms)"


class ServiceFact(_ApiObject, Observed):
    """A service as Traefik's API shows it (``/api/http/services/{name}``), and, when it has no health
    check, whether its servers accept a connection (``reached``)."""

    EVIDENCE_NAME = "Traefik service {name}"

    name: str
    answer: ApiAnswer
    reached: tuple[ServerReach, ...] = ()

    @property
    def kind(self) -> str:
        return str(self.data.get("type", "?"))

    @property
    def servers(self) -> list[str]:
        balancer = self.data.get("loadBalancer") or {}
        return [str(s.get("url") or s.get("address")) for s in balancer.get("servers") or []]

    @property
    def server_status(self) -> dict[str, str]:
        """Server URL -> ``UP`` / ``DOWN``, as Traefik reports it."""
        return {str(k): str(v) for k, v in (self.data.get("serverStatus") or {}).items()}

    @property
    def health_check(self) -> Mapping[str, Any] | None:
        return (self.data.get("loadBalancer") or {}).get("healthCheck")

    def evidence(self) -> str:
        text = self.answer.evidence()
        if self.reached:
            text += masker.mask("\n\nno health check: gonogo connected to each server itself\n"
                                + "\n".join(repr(r) for r in self.reached))
        return text

    def one_line(self) -> str:
        if not self.found:
            return f"<service {self.name}: {self.error}>"
        return f"<service {self.name} {self.status}: {self.server_status or self.servers}>"


class ConfigObject(Observed):
    """One router, service or middleware as Traefik's API lists it: its status and Traefik's own words."""

    kind: str
    name: str
    provider: str
    status: str
    errors: tuple[str, ...] = ()
    #: a router's service, with its provider
    service: str | None = None

    @property
    def in_error(self) -> bool:
        """Traefik refused it: ``disabled`` (or any status but enabled and warning)."""
        return self.status not in ("enabled", "warning")

    @property
    def warned(self) -> bool:
        """Traefik runs it but says something is wrong with it."""
        return not self.in_error and (self.status == "warning" or bool(self.errors))

    def one_line(self) -> str:
        said = f": {'; '.join(self.errors)}" if self.errors else ""
        return f"{self.kind} {self.name} ({self.status}){said}"


class ConfigurationFact(Observed):
    """Every router, service and middleware of the proxy, as its dashboard lists them (``/api/{http,tcp,udp}/...``)."""

    EVIDENCE_NAME = "Traefik configuration (routers, services, middlewares)"

    api: str
    #: the overview first, then each page of each list asked
    answers: tuple[ApiAnswer, ...]
    objects: tuple[ConfigObject, ...] = ()
    #: a list that could not be read
    error: str | None = None

    @property
    def in_error(self) -> list[ConfigObject]:
        return [o for o in self.objects if o.in_error]

    @property
    def warned(self) -> list[ConfigObject]:
        return [o for o in self.objects if o.warned]

    def evidence(self) -> str:
        lines = [f"{len(self.objects)} objects, {len(self.in_error)} in error, {len(self.warned)} with warnings"]
        lines += [f"error: {self.error}"] if self.error else []
        lines += [f"  {o!r}" for o in sorted(self.objects, key=lambda o: (o.kind, o.name))]
        lines += ["", "asked:"] + [f"  GET {a.url}: {a.error or a.status} ({a.elapsed_ms:.0f} ms)" for a in self.answers]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if self.error:
            return f"<Traefik configuration: {self.error}>"
        return f"<Traefik configuration: {len(self.objects)} objects, {len(self.in_error)} in error, {len(self.warned)} warned>"


class LabelledContainer(Observed):
    """A container that declares a router in its labels: its ``traefik.*`` labels and its networks."""

    name: str
    service: str
    state: str
    labels: Mapping[str, str]
    networks: tuple[str, ...]

    def label(self, key: str) -> str | None:
        return self.labels.get(key)

    def one_line(self) -> str:
        return f"<container {self.name} (service {self.service}, {self.state}) on {', '.join(self.networks) or 'no network'}>"


class LabelsFact(Observed):
    """The containers of a Compose project that declare ``router`` in their labels (``traefik.http.routers.<router>.rule``)."""

    EVIDENCE_NAME = "traefik labels of router {router}"

    router: str
    project: str
    engine: str
    elapsed_ms: float
    containers: tuple[LabelledContainer, ...] = ()
    error: str | None = None

    @property
    def rule_label(self) -> str:
        return f"traefik.http.routers.{self.router}.rule"

    def evidence(self) -> str:
        lines = [f"containers of project {self.project} declaring {self.rule_label} ({self.engine}):"]
        if self.error:
            lines.append(no_answer(self.elapsed_ms, self.error))
        elif not self.containers:
            lines.append("none")
        for c in self.containers:
            lines.append(f"\n{c.name} (service {c.service}, {c.state}), networks: {', '.join(c.networks) or 'none'}")
            lines += [f"  {k}={v}" for k, v in sorted(c.labels.items())]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if self.error:
            return f"<labels of router {self.router}: {self.error}>"
        return f"<labels of router {self.router}: {', '.join(c.name for c in self.containers) or 'no container'}>"


class NetworkFact(Observed):
    """Whether a Docker network exists (and its driver)."""

    EVIDENCE_NAME = "docker network {name}"

    name: str
    engine: str
    elapsed_ms: float
    exists: bool = False
    driver: str | None = None
    error: str | None = None

    def evidence(self) -> str:
        if self.error:
            return masker.mask(f"{self.engine}: {no_answer(self.elapsed_ms, self.error)}")
        if not self.exists:
            return masker.mask(f"{self.engine}: no network named {self.name}")
        return masker.mask(f"{self.engine}: network {self.name} (driver {self.driver})")

    def one_line(self) -> str:
        if self.error:
            return f"<network {self.name}: {self.error}>"
        return f"<network {self.name}: {'exists' if self.exists else 'missing'}>"


# ------------------------------------------------------------------------------------------ probe


class TraefikProbe:
    """Traefik of ``[traefik]`` (``stack.traefik``): its API and its entrypoints, every request bounded."""

    def __init__(self, section: TraefikSection, http: HttpProbe, default_host: str | None = None) -> None:
        self.section = section
        self.http = http
        self.default_host = default_host
        #: the first request to the API that got no answer in time: later ones are not sent
        self._silent: ApiAnswer | None = None

    def __repr__(self) -> str:
        return masker.mask(f"<traefik probe {self.section.api}>")

    def get(self, path: str, *, json_body: bool = True) -> ApiAnswer:
        """GET ``{api}{path}``; its JSON in ``data`` (``json_body``), or the error. Never raises."""
        url = self.section.api + path
        if self._silent is not None:
            return ApiAnswer(url, None, 0.0, error=f"not asked: {self._silent.error} (GET {self._silent.url})")
        fact = self.http.get(url, timeout_s=self.section.timeout_s)
        answer = _answer(fact, json_body)
        if not fact.answered and "Timeout" in (fact.error or ""):
            self._silent = answer
        return answer

    def ping(self) -> ApiAnswer:
        """``{api}/ping``: Traefik's own liveness (``OK``)."""
        return self.get("/ping", json_body=False)

    def overview(self) -> ApiAnswer:
        """``{api}/api/overview``: how many routers, services and middlewares, with their errors."""
        return self.get("/api/overview")

    def configuration(self) -> ConfigurationFact:
        """Every router, service and middleware of the lists the overview says are not empty (tcp and udp where
        present), each list page by page; the first list that cannot be read ends it (the fact's error)."""
        overview = self.overview()
        answers, objects = [overview], []
        if overview.error or not isinstance(overview.data, dict):
            return ConfigurationFact(self.section.api, tuple(answers), error=overview.error or "no overview")
        for protocol, kinds in LISTS.items():
            counts = overview.data.get(protocol) or {}
            for kind in (k for k in kinds if (counts.get(k) or {}).get("total")):
                listed, error = self._list(f"/api/{protocol}/{kind}", answers)
                objects += [_config_object(f"{protocol} {kind[:-1]}", item) for item in listed]
                if error:
                    return ConfigurationFact(self.section.api, tuple(answers), tuple(objects), error)
        return ConfigurationFact(self.section.api, tuple(answers), tuple(objects))

    def _list(self, path: str, answers: list[ApiAnswer]) -> tuple[list[Any], str | None]:
        """Every item of one list of the API, following ``X-Next-Page`` (at most ``MAX_PAGES`` pages)."""
        items: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            answer = self.get(f"{path}?per_page={PER_PAGE}&page={page}")
            answers.append(answer)
            if answer.error or not isinstance(answer.data, list):
                return items, answer.error or f"GET {answer.url}: not a list"
            items += [item for item in answer.data if isinstance(item, dict)]
            if (answer.next_page or 1) <= page:
                return items, None
        return items, f"GET {self.section.api}{path}: more than {MAX_PAGES * PER_PAGE} objects"

    def router(self, name: str) -> RouterFact:
        """One router by its full name (``shop@file``)."""
        return RouterFact(name, self.get(f"/api/http/routers/{quote(name, safe='@')}"))

    def service(self, name: str) -> ServiceFact:
        """One service by its full name; without a health check, each of its servers is connected to directly."""
        fact = ServiceFact(name, self.get(f"/api/http/services/{quote(name, safe='@')}"))
        if fact.found and fact.health_check is None and fact.servers:
            return ServiceFact(name, fact.answer, tuple(self._reach(url) for url in fact.servers))
        return fact

    def host_of(self, route: TraefikRoute) -> str | None:
        """The host requests for ``route`` go to: its ``rule_host``, else the public domain."""
        return route.rule_host or self.default_host

    def url(self, route: TraefikRoute, scheme: str = "https") -> str:
        """The URL of ``route`` on the HTTPS (or plain HTTP) entrypoint."""
        port = self.section.https_port if scheme == "https" else self.section.http_port
        shown = "" if port == (443 if scheme == "https" else 80) else f":{port}"
        return f"{scheme}://{self.host_of(route)}{shown}{route.path}"

    def through(self, route: TraefikRoute) -> HttpFact:
        """A GET of the route's host and path through the HTTPS entrypoint (redirects not followed)."""
        return self.http.get(self.url(route), timeout_s=self.section.timeout_s)

    def plain_http(self, route: TraefikRoute) -> HttpFact:
        """A GET of the route's host and path (plus a query that must survive) on the plain HTTP entrypoint."""
        url = self.url(route, "http")
        url += ("&" if "?" in url else "?") + REDIRECT_QUERY
        return self.http.get(url, timeout_s=self.section.timeout_s)

    def redirect_target(self, route: TraefikRoute) -> str:
        """Where plain HTTP for ``route`` must redirect: the same host, path and query on HTTPS."""
        url = self.url(route)
        return url + ("&" if "?" in url else "?") + REDIRECT_QUERY

    def _reach(self, url: str) -> ServerReach:
        parts = urlsplit(url if "://" in url else f"tcp://{url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        watch = Stopwatch()
        try:
            socket.create_connection((parts.hostname or "", port), timeout=self.section.timeout_s).close()
        except OSError as exc:
            return ServerReach(url, False, watch.ms(), f"{type(exc).__name__}: {exc.strerror or exc}")
        return ServerReach(url, True, watch.ms())


def labels(docker: DockerProbe, router: str) -> LabelsFact:
    """The containers of ``[docker] compose_project`` (running or not) that declare ``router``'s rule in
    their labels. One bounded call of the Docker API; an engine that does not answer is the fact's error."""
    project = docker.section.compose_project
    key = f"traefik.http.routers.{router}.rule"
    watch = Stopwatch()
    try:
        listed = docker.client.api.containers(all=True, filters={"label": [f"com.docker.compose.project={project}", key]})
    except Exception as exc:  # refused, no socket, timeout: a fact
        return LabelsFact(router, project, docker.section.host, watch.ms(), error=error_text(exc))
    found = tuple(sorted((_labelled(c) for c in listed), key=lambda c: c.name))
    return LabelsFact(router, project, docker.section.host, watch.ms(), found)


def network(docker: DockerProbe, name: str) -> NetworkFact:
    """Whether the Docker network ``name`` exists (one bounded call)."""
    watch = Stopwatch()
    try:
        listed = [n for n in docker.client.api.networks(names=[name]) if n.get("Name") == name]
    except Exception as exc:  # refused, no socket, timeout: a fact
        return NetworkFact(name, docker.section.host, watch.ms(), error=error_text(exc))
    if not listed:
        return NetworkFact(name, docker.section.host, watch.ms())
    return NetworkFact(name, docker.section.host, watch.ms(), True, listed[0].get("Driver"))


def _labelled(listed: Mapping[str, Any]) -> LabelledContainer:
    all_labels = listed.get("Labels") or {}
    networks = tuple(sorted(((listed.get("NetworkSettings") or {}).get("Networks") or {}).keys()))
    return LabelledContainer(
        name=(listed.get("Names") or [str(listed.get("Id", ""))[:12]])[0].lstrip("/"),
        service=all_labels.get("com.docker.compose.service", "?"),
        state=str(listed.get("State", "")),
        labels={k: v for k, v in all_labels.items() if k.startswith("traefik.")},
        networks=networks,
    )


def _config_object(kind: str, item: Mapping[str, Any]) -> ConfigObject:
    name = str(item.get("name", "?"))
    provider = str(item.get("provider") or name.partition("@")[2] or "?")
    service = item.get("service")
    if service and "@" not in service:
        service = f"{service}@{provider}"
    return ConfigObject(kind, name, provider, str(item.get("status", "")), tuple(str(e) for e in item.get("error") or []),
                        service if isinstance(service, str) else None)


def _answer(fact: HttpFact, json_body: bool) -> ApiAnswer:
    """What one API request says: JSON data, or the error (no answer, an error status, not JSON)."""
    if not fact.answered:
        return ApiAnswer(fact.url, None, fact.elapsed_ms, error=no_answer(fact.elapsed_ms, fact.error))
    body = fact.body
    data = fact.json() if json_body else None
    if fact.status != 200:
        said = data.get("message") if isinstance(data, dict) else " ".join(body.split())[:200]
        return ApiAnswer(fact.url, fact.status, fact.elapsed_ms, body,
                         error=f"answered {fact.status}: {said or 'no message'}")
    if json_body and not isinstance(data, (dict, list)):
        return ApiAnswer(fact.url, fact.status, fact.elapsed_ms, body,
                         error=f"answered 200 but not with JSON: {' '.join(body.split())[:200]!r}")
    following = fact.header("X-Next-Page") or ""
    return ApiAnswer(fact.url, fact.status, fact.elapsed_ms, body, data,
                     next_page=int(following) if following.isdigit() else None)


def from_stack(stack: Stack) -> TraefikProbe:
    """``stack.traefik``: Traefik of ``[traefik]``: its API and entrypoints through ``stack.http`` (resolve map,
    CA), each request bounded by ``[traefik] timeout_s``; routes without ``rule_host`` go to the public domain."""
    return TraefikProbe(stack.section("traefik"), stack.http, default_host=stack.env.profile.environment.public_domain)
