"""gonogo's benchmark: time to verdict, overhead, scale, start-up, a peer, unreachable targets, false alarms.

``python -m bench`` (``./run bench``, ``tox -e bench``) runs every section against the running sandbox
(``python -m sandbox up``; SANDBOX_STATE_DIR picks another instance) and writes ``bench/results.json``
and ``bench/results.md``: medians and spreads of ``--runs`` runs (default 5); ratios are measured side by
side in the same run. ``--only SECTION`` (repeatable) runs some sections; the others keep their last figures.

Sections: ``phases`` (time to verdict per phase, -n auto and serial, and the false-alarm series of
``--series`` runs per phase), ``overhead`` (200 health checks through gonogo against a plain loop with
requests), ``scale`` (postdeploy against generated stacks of 50 to 500 endpoints behind a real Traefik, Debian's nginx
behind it),
``startup`` (import and collection), ``peer`` (pytest-testinfra on the checks both can express),
``unreachable`` (every port closed, then every port blackholed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
WORK = BENCH / ".work"
RESULTS_JSON = BENCH / "results.json"
RESULTS_MD = BENCH / "results.md"
PY = sys.executable
#: each phase's selection; postdeploy without the browser flows is a partial postdeploy run (they are postdeploy checks
#: too: gonogo would say NO-GO "partial run" without --partial), measured apart from smoke
PHASES = {"predeploy": ["-m", "predeploy"], "postdeploy": ["-m", "postdeploy and not smoke", "--partial"],
          "smoke": ["-m", "smoke"], "rollback": ["-m", "rollback"]}
SECTIONS = ("startup", "overhead", "peer", "phases", "scale", "unreachable")


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


# ------------------------------------------------------------------------------------------- measuring


class PeakRss:
    """The peak of the summed RSS of a process and its Python descendants (pytest and its xdist workers;
    a browser left out), sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
                total = sum(p.memory_info().rss for p in procs if "python" in (p.name() or "").lower())
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self.thread.join()
        return self.peak / 2**20


