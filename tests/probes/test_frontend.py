"""The frontend probe against a real nginx (Debian's, started here on a free loopback port with a
throwaway configuration, stopped by its pid), serving pages and their assets: present, missing (404),
served with the wrong content type (a single-page-app fallback, a ``types`` override), empty; nginx
stopped (refused); a server that accepts the connection and never answers (bounded). Then the real
``checks/test_frontend.py`` end to end on the same nginx. The configuration test (``nginx -t`` in the
frontend's container) needs a Docker engine: tests/sandbox/test_probe_frontend.py."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gonogo.probes.commands import CommandProbe
from gonogo.probes.frontend import Asset, FrontendProbe, references
from gonogo.sections.frontend import FrontendPage, FrontendSection
from gonogo.probes.http import HttpProbe

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="Debian's nginx is needed (./run setup installs it)")

CONF = """
daemon off;
master_process on;
worker_processes 1;
user root;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/site;
        add_header X-Served-By test-frontend always;
        # a single-page-app fallback: a missing file answers the page itself, 200 text/html
        location /spa/ {{ try_files $uri /spa/index.html; }}
        # every file as text/plain (a types table gone missing)
        location /plain/ {{ types {{ }} default_type text/plain; }}
    }}
}}
"""

SITE = {
    "good/index.html": '<!doctype html><link rel="icon" href="data:,"><link rel="stylesheet" href="style.css">'
                       '<script src="/good/app.js" defer></script><script>var inline = 1;</script>'
                       '<img src="logo.svg" alt=""><img src="photo.png" alt=""><p data-testid="front-page">Hi</p>',
    "good/style.css": "body { color: #222; }\n",
    "good/app.js": "console.log('hi');\n",
    "good/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>\n',
    "good/photo.png": "\x89PNG\r\n\x1a\n(not really a picture, but nginx only reads the name)",
    "missing/index.html": '<link rel="stylesheet" href="style.css"><script src="app.js"></script>',
    "missing/app.js": "1;\n",
    "spa/index.html": '<div id="app"></div><script src="/spa/assets/app.3f9a1c.js"></script>',
    "plain/index.html": '<link rel="stylesheet" href="style.css">',
    "plain/style.css": "body {}\n",
    "empty/index.html": '<link rel="stylesheet" href="style.css">',
    "empty/style.css": "",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Nginx:
    """A running nginx: its port and process."""

    port: int
    process: subprocess.Popen[bytes]
    root: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # nginx's fast shutdown
            self.process.wait(timeout=10)


def start_nginx(root: Path) -> Nginx:
    """Write the site and the configuration under ``root``, start nginx in the foreground, wait until it listens."""
    for name, text in SITE.items():
        path = root / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("latin-1"))
    (root / "tmp").mkdir(exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(CONF.format(root=root, port=port))
    process = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(root)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Nginx(port, process, root)
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"nginx did not listen on {port}: {(root / 'error.log').read_text(errors='replace')}")


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    server = start_nginx(tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture
def silent() -> Iterator[int]:
    """A port where the connection is accepted (by the kernel's backlog) and nothing is ever answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def probe(max_assets: int = 100) -> FrontendProbe:
    section = FrontendSection(pages=[FrontendPage(name="p", url="http://127.0.0.1/")], max_assets=max_assets)
    return FrontendProbe(section, HttpProbe(), CommandProbe(Path("."), None))


def page(url: str, timeout_s: float = 3) -> FrontendPage:
    return FrontendPage(name="p", url=url, timeout_s=timeout_s)


def fetch(url: str, timeout_s: float = 3, max_assets: int = 100) -> tuple[Any, Any]:
    p, frontend = page(url, timeout_s), probe(max_assets)
    fact = frontend.page(p)
    return fact, frontend.assets(p, fact)


# ------------------------------------------------------------------------------------ the page's references


def test_references_are_resolved_once_each_in_page_order() -> None:
    html = ('<base href="/app/v2/"><link rel="icon" href="data:,"><link rel="Preload Stylesheet" href="a.css">'
            '<link rel="stylesheet" href="https://cdn.example.org/b.css#x"><script src="../c.js"></script>'
            '<script>inline()</script><img src="data:image/png;base64,AA=="><img src=" d.png ">'
            '<a href="e.css">not an asset</a><link rel="stylesheet" href="a.css"><script src="javascript:void(0)">')

    found = references(html, "https://shop.example.org/index.html")

    assert found == [Asset("https://shop.example.org/app/v2/a.css", "stylesheet"),
                     Asset("https://cdn.example.org/b.css", "stylesheet"),
                     Asset("https://shop.example.org/app/c.js", "script"),
                     Asset("https://shop.example.org/app/v2/d.png", "image")]


# ------------------------------------------------------------------------------------ against the real nginx


def test_a_page_with_every_asset_present(nginx: Nginx) -> None:
    fact, assets = fetch(nginx.url("/good/"))

    assert fact.status == 200 and fact.header("X-Served-By") == "test-frontend" and 'data-testid="front-page"' in fact.body
    seen = {a.url.rsplit("/", 1)[1]: (a.kind, a.status, a.media_type, a.size) for a in assets.assets}
    size = {name.split("/", 1)[1]: len(text.encode("latin-1")) for name, text in SITE.items() if name.startswith("good/")}
    assert seen == {"style.css": ("stylesheet", 200, "text/css", size["style.css"]),
                    "app.js": ("script", 200, "application/javascript", size["app.js"]),
                    "logo.svg": ("image", 200, "image/svg+xml", size["logo.svg"]),
                    "photo.png": ("image", 200, "image/png", size["photo.png"])}, seen
    evidence = assets.evidence().splitlines()
    assert evidence[0] == f"4 asset(s) referenced by {nginx.url('/good/')} (stylesheets, scripts, images):"
    assert evidence[2].split() == ["200", "text/css", str(size["style.css"]), "B", "stylesheet",
                                   nginx.url("/good/style.css")], evidence
    assert repr(assets) == f"<4 assets of {nginx.url('/good/')}>"


def test_a_missing_asset_answers_404(nginx: Nginx) -> None:
    _, assets = fetch(nginx.url("/missing/"))

    assert [(a.url.rsplit("/", 1)[1], a.status) for a in assets.assets] == [("style.css", 404), ("app.js", 200)]


def test_a_single_page_app_fallback_answers_html_for_a_missing_script(nginx: Nginx) -> None:
    """Misconfigured the classic way: the missing bundle answers 200, with the page's HTML."""
    _, assets = fetch(nginx.url("/spa/"))

    (bundle,) = assets.assets
    assert (bundle.kind, bundle.status, bundle.media_type) == ("script", 200, "text/html"), bundle


def test_wrong_and_empty_content_is_observed(nginx: Nginx) -> None:
    _, plain = fetch(nginx.url("/plain/"))
    _, empty = fetch(nginx.url("/empty/"))

    assert [(a.status, a.content_type) for a in plain.assets] == [(200, "text/plain")]
    assert [(a.status, a.media_type, a.size) for a in empty.assets] == [(200, "text/css", 0)]


def test_assets_over_the_limit_are_listed_not_fetched(nginx: Nginx) -> None:
    _, assets = fetch(nginx.url("/good/"), max_assets=2)

    assert len(assets.assets) == 2 and assets.not_fetched == (nginx.url("/good/logo.svg"), nginx.url("/good/photo.png"))
    assert "not fetched (over max_assets): 2" in assets.evidence()


def test_nginx_stopped_is_a_refused_page(tmp_path: Path) -> None:
    server = start_nginx(tmp_path)
    server.stop()

    started = time.monotonic()
    fact, assets = fetch(server.url("/good/"))

    assert time.monotonic() - started < 2
    assert fact.status is None and "Connection refused" in (fact.error or ""), fact
    assert assets.assets == ()


def test_a_page_that_never_answers_is_bounded(silent: int) -> None:
    started = time.monotonic()
    fact = probe().page(page(f"http://127.0.0.1:{silent}/", timeout_s=1))

    assert 0.9 < time.monotonic() - started < 3
    assert fact.status is None and "timed out" in (fact.error or "").lower(), fact


def test_silent_assets_are_fetched_side_by_side_each_bounded(nginx: Nginx, silent: int) -> None:
    """A page whose three scripts are on a server that never answers: one timeout, not three."""
    html = "".join(f'<script src="http://127.0.0.1:{silent}/{n}.js"></script>' for n in range(3))
    (nginx.root / "site" / "silent").mkdir(exist_ok=True)
    (nginx.root / "site" / "silent" / "index.html").write_text(html)
    p, frontend = page(nginx.url("/silent/"), timeout_s=1), probe()
    fact = frontend.page(p)

    started = time.monotonic()
    assets = frontend.assets(p, fact)

    assert time.monotonic() - started < 2.5
    assert [a.status for a in assets.assets] == [None] * 3
    assert all("timed out" in (a.error or "").lower() for a in assets.assets), assets.assets
    assert "no answer after" in assets.evidence()


def test_the_page_is_fetched_once_per_session(nginx: Nginx) -> None:
    p, frontend = page(nginx.url("/good/")), probe()

    assert frontend.page(p) is frontend.page(p)


# ------------------------------------------------------------------------------------ the checks, end to end

CHECKS = (Path(__file__).resolve().parents[2] / "checks" / "test_frontend.py").read_text()
PROFILE = """
[environment]
release = "2.0.0"
public_variables = ["FRONT_URL"]

[frontend]
{service}
pages = [
    {{ name = "front", url = "${{FRONT_URL}}", headers = {{ "X-Served-By" = "^test-frontend$" }}, body = 'data-testid="front-page"', timeout_s = 1 }},
]
"""


def gate(run_gate: Any, url: str, service: str = "") -> Any:
    """The real checks/test_frontend.py in a pytest run of its own, on one page."""
    return run_gate({"test_frontend.py": CHECKS}, "-m", "postdeploy", profile=PROFILE.format(service=service),
                    environ={"FRONT_URL": url})


def test_the_gate_is_go_when_every_asset_is_served(run_gate: Any, nginx: Nginx) -> None:
    run = gate(run_gate, nginx.url("/good/"))

    assert run.gate["verdict"] == "GO", run.out
    assert [(e["id"], e["status"]) for e in run.gate["skipped"]] == [("frontend.config_valid", "not-applicable")]
    assert run.gate["counts"]["passed"] == 2


def test_a_spa_fallback_for_a_missing_bundle_is_no_go(run_gate: Any, nginx: Nginx) -> None:
    """The page answers, proves nothing about its origin, and its bundle answers HTML: both said, each once."""
    run = gate(run_gate, nginx.url("/spa/"))

    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO" and set(failed) == {"frontend.page_served[front]",
                                                             "frontend.assets_served[front]"}, run.out
    assert failed["frontend.page_served[front]"].startswith(
        "front origin: expected the headers and body marker [frontend] pages names, got no match for "
        "'data-testid=\"front-page\"' in the body"), failed
    assert failed["frontend.assets_served[front]"] == (
        "front assets: expected 200 and a fitting content type for each of the 1 asset(s) the page references, "
        f"got 1 failing: {nginx.url('/spa/assets/app.3f9a1c.js')}: 200 but text/html (a script needs "
        "text/javascript)"), failed
    assert f"look at: {nginx.url('/spa/')}" in run.out


