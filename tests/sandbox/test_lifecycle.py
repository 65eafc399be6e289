"""`up`, the stack it brings up, `deploy` / `rollback`, `backup`, the env file and the catalogue."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from sandbox.faults import CATALOGUE

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
APP_HOST = "shop.localhost"


def test_up_reaches_healthy(sandbox: "Sandbox") -> None:
    sandbox.assert_healthy()
    status = json.loads(sandbox.cli("status", "--json").stdout)
    assert status["up"] is True
    for name in ("postgres", "redis", "traefik", "dockerd", "dnsmasq"):
        assert status["processes"][name]["pid"], name
    state = sandbox.state
    assert state["current"] and state["previous"] and state["current"] != state["previous"]
    versions = {state["releases"][state["current"]], state["releases"][state["previous"]]}
    assert versions == {"1.0.0", "1.1.0"}
    assert state["releases"][state["current"]] == "1.1.0", "up defaults to the newest release"


def test_https_ready_through_traefik(sandbox: "Sandbox") -> None:
    v = sandbox.values
    url = f"https://{APP_HOST}:{v['SANDBOX_HTTPS_PORT']}/health/ready/"
    # curl resolves *.localhost itself (no DNS) and verifies against the sandbox CA
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run([curl, "-sS", "--cacert", v["SANDBOX_CA_FILE"], "-o", "/dev/null", "-w", "%{http_code}",
                              "--max-time", "10", url], capture_output=True, text=True)
        assert out.stdout == "200", out.stderr
    r = sandbox.ready()
    assert r.status == 200
    body = r.json()
    assert body["status"] == "ok" and body["release"] == sandbox.state["current"]
    assert body["components"]["database"]["status"] == "ok" and body["components"]["redis"]["status"] == "ok"
    # the certificate (verified against the sandbox CA): SANs shop.localhost, localhost, 127.0.0.1
    from cryptography import x509

    from sandbox import probes

    cert = probes.served_certificate(sandbox.values)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(n.value) for n in sans}
    assert {"shop.localhost", "localhost", "127.0.0.1"} <= names


def test_http_redirects_to_https(sandbox: "Sandbox") -> None:
    import http.client

    v = sandbox.values
    conn = http.client.HTTPConnection("127.0.0.1", int(v["SANDBOX_HTTP_PORT"]), timeout=5)
    conn.request("GET", "/health/ready/", headers={"Host": f"{APP_HOST}:{v['SANDBOX_HTTP_PORT']}"})
    resp = conn.getresponse()
    assert resp.status in (301, 308)
    assert resp.getheader("Location") == f"https://{APP_HOST}:{v['SANDBOX_HTTPS_PORT']}/health/ready/"


def test_traefik_api_routers_and_health_checks(sandbox: "Sandbox") -> None:
    import urllib.request

    api = f"http://127.0.0.1:{sandbox.values['SANDBOX_TRAEFIK_API_PORT']}"
    with urllib.request.urlopen(f"{api}/api/http/routers", timeout=5) as r:
        routers = {x["name"]: x for x in json.load(r)}
    with urllib.request.urlopen(f"{api}/api/http/services", timeout=5) as r:
        services = {x["name"]: x for x in json.load(r)}
    for name in ("boutique-web@file", "boutique-ws@file"):
        assert routers[name]["status"] == "enabled"
        assert f"Host(`{APP_HOST}`)" in routers[name]["rule"]
        svc = services[routers[name]["service"] + "@file"]
        assert svc["loadBalancer"]["healthCheck"]["path"] == "/health/live/"
        assert set(svc["serverStatus"].values()) == {"UP"}
    assert "/ws/" in routers["boutique-ws@file"]["rule"]
    static = yaml.safe_load((sandbox.state_dir / "traefik" / "traefik.yml").read_text())
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    assert all(ep["address"].startswith("127.0.0.1:") for ep in static["entryPoints"].values())
    assert "docker" not in static["providers"]


def test_websocket_upgrades(sandbox: "Sandbox") -> None:
    from sandbox import probes

    status, line = probes.websocket_upgrade(sandbox.values)
    assert status == 101, line


def test_containers_follow_compose(sandbox: "Sandbox") -> None:
    for service in ("web", "worker", "migrations", "frontend"):
        c = sandbox.container(service)
        labels = c.labels
        assert labels["com.docker.compose.project"] == "boutique-sandbox"
        assert labels["com.docker.compose.service"] == service
        host = c.attrs["HostConfig"]
        assert host["NetworkMode"] == "host"
        expected_restart = "no" if service == "migrations" else "unless-stopped"
        assert (host["RestartPolicy"]["Name"] or "no") == expected_restart
        if service != "migrations":
            assert c.attrs["Config"]["Healthcheck"]["Test"][0] in ("CMD", "CMD-SHELL")
        env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
        assert env["RELEASE"] == sandbox.image_tag(service)
    image = sandbox.docker.images.get(f"boutique/web:{sandbox.state['current']}")
    assert image.labels["org.opencontainers.image.version"] == "1.1.0"
    assert len(sandbox.state["current"]) == 7


def test_env_file_generated_and_kept(sandbox: "Sandbox") -> None:
    before = (sandbox.state_dir / ".env.sandbox").read_text()
    v = sandbox.values
    assert len(v["SECRET_KEY"]) >= 50 and "CHANGE_ME" not in before
    assert v["DEBUG"] == "False"
    assert v["RELEASE"] == sandbox.state["current"] and v["PREVIOUS_RELEASE"] == sandbox.state["previous"]
    again = sandbox.cli("up", label="up (already up)")
    assert again.elapsed < 60
    after = (sandbox.state_dir / ".env.sandbox").read_text()
    assert after == before, "a second `up` must keep the env file"
    sandbox.assert_healthy()


def test_readonly_role_and_scratch_db(sandbox: "Sandbox") -> None:
    assert sandbox.sql("SHOW default_transaction_read_only") == [("on",)]
    assert sandbox.sql("SELECT count(*) FROM shop_product")[0][0] > 0
    import psycopg

    with psycopg.connect(sandbox.values["SCRATCH_DATABASE_URL"], connect_timeout=3) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("boutique_restore_scratch",)


def test_backup_command(sandbox: "Sandbox") -> None:
    before = set(sandbox.backups_dir.glob("boutique_sandbox_*.sql.gz"))
    sandbox.cli("backup")
    new = set(sandbox.backups_dir.glob("boutique_sandbox_*.sql.gz")) - before
    assert len(new) == 1
    dump = new.pop()
    sidecar = dump.with_name(dump.name + ".sha256").read_text().split()
    assert sidecar == [sandbox.sha256(dump), dump.name]
    assert sandbox.gzip_ok(dump)
    manifest = json.loads((sandbox.backups_dir / "manifest.json").read_text())
    assert dump.name in [f["name"] for f in manifest["files"]]


def test_deploy_and_rollback_move_every_service(sandbox: "Sandbox") -> None:
    state = sandbox.state
    current, previous = state["current"], state["previous"]
    services = ("web", "worker", "migrations", "frontend")
    sales_before = sandbox.sql("SELECT count(*) FROM shop_sale")[0][0]

    sandbox.cli("deploy", previous, label=f"deploy {previous} ({state['releases'][previous]})")
    assert {s: sandbox.image_tag(s) for s in services} == dict.fromkeys(services, previous)
    assert sandbox.state["current"] == previous and sandbox.state["previous"] == current
    assert sandbox.values["RELEASE"] == previous
    sandbox.assert_healthy()
    assert sandbox.ready().json()["release"] == previous
    assert f'data-release="{previous}"' in sandbox.https("GET", "/").text, "the frontend serves that release's page"

    # something written on the other release, undone by restoring the pre-deploy backup
    s = sandbox.session()
    assert sandbox.record_sale(s).status == 200
    assert sandbox.sql("SELECT count(*) FROM shop_sale")[0][0] == sales_before + 1

    sandbox.cli("rollback", "--restore-db", label="rollback --restore-db")
    assert {s: sandbox.image_tag(s) for s in services} == dict.fromkeys(services, current)
    assert sandbox.state["current"] == current and sandbox.state["previous"] == previous
    sandbox.assert_healthy()
    assert sandbox.ready().json()["release"] == current
    assert sandbox.sql("SELECT count(*) FROM shop_sale")[0][0] == sales_before


def test_faults_lists_the_catalogue(sandbox: "Sandbox") -> None:
    out = sandbox.cli("faults").stdout.strip().splitlines()
    names = [line.split()[0] for line in out]
    assert sorted(names) == sorted(CATALOGUE) and len(names) == len(set(names)) >= 37
    assert all(len(line.split(None, 1)) == 2 for line in out), "one line each: name and description"


def test_missing_prerequisite_is_one_clear_line(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "SANDBOX_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "sandbox", "up"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "redis-server" in lines[0] and "apt-get install" in lines[0]


@pytest.mark.parametrize("command", [["heal", "no-such-fault"], ["fault", "no-such-fault"], ["deploy", "9.9.9"]])
def test_bad_arguments_are_one_clear_line(sandbox: "Sandbox", command: list[str]) -> None:
    proc = sandbox.cli(*command, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