def run(argv: list[str], env: dict[str, str] | None = None, cwd: Path = REPO, timeout: float = 900) -> dict[str, Any]:
    """Run a command; its wall time, peak RSS (MB), exit code and output."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    rss = PeakRss(proc.pid)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "rss_mb": rss.stop(), "code": proc.returncode, "out": out}


def gate(args: list[str], env: dict[str, str], name: str) -> dict[str, Any]:
    """One gonogo run (its own gate file and Allure folder under bench/.work); adds its verdict."""
    folder = WORK / "runs" / name
    result = run([PY, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, f"--gate-file={folder / 'gate.json'}",
                  f"--alluredir={folder / 'allure'}", f"--baseline={folder / 'baseline.json'}"], env)
    gate_file = folder / "gate.json"
    document = json.loads(gate_file.read_text()) if gate_file.is_file() else {}
    result["verdict"] = document.get("verdict", "none")
    result["reasons"] = document.get("reasons", [])[:5]
    return result


def stats(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "n": len(values)}


def sandbox_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SANDBOX_STATE_DIR", str(REPO / "sandbox" / ".state"))
    state = Path(env["SANDBOX_STATE_DIR"])
    if not (state / ".env.sandbox").is_file():
        raise SystemExit(f"no sandbox at {state}: run `python -m sandbox up` first (or set SANDBOX_STATE_DIR)")
    return env


def env_values(state: Path) -> dict[str, str]:
    values = {}
    for line in (state / ".env.sandbox").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -------------------------------------------------------------------------------------------- sections


def bench_phases(results: dict[str, Any], runs: int, series: int) -> None:
    """Time to verdict per phase (-n auto: the series' runs; serial: ``runs`` runs), and the NO-GOs of the series."""
    env = sandbox_env()
    figures: dict[str, Any] = {}
    false_no_go: list[dict[str, Any]] = []
    for phase, selection in PHASES.items():
        for mode, extra, count in (("auto", ["-n", "auto"], max(runs, series)), ("serial", [], runs)):
            walls, rss = [], []
            for i in range(count):
                r = gate([*selection, "--env", "sandbox", *extra], env, f"{phase}-{mode}-{i}")
                walls.append(r["wall_s"])
                rss.append(r["rss_mb"])
                if r["verdict"] not in ("GO", "GO-WITH-WARNINGS"):
                    false_no_go.append({"phase": phase, "mode": mode, "run": i, "verdict": r["verdict"], "reasons": r["reasons"]})
                    say(f"{phase} {mode} run {i}: {r['verdict']}: {r['reasons']}")
            figures[f"{phase}_{mode}"] = {**stats(walls), "peak_rss_mb": round(max(rss), 1)}
            say(f"{phase} ({mode}): median {figures[f'{phase}_{mode}']['median']:.1f} s over {count} runs")
    results["phases"] = figures
    results["false_no_go_runs"] = false_no_go
    results["series"] = series


def bench_startup(results: dict[str, Any], runs: int) -> None:
    """Import of the plugin, and collection of the whole suite with the sandbox profile."""
    env = sandbox_env()
    imports = [run([PY, "-X", "importtime", "-c", "import gonogo.plugin, gonogo.profile"], env)["wall_s"] for _ in range(runs)]
    collect = [run([PY, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "--env", "sandbox",
                    f"--gate-file={WORK / 'runs' / 'collect' / 'gate.json'}"], env)["wall_s"] for _ in range(runs)]
    results["startup"] = {"import": stats(imports), "collect": stats(collect)}
    say(f"start-up: import {statistics.median(imports):.2f} s, collection {statistics.median(collect):.2f} s")


def _overhead_setup(count: int, url: str, ca: str, envs: Path) -> str:
    """A profile of ``count`` [[health]] entries (``bench-overhead-<count>``) and the plain loop's code."""
    entries = "\n".join(f'[[health]]\nname = "live{i}"\nurl = "{url}"\njson = {{ status = "ok" }}\n' for i in range(count))
    (envs / f"bench-overhead-{count}.toml").write_text(
        f'[environment]\nname = "bench-overhead-{count}"\nrelease = "bench"\nresolve = {{ "shop.localhost" = "127.0.0.1" }}\n'
        f'ca_file = "{ca}"\n\n{entries}')
    return (f"import requests, requests.adapters, urllib3.util.connection as c\n"
            f"orig = c.create_connection\n"
            f"c.create_connection = lambda a, *k, **kw: orig(('127.0.0.1', a[1]), *k, **kw)\n"
            f"for _ in range({count}):\n"
            f"    with requests.Session() as s:\n"
            f"        r = s.get('{url}', verify='{ca}', timeout=5, allow_redirects=False)\n"
            f"        assert r.status_code == 200 and r.json()['status'] == 'ok'\n")


def bench_overhead(results: dict[str, Any], runs: int, count: int = 200) -> None:
    """``count`` health checks through gonogo (a profile of ``count`` [[health]] entries, serial and -n auto)
    against the same requests made by a plain loop with requests, on the sandbox's /health/live/ through Traefik;
    and both again with twice as many, which splits each side's time into a fixed start-up and a cost per check."""
    env = sandbox_env()
    values = env_values(Path(env["SANDBOX_STATE_DIR"]))
    port, ca = values["SANDBOX_HTTPS_PORT"], values.get("SANDBOX_CA_FILE", "")
    url = f"https://shop.localhost:{port}/health/live/"
    envs = WORK / "environments"
    envs.mkdir(parents=True, exist_ok=True)
    figures: dict[int, dict[str, list[float]]] = {}
    for n in (count, 2 * count):
        loop = _overhead_setup(n, url, ca, envs)
        plain, serial, parallel = [], [], []
        for i in range(runs):
            plain.append(run([PY, "-c", loop], env)["wall_s"])
            base = ["checks/test_health.py", "-k", "endpoint_healthy", "--partial", "--env", f"bench-overhead-{n}",
                    f"--environments-dir={envs.relative_to(REPO)}"]
            r = gate(base, env, f"overhead-{n}-serial-{i}")
            assert r["verdict"] == "GO", r["out"][-2000:]
            serial.append(r["wall_s"])
            if n == count:
                parallel.append(gate([*base, "-n", "auto"], env, f"overhead-{n}-auto-{i}")["wall_s"])
        figures[n] = {"plain": plain, "serial": serial, "auto": parallel}
    one, two = figures[count], figures[2 * count]
    med = statistics.median
    per_check = {side: round((med(two[side]) - med(one[side])) / count * 1000, 2) for side in ("plain", "serial")}
    fixed = {side: round(med(one[side]) - per_check[side] * count / 1000, 2) for side in ("plain", "serial")}
    results["overhead"] = {"requests": count, "plain_loop": stats(one["plain"]), "gonogo_serial": stats(one["serial"]),
                           "gonogo_auto": stats(one["auto"]),
                           "ratio_serial": round(med(one["serial"]) / med(one["plain"]), 2),
                           "ratio_auto": round(med(one["auto"]) / med(one["plain"]), 2),
                           "double": {"requests": 2 * count, "plain_loop": stats(two["plain"]),
                                      "gonogo_serial": stats(two["serial"])},
                           "per_check_ms": per_check, "fixed_s": fixed,
                           "ratio_per_check": round(per_check["serial"] / per_check["plain"], 2) if per_check["plain"] > 0 else None}
    say(f"overhead: plain {med(one['plain']):.2f} s, gonogo serial {med(one['serial']):.2f} s, "
        f"-n auto {med(one['auto']):.2f} s; per check {per_check['plain']} ms plain, {per_check['serial']} ms gonogo; "
        f"fixed {fixed['plain']} s plain, {fixed['serial']} s gonogo")


def bench_peer(results: dict[str, Any], runs: int) -> None:
    """pytest-testinfra and gonogo on the same four checks: a file's sha256, a port listening, a container
    running, an HTTP answer (the sandbox's release artefact, Traefik's HTTPS port, the web container, /health/live/)."""
    env = sandbox_env()
    state = Path(env["SANDBOX_STATE_DIR"])
    values = env_values(state)
    artefact = state / "artefacts" / f"boutique-{values['RELEASE']}.tar.gz"
    import hashlib

    digest = hashlib.sha256(artefact.read_bytes()).hexdigest()
    port, ca, engine = values["SANDBOX_HTTPS_PORT"], values.get("SANDBOX_CA_FILE", ""), values["SANDBOX_DOCKER_HOST"]
    url = f"https://shop.localhost:{port}/health/live/"
    envs = WORK / "environments"
    envs.mkdir(parents=True, exist_ok=True)
    (envs / "bench-peer.toml").write_text(f'''[environment]
name = "bench-peer"
release = "{values['RELEASE']}"
resolve = {{ "shop.localhost" = "127.0.0.1" }}
ca_file = "{ca}"

[docker]
host = "{engine}"
compose_project = "boutique-sandbox"
services = ["web"]
restart_watch_s = 0

[host]
ports = [{{ name = "https", port = {port}, host = "127.0.0.1" }}]
artefacts = [{{ name = "release", path = "{artefact}", sha256 = "{digest}" }}]

[[health]]
name = "live"
url = "{url}"
json = {{ status = "ok" }}
''')
    peer = WORK / "peer"
    peer.mkdir(parents=True, exist_ok=True)
    (peer / "test_peer.py").write_text(f'''import json
import os

os.environ["DOCKER_HOST"] = "{engine}"


def test_file_digest(host):
    assert host.file("{artefact}").sha256sum == "{digest}"


def test_port_listening(host):
    assert host.socket("tcp://127.0.0.1:{port}").is_listening


def test_container_running(host):
    assert host.docker("boutique-sandbox-web-1").is_running


def test_http_answer(host):
    out = host.check_output("curl -s --max-time 5 --cacert {ca} --resolve shop.localhost:{port}:127.0.0.1 {url}")
    assert json.loads(out)["status"] == "ok"
''')
    (peer / "pytest.ini").write_text("[pytest]\n")
    theirs, ours = [], []
    for i in range(runs):
        r = run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:gonogo", "-p", "no:xdist", "test_peer.py"],
                {**env, "DOCKER_HOST": engine}, cwd=peer)
        assert r["code"] == 0, r["out"][-2000:]
        theirs.append(r["wall_s"])
        g = gate(["checks/test_host.py", "checks/test_containers.py", "checks/test_health.py", "-k",
                  "artefact_ready or port_as_expected or service_healthy or endpoint_healthy", "--partial",
                  "--env", "bench-peer", f"--environments-dir={envs.relative_to(REPO)}"], env, f"peer-{i}")
        assert g["verdict"] == "GO", g["out"][-3000:]
        ours.append(g["wall_s"])
    results["peer"] = {"testinfra": stats(theirs), "gonogo": stats(ours),
                       "ratio": round(statistics.median(ours) / statistics.median(theirs), 2)}
    say(f"peer: testinfra {statistics.median(theirs):.2f} s, gonogo {statistics.median(ours):.2f} s")