def test_a_refused_page_fails_and_its_assets_are_dependent(run_gate: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    run = gate(run_gate, url)

    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO" and list(failed) == ["frontend.page_served[front]"], run.out
    assert failed["frontend.page_served[front]"].startswith("front status: expected 200, got no answer after "), failed
    assert "Connection refused" in failed["frontend.page_served[front]"]
    skipped = {e["id"]: e["status"] for e in run.gate["skipped"]}
    assert skipped["frontend.assets_served[front]"] == "dependent", skipped


def test_a_silent_frontend_fails_in_bounded_time(run_gate: Any, silent: int) -> None:
    started = time.monotonic()
    run = gate(run_gate, f"http://127.0.0.1:{silent}/")

    failed = {e["id"]: e for e in run.gate["failed"]}
    assert "timed out" in failed["frontend.page_served[front]"]["reason"].lower(), failed
    assert failed["frontend.page_served[front]"]["duration_s"] < 3
    assert time.monotonic() - started < 60


def test_a_configuration_test_without_docker_says_so(run_gate: Any, nginx: Nginx) -> None:
    run = gate(run_gate, nginx.url("/good/"), service='service = "frontend"')

    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert list(failed) == ["frontend.config_valid"], run.out
    assert failed["frontend.config_valid"] == (
        "configuration test ran: expected `nginx -t` to end within 30 s, got the profile has no [docker] table: "
        "gonogo cannot reach the service's container"), failed


# ------------------------------------------------------------------------------------ assets on other hosts (issue 22, item 12)

import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

#: a second loopback address (Linux routes all of 127.0.0.0/8 to lo): another host than the page's 127.0.0.1
CDN_ADDRESS = "127.0.0.2"


@dataclass
class Cdn:
    """A real HTTP server on another host than the page's, recording every request it receives."""

    port: int
    paths: list[str]

    def url(self, path: str, host: str = CDN_ADDRESS) -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def cdn() -> Iterator[Cdn]:
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            paths.append(self.path)
            body = b"console.log('cdn');\n" if self.path.endswith(".js") else b"body {}\n"
            self.send_response(404 if "missing" in self.path else 200)
            self.send_header("Content-Type", "text/javascript" if self.path.endswith(".js") else "text/css")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((CDN_ADDRESS, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Cdn(server.server_address[1], paths)
    server.shutdown()
    server.server_close()


def cdn_page(nginx: Nginx, cdn: Cdn, name: str, own: bool = True, host: str = CDN_ADDRESS) -> str:
    """A page of nginx's that loads a script and a stylesheet from ``cdn`` (and, with ``own``, its own stylesheet)."""
    html = ('<link rel="stylesheet" href="style.css">' if own else "") + (
        f'<script src="{cdn.url("/lib/jquery.min.js", host)}"></script>'
        f'<link rel="stylesheet" href="{cdn.url("/lib/theme.css", host)}"><p data-testid="front-page">Hi</p>')
    folder = nginx.root / "site" / name
    folder.mkdir(exist_ok=True)
    (folder / "index.html").write_text(html)
    (folder / "style.css").write_text("p { margin: 0; }\n")
    return nginx.url(f"/{name}/")


def assets_of(url: str, asset_hosts: list[str], resolve: dict[str, str] | None = None) -> Any:
    p = page(url)
    frontend = FrontendProbe(FrontendSection(pages=[p], asset_hosts=asset_hosts), HttpProbe(resolve=resolve or {}),
                             CommandProbe(Path("."), None))
    return frontend.assets(p, frontend.page(p))


def test_assets_on_another_host_are_listed_never_fetched(nginx: Nginx, cdn: Cdn) -> None:
    url = cdn_page(nginx, cdn, "cdn")

    assets = assets_of(url, [])

    assert [a.url for a in assets.assets] == [nginx.url("/cdn/style.css")], assets
    assert assets.elsewhere == (cdn.url("/lib/jquery.min.js"), cdn.url("/lib/theme.css"))
    assert assets.other_hosts == [CDN_ADDRESS]
    evidence = assets.evidence()
    assert "not fetched (on another host than the page's and [frontend] asset_hosts): 2" in evidence, evidence
    assert cdn.url("/lib/jquery.min.js") in evidence and cdn.url("/lib/theme.css") in evidence
    assert cdn.paths == [], "the other host received a request"


@pytest.mark.parametrize(("asset_hosts", "host", "resolve"), [
    ([CDN_ADDRESS], CDN_ADDRESS, None),
    (["*"], CDN_ADDRESS, None),
    ([".cdn.gonogo.test"], "static.cdn.gonogo.test", {"static.cdn.gonogo.test": CDN_ADDRESS}),
    (["static.cdn.gonogo.test"], "static.cdn.gonogo.test", {"static.cdn.gonogo.test": CDN_ADDRESS}),
], ids=["host", "every-host", "parent-domain", "name"])
def test_assets_on_a_listed_host_are_fetched(nginx: Nginx, cdn: Cdn, asset_hosts, host, resolve) -> None:
    url = cdn_page(nginx, cdn, "cdn-listed", host=host)

    assets = assets_of(url, asset_hosts, resolve)

    assert [(a.url, a.status) for a in assets.assets] == [
        (nginx.url("/cdn-listed/style.css"), 200), (cdn.url("/lib/jquery.min.js", host), 200),
        (cdn.url("/lib/theme.css", host), 200)], assets
    assert assets.elsewhere == ()
    assert sorted(cdn.paths) == ["/lib/jquery.min.js", "/lib/theme.css"]


def test_a_parent_domain_does_not_cover_a_lookalike(nginx: Nginx, cdn: Cdn) -> None:
    url = cdn_page(nginx, cdn, "cdn-lookalike", host="cdn.gonogo.test.evil")

    assets = assets_of(url, [".gonogo.test"], {"cdn.gonogo.test.evil": CDN_ADDRESS})

    assert len(assets.elsewhere) == 2 and cdn.paths == [], assets


@pytest.mark.parametrize(("value", "message"), [
    ('["https://cdn.example.org"]', "'https://cdn.example.org' is a URL: write its host alone ('cdn.example.org')"),
    ('["*.example.org"]', "'*.example.org' is a wildcard: write a parent domain as '.example.org' (the domain and "
                          "its subdomains); or '*' alone for every host"),
    ('["cdn.example.org/lib"]', "'cdn.example.org/lib' is not a host name: a host alone (no scheme, port or path), "
                                "or '.example.org' for a domain and its subdomains"),
], ids=["url", "wildcard", "path"])
def test_asset_hosts_that_are_no_hosts_are_one_profile_line_naming_the_key(tmp_path: Path, value: str,
                                                                           message: str) -> None:
    from gonogo.environment import ProfileError, load

    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.toml").write_text(
        f'[environment]\nrelease = "1"\n[frontend]\npages = [{{ name = "home", url = "https://shop.example.org/" }}]\n'
        f"asset_hosts = {value}\n")
    with pytest.raises(ProfileError) as caught:
        load("prod", "--env", tmp_path / "environments", tmp_path, {})
    assert str(caught.value) == f"environments/prod.toml: [frontend] asset_hosts: {message}"


CDN_PROFILE = """
[environment]
release = "2.0.0"
public_variables = ["FRONT_URL"]

[frontend]
pages = [{{ name = "front", url = "${{FRONT_URL}}", timeout_s = 2 }}]
{asset_hosts}
"""


def cdn_gate(run_gate: Any, url: str, asset_hosts: str = "") -> Any:
    return run_gate({"test_frontend.py": CHECKS}, "-m", "postdeploy", profile=CDN_PROFILE.format(asset_hosts=asset_hosts),
                    environ={"FRONT_URL": url})


def test_the_gate_judges_the_page_own_assets_and_never_asks_the_cdn(run_gate: Any, nginx: Nginx, cdn: Cdn) -> None:
    """A page with its own stylesheet and a CDN's script and theme: GO on its own asset; the CDN (another host,
    whose outage is not the release's) receives no request, and is listed in the evidence."""
    run = cdn_gate(run_gate, cdn_page(nginx, cdn, "cdn-gate"))

    assert run.gate["verdict"] == "GO", run.log
    assert run.gate["counts"]["passed"] == 2, run.gate["counts"]
    assert cdn.paths == [], "the CDN received a request"
    evidence = "".join(p.read_text(errors="replace") for p in run.allure_dir.iterdir() if p.suffix == ".txt")
    assert "not fetched (on another host than the page's and [frontend] asset_hosts): 2" in evidence


def test_a_page_whose_assets_are_all_elsewhere_says_so(run_gate: Any, nginx: Nginx, cdn: Cdn) -> None:
    run = cdn_gate(run_gate, cdn_page(nginx, cdn, "cdn-only", own=False))

    skipped = {e["id"]: e for e in run.gate["skipped"]}
    assert skipped["frontend.assets_served[front]"]["status"] == "not-applicable", run.log
    assert skipped["frontend.assets_served[front]"]["reason"] == (
        f"not applicable: every asset {nginx.url('/cdn-only/')} references is on another host (2 on {CDN_ADDRESS}, "
        "not fetched): [frontend] asset_hosts names the hosts whose assets are fetched"), run.log
    assert cdn.paths == []


def test_the_gate_fetches_a_listed_cdn_and_judges_its_assets(run_gate: Any, nginx: Nginx, cdn: Cdn) -> None:
    """With the CDN in asset_hosts, its assets are judged like the page's own: one it does not have fails."""
    url = cdn_page(nginx, cdn, "cdn-listed-gate")
    html = nginx.root / "site" / "cdn-listed-gate" / "index.html"
    html.write_text(html.read_text() + f'<script src="{cdn.url("/lib/missing.js")}"></script>')

    run = cdn_gate(run_gate, url, f'asset_hosts = ["{CDN_ADDRESS}"]')

    assert sorted(cdn.paths) == ["/lib/jquery.min.js", "/lib/missing.js", "/lib/theme.css"], run.log
    failed = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert list(failed) == ["frontend.assets_served[front]"], run.log
    assert failed["frontend.assets_served[front]"].startswith(
        "front assets: expected 200 and a fitting content type for each of the 4 asset(s) the page references, "
        f"got 1 failing: {cdn.url('/lib/missing.js')}: "), failed