# ------------------------------------------------------------------------------------------------ scale


def _ca_and_leaf(folder: Path, names: list[str]) -> tuple[Path, Path, Path]:
    """A CA and a leaf certificate for ``names`` (PEM files in ``folder``): what the bench's Traefik serves."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gonogo bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return paths


APP = '''
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"status": "ok", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_HEAD = do_GET
    def log_message(self, *a):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


NGINX_CONF = '''
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ default_type application/json; return 200 '{{"status": "ok"}}'; }}
    }}
}}
'''


def _backend(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """The synthetic stack's application: Debian's nginx answering every path with a JSON status (a real
    stack's backends are not a Python stdlib server, which would be the bottleneck here), or that server
    when nginx is missing."""
    nginx = "/usr/sbin/nginx"
    if not Path(nginx).is_file():
        return subprocess.Popen([PY, "-c", APP, str(port)], stdin=subprocess.DEVNULL)
    root = folder / "nginx"
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    return subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def bench_scale(results: dict[str, Any], runs: int, sizes: list[int]) -> None:
    """Postdeploy against generated stacks: ``size`` endpoints of a local server behind a real Traefik with
    ``size`` routers; wall time and peak RSS of the pytest processes with -n auto."""
    sys.path.insert(0, str(REPO))
    from sandbox.processes import traefik_binary

    folder = WORK / "scale"
    names = [f"r{i}.bench.localhost" for i in range(max(sizes))]
    ca, cert, key = _ca_and_leaf(folder / "tls", ["bench.localhost", "*.bench.localhost"])
    app_port, https, http, api = free_port(), free_port(), free_port(), free_port()
    app = _backend(folder, app_port)
    scale: list[dict[str, Any]] = []
    try:
        _wait_port(app_port)
        for size in sizes:
            dynamic = folder / f"dynamic-{size}"
            dynamic.mkdir(parents=True, exist_ok=True)
            routers = "".join(f"    r{i}:\n      rule: \"Host(`{names[i]}`)\"\n      entryPoints: [websecure]\n"
                              f"      service: s{i}\n      tls: {{}}\n" for i in range(size))
            services = "".join(f"    s{i}:\n      loadBalancer:\n        healthCheck:\n          path: /health/{i}/\n"
                               f"          interval: 10s\n        servers:\n          - url: \"http://127.0.0.1:{app_port}\"\n"
                               for i in range(size))
            (dynamic / "routers.yml").write_text(f"http:\n  routers:\n{routers}  services:\n{services}"
                                                 f"tls:\n  certificates:\n    - certFile: {cert}\n      keyFile: {key}\n")
            static = folder / f"traefik-{size}.yml"
            static.write_text(f"""entryPoints:
  web:
    address: "127.0.0.1:{http}"
  websecure:
    address: "127.0.0.1:{https}"
  traefik:
    address: "127.0.0.1:{api}"
api:
  insecure: true
  dashboard: false
ping:
  entryPoint: traefik
global:
  checkNewVersion: false
  sendAnonymousUsage: false
providers:
  file:
    directory: "{dynamic}"
""")
            proxy = subprocess.Popen([traefik_binary(), f"--configFile={static}"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait_port(https)
                _wait_routers(api, size)
                envs = WORK / "environments"
                envs.mkdir(parents=True, exist_ok=True)
                resolve = ", ".join(f'"{n}" = "127.0.0.1"' for n in names[:size])
                health = "".join(f'[[health]]\nname = "e{i}"\nurl = "https://{names[i]}:{https}/health/{i}/"\n'
                                 f'json = {{ status = "ok" }}\n\n' for i in range(size))
                routes = "".join(f'[[traefik.routers]]\nname = "r{i}@file"\nrule_host = "{names[i]}"\npath = "/health/{i}/"\n'
                                 f'service = "s{i}"\nservers = ["http://127.0.0.1:{app_port}"]\n'
                                 f'expect_headers = {{ "Content-Type" = "^application/json" }}\n\n' for i in range(size))
                (envs / f"bench-scale-{size}.toml").write_text(
                    f'[environment]\nname = "bench-scale-{size}"\nrelease = "bench"\nresolve = {{ {resolve} }}\n'
                    f'ca_file = "{ca}"\n\n{health}[traefik]\napi = "http://127.0.0.1:{api}"\nhttps_port = {https}\n'
                    f'http_port = {http}\n\n{routes}')
                walls, rss, checks = [], [], 0
                for i in range(runs):
                    r = gate(["-m", "postdeploy and not smoke", "--partial", "--env", f"bench-scale-{size}", "-n", "auto",
                              f"--environments-dir={envs.relative_to(REPO)}"], dict(os.environ), f"scale-{size}-{i}")
                    if r["verdict"] != "GO":
                        say(f"scale {size}: {r['verdict']}: {r['reasons']}")
                    walls.append(r["wall_s"])
                    rss.append(r["rss_mb"])
                    document = json.loads((WORK / "runs" / f"scale-{size}-{i}" / "gate.json").read_text())
                    checks = document["counts"]["selected"]
                scale.append({"endpoints": size, "wall_s": round(statistics.median(walls), 2),
                              "wall_spread_s": [round(min(walls), 2), round(max(walls), 2)],
                              "peak_rss_mb": round(max(rss), 1), "checks": checks, "verdict": r["verdict"]})
                say(f"scale {size}: {statistics.median(walls):.1f} s, {max(rss):.0f} MB, {checks} checks")
            finally:
                proxy.terminate()
                proxy.wait(timeout=20)
    finally:
        app.terminate()
        app.wait(timeout=20)
    for smaller, larger in zip(scale, scale[1:]):
        larger["growth_vs_previous"] = round(larger["wall_s"] / smaller["wall_s"], 2)
        larger["size_ratio_vs_previous"] = round(larger["endpoints"] / smaller["endpoints"], 2)
    results["scale"] = scale


def _wait_routers(api: int, size: int, timeout: float = 60) -> None:
    """Until Traefik has loaded ``size`` routers and every service's server is UP (a health-checked
    server answers 503 through the entrypoint until its first health check passed)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{api}/api/overview", timeout=2) as answer:
                loaded = json.load(answer)["http"]["routers"]["total"] >= size
            with urllib.request.urlopen(f"http://127.0.0.1:{api}/api/http/services?per_page=10000", timeout=5) as answer:
                up = sum(1 for s in json.load(answer) if s.get("name", "").startswith("s")
                         and set((s.get("serverStatus") or {}).values()) == {"UP"})
            if loaded and up >= size:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"Traefik did not load {size} routers with their servers UP within {timeout} s")


# ------------------------------------------------------------------------------------------ unreachable


def _blackhole(port: int, stop: threading.Event) -> threading.Thread:
    """A listener that accepts every connection and never answers (a blackholed target)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(512)
    server.settimeout(0.2)
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue
        for s in held:
            s.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def bench_unreachable(results: dict[str, Any]) -> None:
    """Each phase against the sandbox's profile with every network target moved: to ports nothing listens on,
    then to one that accepts and never answers. The time to the NO-GO, and that it is one."""
    env = sandbox_env()
    state = Path(env["SANDBOX_STATE_DIR"])
    text = (state / ".env.sandbox").read_text()
    values = env_values(state)
    ports = {v for k, v in values.items() if k.endswith("_PORT") and v.isdigit()}
    ports |= set(re.findall(r"127\.0\.0\.1:(\d+)", text))
    figures: dict[str, Any] = {}
    for mode in ("closed", "blackholed"):
        fake = Path(tempfile.mkdtemp(prefix=f"gonogo-bench-{mode}-", dir=WORK))
        for entry in state.iterdir():
            if entry.name != ".env.sandbox":
                (fake / entry.name).symlink_to(entry)
        target = free_port()
        stop = threading.Event()
        listener = _blackhole(target, stop) if mode == "blackholed" else None
        moved = text
        for port in sorted(ports, key=len, reverse=True):
            moved = re.sub(rf"(?<!\d){port}(?!\d)", str(target), moved)
        moved = re.sub(r"^SANDBOX_DOCKER_HOST=.*$", f"SANDBOX_DOCKER_HOST=tcp://127.0.0.1:{target}", moved, flags=re.M)
        (fake / ".env.sandbox").write_text(moved)
        phase_env = {**env, "SANDBOX_STATE_DIR": str(fake)}
        for phase, selection in PHASES.items():
            r = gate([*selection, "--env", "sandbox", "-n", "auto"], phase_env, f"unreachable-{mode}-{phase}")
            figures[f"{phase}_{mode}"] = {"wall_s": round(r["wall_s"], 1), "verdict": r["verdict"]}
            say(f"unreachable ({mode}) {phase}: {r['verdict']} in {r['wall_s']:.1f} s")
        stop.set()
        if listener:
            listener.join(timeout=5)
    results["unreachable"] = figures


# ---------------------------------------------------------------------------------------------- results


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """The keys the issue asks for, from the sections' figures."""
    phases = results.get("phases", {})
    out: dict[str, Any] = {}
    for phase in PHASES:
        if f"{phase}_auto" in phases:
            out[f"{phase}_s"] = phases[f"{phase}_auto"]["median"]
            out[f"{phase}_s_serial"] = phases[f"{phase}_serial"]["median"]
    if "overhead" in results:
        out["overhead_ratio"] = results["overhead"]["ratio_serial"]
        if results["overhead"].get("ratio_per_check") is not None:
            out["overhead_ratio_per_check"] = results["overhead"]["ratio_per_check"]
        out["overhead_ratio_auto"] = results["overhead"]["ratio_auto"]
    if "startup" in results:
        out["startup_s"] = results["startup"]["collect"]["median"]
        out["import_s"] = results["startup"]["import"]["median"]
    rss = [v["peak_rss_mb"] for k, v in phases.items() if not k.startswith("smoke")]
    if rss:
        out["peak_rss_mb"] = max(rss)
    if "unreachable" in results:
        out["unreachable_nogo_s"] = max(v["wall_s"] for v in results["unreachable"].values())
    if "phases" in results:
        out["false_no_go"] = len(results.get("false_no_go_runs", []))
    if "peer" in results:
        out["testinfra_ratio"] = results["peer"]["ratio"]
    if "scale" in results:
        out["scale"] = [{"endpoints": s["endpoints"], "wall_s": s["wall_s"], "peak_rss_mb": s["peak_rss_mb"]}
                        for s in results["scale"]]
    return out


TARGETS = {"predeploy_s": 5, "postdeploy_s": 5, "smoke_s": 20, "rollback_s": 10, "overhead_ratio": 1.3, "startup_s": 1.5,
           "peak_rss_mb": 300, "unreachable_nogo_s": 60, "false_no_go": 0}


def write_markdown(results: dict[str, Any]) -> None:
    s = results["summary"]
    lines = ["# gonogo benchmark", "", f"Measured {results['measured_at']} on {results['machine']}, "
             f"at commit {results.get('commit', 'unknown')}, with `{results['command']}`.", "",
             "| figure | value | target | met |", "|---|---|---|---|"]
    for key, target in TARGETS.items():
        if key in s:
            met = s[key] <= target
            lines.append(f"| `{key}` | {s[key]} | ≤ {target} | {'yes' if met else '**no**'} |")
    for key in ("predeploy_s_serial", "postdeploy_s_serial", "smoke_s_serial", "rollback_s_serial", "import_s",
                "overhead_ratio_auto", "overhead_ratio_per_check", "testinfra_ratio"):
        if key in s:
            lines.append(f"| `{key}` | {s[key]} | | |")
    if "phases" in results:
        lines += ["", "## Time to verdict (seconds; median, min, max)", "", "| phase | mode | median | min | max | runs | peak RSS MB |",
                  "|---|---|---|---|---|---|---|"]
        for key, v in results["phases"].items():
            phase, _, mode = key.rpartition("_")
            lines.append(f"| {phase} | {'-n auto' if mode == 'auto' else 'serial'} | {v['median']} | {v['min']} | {v['max']} | "
                         f"{v['n']} | {v['peak_rss_mb']} |")
        lines += ["", f"False alarms: {s.get('false_no_go', 0)} NO-GO in {results['series']} consecutive runs of each phase "
                      "with -n auto on the healthy sandbox."]
        for f in results.get("false_no_go_runs", []):
            lines.append(f"- {f['phase']} ({f['mode']}) run {f['run']}: {f['verdict']}: {'; '.join(f['reasons'])}")
    if "overhead" in results:
        o = results["overhead"]
        lines += ["", f"## Overhead: {o['requests']} health checks", "",
                  f"A plain loop with requests: {o['plain_loop']['median']} s; gonogo serial: {o['gonogo_serial']['median']} s "
                  f"(ratio {o['ratio_serial']}); gonogo -n auto: {o['gonogo_auto']['median']} s (ratio {o['ratio_auto']}). "
                  "gonogo's figure includes pytest's start-up, collection, the profile and the verdict."]
        if "per_check_ms" in o:
            d = o["double"]
            lines += ["", f"With {d['requests']} checks: plain {d['plain_loop']['median']} s, gonogo serial "
                      f"{d['gonogo_serial']['median']} s. Split into a fixed cost and a cost per check (the two sizes' "
                      f"difference): plain {o['fixed_s']['plain']} s + {o['per_check_ms']['plain']} ms per request; "
                      f"gonogo {o['fixed_s']['serial']} s + {o['per_check_ms']['serial']} ms per check "
                      f"(ratio per check {o['ratio_per_check']})."]
    if "scale" in results:
        lines += ["", "## Scale: postdeploy with -n auto, endpoints behind a real Traefik with as many routers", "",
                  "| endpoints | checks | wall s (median) | spread | peak RSS MB | growth vs previous size |", "|---|---|---|---|---|---|"]
        for row in results["scale"]:
            growth = f"x{row['growth_vs_previous']} for x{row['size_ratio_vs_previous']} endpoints" if "growth_vs_previous" in row else ""
            lines.append(f"| {row['endpoints']} | {row['checks']} | {row['wall_s']} | {row['wall_spread_s']} | {row['peak_rss_mb']} | {growth} |")
    if "startup" in results:
        st = results["startup"]
        lines += ["", "## Start-up", "", f"`import gonogo.plugin, gonogo.profile`: {st['import']['median']} s; "
                  f"`pytest --collect-only --env sandbox` (the whole suite): {st['collect']['median']} s."]
    if "peer" in results:
        p = results["peer"]
        lines += ["", "## A peer: pytest-testinfra", "", "The same four checks (a file's sha256, a port listening, a "
                  "container running, an HTTP answer) against the same targets: testinfra "
                  f"{p['testinfra']['median']} s, gonogo {p['gonogo']['median']} s (ratio {p['ratio']})."]
    if "unreachable" in results:
        lines += ["", "## Unreachable target (-n auto)", "", "| phase | every port closed | every port blackholed |", "|---|---|---|"]
        u = results["unreachable"]
        for phase in PHASES:
            c, b = u.get(f"{phase}_closed", {}), u.get(f"{phase}_blackholed", {})
            lines.append(f"| {phase} | {c.get('verdict')} in {c.get('wall_s')} s | {b.get('verdict')} in {b.get('wall_s')} s |")
    RESULTS_MD.write_text("\n".join(lines) + "\n")


def _commit() -> str:
    """The commit measured (with "+changes" when the work tree differs from it)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gonogo", "checks", "smoke", "bench"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+changes" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median and spread; default 5)")
    parser.add_argument("--series", type=int, default=20, help="consecutive runs per phase for false alarms (default 20)")
    parser.add_argument("--sizes", default="50,100,200,500", help="endpoints of the synthetic stacks")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = json.loads(RESULTS_JSON.read_text()).get("sections", {}) if RESULTS_JSON.is_file() and args.only else {}
    chosen = args.only or list(SECTIONS)
    t0 = time.perf_counter()
    if "startup" in chosen:
        bench_startup(results, args.runs)
    if "overhead" in chosen:
        bench_overhead(results, args.runs)
    if "peer" in chosen:
        bench_peer(results, args.runs)
    if "phases" in chosen:
        bench_phases(results, args.runs, args.series)
    if "scale" in chosen:
        bench_scale(results, args.runs, [int(s) for s in args.sizes.split(",")])
    if "unreachable" in chosen:
        bench_unreachable(results)
    cpu = platform.processor() or platform.machine()
    document = {**summary(results), "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "machine": f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}",
                "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
                "commit": _commit(),
                "took_s": round(time.perf_counter() - t0, 1), "sections": results}
    RESULTS_JSON.write_text(json.dumps(document, indent=2) + "\n")
    write_markdown({**results, **{k: document[k] for k in ("measured_at", "machine", "command", "commit")},
                    "summary": summary(results), "series": results.get("series", args.series)})
    say(f"wrote {RESULTS_JSON.relative_to(REPO)} and {RESULTS_MD.relative_to(REPO)} in {document['took_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
