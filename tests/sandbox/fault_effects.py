"""What each fault of the catalogue does, seen with a direct probe (sockets, HTTPS to 127.0.0.1, the Docker
API, PostgreSQL, the files), never through gonogo: ``FAULTS[name] = (before, broken, healed)``.

``before(sb)`` returns a context (what the probes compare with), ``broken(sb, ctx)`` asserts the fault's
effect while it is applied, ``healed(sb, ctx)`` asserts it gone after the heal. The fault matrix
(test_fault_matrix.py) observes a fault this way in the first row that applies it alone, around the
gate's run; test_faults.py observes the faults no row applies alone.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
import socket
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import docker.errors
import pytest

if TYPE_CHECKING:
    from conftest import Sandbox


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _ready_component_down(sb: "Sandbox", component: str) -> None:
    r = sb.ready()
    assert r.status == 503, r.status
    body = r.json()
    assert body["status"] == "unavailable" and body["components"][component]["status"] == "down", body


def _shop_migrations(sb: "Sandbox") -> list[str]:
    return [row[0] for row in sb.sql("SELECT name FROM django_migrations WHERE app = 'shop' ORDER BY name")]


def _newest_set(sb: "Sandbox") -> tuple[Any, Any]:
    dump = sb.newest_dump()
    ts = re.search(r"_(\d{8}T\d{6}Z)\.sql\.gz$", dump.name).group(1)
    return dump, sb.backups_dir / f"media_sandbox_{ts}.tar.gz"


def _sidecar_ok(path) -> bool:
    side = path.with_name(path.name + ".sha256")
    digest, name = side.read_text().split()
    return name == path.name and digest == hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------- probes
# Each fault: before(sb) -> ctx (optional), broken(sb, ctx) asserts the effect, healed(sb, ctx).

def before_none(sb: "Sandbox") -> dict:
    return {}


def db_down_broken(sb, ctx):
    assert _refused(int(sb.values["SANDBOX_PG_PORT"]))
    _ready_component_down(sb, "database")


def db_down_healed(sb, ctx):
    assert not _refused(int(sb.values["SANDBOX_PG_PORT"]))


def redis_down_broken(sb, ctx):
    assert not _redis_ping(int(sb.values["SANDBOX_REDIS_PORT"]))
    _ready_component_down(sb, "redis")


def redis_down_healed(sb, ctx):
    assert _redis_ping(int(sb.values["SANDBOX_REDIS_PORT"]))


def body_unhealthy_broken(sb, ctx):
    r = sb.ready()
    body = r.json()
    assert r.status == 200 and body["status"] == "degraded" and body["components"]["redis"]["status"] == "down"
    assert _redis_ping(int(sb.values["SANDBOX_REDIS_PORT"])), "redis itself is fine"


def pending_before(sb):
    return {"applied": _shop_migrations(sb)}


def pending_broken(sb, ctx):
    now = _shop_migrations(sb)
    assert now == ctx["applied"][:-1], (now, ctx["applied"])


def pending_healed(sb, ctx):
    assert _shop_migrations(sb) == ctx["applied"]


def migrations_failed_broken(sb, ctx):
    st = sb.container("migrations").attrs["State"]
    assert st["Status"] == "exited" and st["ExitCode"] != 0, st
    assert "password authentication failed" in sb.container("migrations").logs().decode(errors="replace")


def mixed_broken(sb, ctx):
    tags = {s: sb.image_tag(s) for s in ("web", "worker", "migrations")}
    assert tags["worker"] == sb.state["previous"] and tags["web"] == sb.state["current"], tags
    assert sb.health("worker") in ("healthy", "starting")


def prm_broken(sb, ctx):
    prev = sb.state["previous"]
    with pytest.raises(docker.errors.ImageNotFound):
        sb.docker.images.get(f"boutique/web:{prev}")
    assert sb.docker.images.get(f"boutique-quarantine/web:{prev}")
    assert sb.docker.images.get(f"boutique/worker:{prev}")


def prm_healed(sb, ctx):
    prev = sb.state["previous"]
    assert sb.docker.images.get(f"boutique/web:{prev}")
    with pytest.raises(docker.errors.ImageNotFound):
        sb.docker.images.get(f"boutique-quarantine/web:{prev}")


def restart_loop_broken(sb, ctx):
    def looping():
        c = sb.container("worker")
        assert c.attrs.get("RestartCount", 0) >= 1 or c.attrs["State"].get("Restarting"), c.attrs["State"]
        return True
    sb.eventually(looping, timeout=15, what="the worker restarting")
    assert sb.health("worker") != "healthy"


def restart_loop_healed(sb, ctx):
    assert sb.container("worker").attrs.get("RestartCount", 0) == 0


def unhealthy_broken(sb, ctx):
    c = sb.container("web")
    assert c.attrs["State"]["Running"] and c.attrs["State"]["Health"]["Status"] == "unhealthy"
    assert sb.https("GET", "/health/live/").status == 200, "the app itself still serves"


def wrong_host_broken(sb, ctx):
    assert sb.ready().status == 404
    import urllib.request

    api = f"http://127.0.0.1:{sb.values['SANDBOX_TRAEFIK_API_PORT']}/api/http/routers/boutique-web@file"
    with urllib.request.urlopen(api, timeout=5) as r:
        assert "shop.localhost" not in json.load(r)["rule"]


def _orphan(sb) -> dict | None:
    from sandbox import traefik

    return traefik.routers(sb.values).get(f"{traefik.ORPHAN}@file")


def orphan_broken(sb, ctx):
    orphan = _orphan(sb)
    assert orphan is not None and orphan["status"] == "disabled", orphan
    assert orphan["error"] == ['the service "boutique-gone@file" does not exist'], orphan
    assert sb.ready().status == 200, "the stack's own routes are untouched"


def orphan_healed(sb, ctx):
    assert _orphan(sb) is None


def backend_down_broken(sb, ctx):
    assert not sb.container("web").attrs["State"]["Running"]
    assert _refused(int(sb.values["WEB_PORT"]))
    assert sb.ready().status in (502, 503)


def ws_broken(sb, ctx):
    from sandbox import probes

    status, line = probes.websocket_upgrade(sb.values)
    assert status != 101, line
    assert sb.ready().status == 200, "plain HTTPS still works"


def ws_healed(sb, ctx):
    from sandbox import probes

    status, line = probes.websocket_upgrade(sb.values)
    assert status == 101, line


def _cert_days(sb) -> float:
    from sandbox import probes

    return probes.cert_days_left(sb.values)


def cert_broken(sb, ctx):
    assert 2.9 < _cert_days(sb) < 3.1


def cert_healed(sb, ctx):
    assert _cert_days(sb) > 30


def stale_broken(sb, ctx):
    dump, _ = _newest_set(sb)
    stamp = re.search(r"(\d{8}T\d{6}Z)", dump.name).group(1)
    ts = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    age_h = (dt.datetime.now(dt.timezone.utc) - ts).total_seconds() / 3600
    assert 29.5 < age_h < 31, age_h
    assert (time.time() - dump.stat().st_mtime) / 3600 > 29.5
    manifest = json.loads((sb.backups_dir / "manifest.json").read_text())
    assert manifest["created_at"].startswith(ts.strftime("%Y-%m-%dT%H:%M"))
    assert _sidecar_ok(dump), "the set itself is intact: only its age is wrong"


def stale_healed(sb, ctx):
    dump, _ = _newest_set(sb)
    assert time.time() - dump.stat().st_mtime < 6 * 3600


def checksum_broken(sb, ctx):
    dump, _ = _newest_set(sb)
    assert not _sidecar_ok(dump)
    digest = dump.with_name(dump.name + ".sha256").read_text().split()[0]
    with gzip.open(dump, "rb") as fh:
        assert digest == hashlib.sha256(fh.read()).hexdigest(), "the digest is the uncompressed dump's"


def backups_healed(sb, ctx):
    dump, media = _newest_set(sb)
    assert _sidecar_ok(dump) and _sidecar_ok(media) and sb.gzip_ok(dump)
    manifest = json.loads((sb.backups_dir / "manifest.json").read_text())
    for entry in manifest["files"]:
        path = sb.backups_dir / entry["name"]
        assert path.exists() and sb.sha256(path) == entry["sha256"] and path.stat().st_size == entry["size"]


def truncated_broken(sb, ctx):
    dump, _ = _newest_set(sb)
    assert _sidecar_ok(dump), "the sidecar was recomputed after truncation"
    manifest = json.loads((sb.backups_dir / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["name"] == dump.name)
    assert entry["sha256"] == sb.sha256(dump) and entry["size"] == dump.stat().st_size
    assert not sb.gzip_ok(dump), "only an integrity/content check sees it"


def manifest_lies_broken(sb, ctx):
    manifest = json.loads((sb.backups_dir / "manifest.json").read_text())
    missing = [e["name"] for e in manifest["files"] if not (sb.backups_dir / e["name"]).exists()]
    assert missing, manifest


def env_placeholder_broken(sb, ctx):
    assert "CHANGE_ME_" in (sb.state_dir / ".env.sandbox").read_text()
    assert sb.values["SMTP_PASSWORD"] == "CHANGE_ME_SMTP_PASSWORD"


def env_placeholder_healed(sb, ctx):
    assert "CHANGE_ME" not in (sb.state_dir / ".env.sandbox").read_text()


def _debug_page(sb) -> str:
    return sb.https("GET", "/definitely-not-a-page/").text


def debug_broken(sb, ctx):
    env = dict(e.split("=", 1) for e in sb.container("web").attrs["Config"]["Env"])
    assert env["DEBUG"] == "True" and env["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"
    assert sb.values["DEBUG"] == "True"
    assert "DEBUG = True" in _debug_page(sb), "Django's technical 404 page: DEBUG is really on"


def debug_healed(sb, ctx):
    assert sb.values["DEBUG"] == "False"
    assert "DEBUG = True" not in _debug_page(sb)


DEPLOY_CHECK = ["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"]


def deploy_check_broken(sb, ctx):
    result = sb.container("web").exec_run(DEPLOY_CHECK)
    assert result.exit_code != 0 and b"security.W004" in result.output, result.output
    assert sb.ready().status == 200, "the running server keeps serving"
    assert sb.https("GET", "/health/live/").status == 200


def deploy_check_healed(sb, ctx):
    result = sb.container("web").exec_run(DEPLOY_CHECK)
    assert result.exit_code == 0, result.output


BEAT_TASKS = ["python", "-c", "from config.celery import app; print(sorted(e['task'] for e in app.conf.beat_schedule.values()))"]


def _beat_tasks(sb) -> str:
    result = sb.container("beat").exec_run(BEAT_TASKS)
    assert result.exit_code == 0, result.output
    return result.output.decode()


def _beat_status(sb) -> dict:
    """The running beat's heartbeat, as `python beat_status.py` prints it."""
    result = sb.container("beat").exec_run(["python", "beat_status.py"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def schedule_broken(sb, ctx):
    tasks = _beat_tasks(sb)
    assert "shop.tasks.scheduled_backup" not in tasks and "shop.tasks.daily_report" in tasks, tasks
    running = _beat_status(sb)["tasks"]
    assert running == ["shop.tasks.daily_report"], f"the running beat still schedules {running}"
    assert sb.health("beat") in ("healthy", "starting"), "beat runs: only its schedule lost the task"


def schedule_healed(sb, ctx):
    assert "shop.tasks.scheduled_backup" in _beat_tasks(sb)
    assert "shop.tasks.scheduled_backup" in _beat_status(sb)["tasks"]


def beat_down_broken(sb, ctx):
    assert not sb.container("beat").attrs["State"]["Running"]
    assert sb.health("worker") == "healthy" and sb.ready().status == 200, "only the scheduler is gone"


def beat_down_healed(sb, ctx):
    status = _beat_status(sb)
    assert status["tick_age_s"] < 10 and "shop.tasks.scheduled_backup" in status["tasks"], status


def _worker_ping(sb) -> Any:
    """`celery inspect ping` from the web container: the worker's answer through the broker, or the error."""
    cmd = ["celery", "-A", "config", "inspect", "ping", "-d", "worker@boutique", "--timeout", "2"]
    return sb.container("web").exec_run(cmd)


def worker_not_ready_broken(sb, ctx):
    state = sb.container("worker").attrs["State"]
    assert state["Status"] == "running" and not state["Paused"], state
    result = _worker_ping(sb)
    assert result.exit_code != 0, result.output


def worker_not_ready_healed(sb, ctx):
    result = _worker_ping(sb)
    assert result.exit_code == 0 and b"pong" in result.output, result.output


def _web_log(sb) -> str:
    return sb.container("web").logs().decode(errors="replace")


def log_errors_broken(sb, ctx):
    log = _web_log(sb)
    assert "Traceback" in log and " 500" in log


def log_errors_healed(sb, ctx):
    log = _web_log(sb)
    assert "Traceback" not in log and "ERROR" not in log


def _dns_answer(sb) -> str | None:
    from sandbox import dnsmasq

    return dnsmasq.answer(int(sb.values["SANDBOX_DNS_PORT"]))


def dns_wrong_broken(sb, ctx):
    assert _dns_answer(sb) == "127.0.0.2"
    assert sb.ready().status == 200, "the stack itself still serves"


def dns_wrong_healed(sb, ctx):
    assert _dns_answer(sb) == "127.0.0.1"


def _squatter_pid(sb) -> int | None:
    pidfile = sb.state_dir / "run" / "port-taken.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def port_taken_broken(sb, ctx):
    port = int(sb.values["SANDBOX_SPARE_PORT"])
    assert not _refused(port), "something accepts connections on the spare port"
    pid = _squatter_pid(sb)
    listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert pid and f"pid={pid}," in listening, (pid, listening)


def port_taken_healed(sb, ctx):
    assert _refused(int(sb.values["SANDBOX_SPARE_PORT"]))
    assert _squatter_pid(sb) is None


def slow_broken(sb, ctx):
    r = sb.https("HEAD", "/api/v1/auth/csrf/")
    assert r.status == 200 and r.elapsed >= 0.7, r.elapsed
    assert sb.https("GET", "/health/live/").elapsed < 0.6


def slow_healed(sb, ctx):
    assert sb.https("HEAD", "/api/v1/auth/csrf/").elapsed < 0.6


def _sales(sb) -> int:
    return sb.sql("SELECT count(*) FROM shop_sale")[0][0]


def sale_broken(sb, ctx):
    s = sb.session()
    before = _sales(sb)
    r = sb.record_sale(s)
    assert r.status == 200 and "Payment terminal unavailable" in r.text
    assert _sales(sb) == before
    assert sb.ready().status == 200


def sale_healed(sb, ctx):
    s = sb.session()
    before = _sales(sb)
    r = sb.record_sale(s)
    assert r.status == 200 and 'data-testid="sale-total"' in r.text, r.text[:300]
    assert _sales(sb) == before + 1


def invoice_before(sb):
    s = sb.session()
    r = sb.record_sale(s)
    m = re.search(r"/sales/(\d+)/invoice/", r.text)
    assert m, "the sale page links its invoice"
    return {"sale": m.group(1)}


def invoice_broken(sb, ctx):
    s = sb.session()
    page = s.get(f"/sales/{ctx['sale']}/invoice/")
    assert page.status == 200 and 'data-testid="invoice-total"' not in page.text
    pdf = s.get(f"/sales/{ctx['sale']}/invoice.pdf")
    assert pdf.status == 200 and pdf.body == b""


def invoice_healed(sb, ctx):
    s = sb.session()
    page = s.get(f"/sales/{ctx['sale']}/invoice/")
    assert 'data-testid="invoice-total"' in page.text
    pdf = s.get(f"/sales/{ctx['sale']}/invoice.pdf", timeout=30)
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF")


def _payments(sb) -> int:
    return sb.sql("SELECT count(*) FROM shop_creditpayment")[0][0]


def credit_before(sb):
    """A credit sale first, so the customer owes something to pay against."""
    s = sb.session()
    customer = sb.customer_id(s)
    r = sb.record_sale(s, payment="credit", customer=customer)
    assert r.status == 200 and 'data-testid="sale-total"' in r.text
    assert sb.balance(s, customer) != "0.00"
    return {"customer": customer}


def _pay_against_credit(sb, ctx) -> tuple[str, int, str, int]:
    """Pay against the customer's credit (the app shows success either way): the balance and the count of payments
    before, then after."""
    s = sb.session()
    customer = ctx["customer"]
    balance, payments = sb.balance(s, customer), _payments(sb)
    r = sb.pay_credit(s, customer)
    assert r.status == 200 and 'data-testid="flash-success"' in r.text
    return balance, payments, sb.balance(s, customer), _payments(sb)


def credit_broken(sb, ctx):
    balance, payments, balance_after, payments_after = _pay_against_credit(sb, ctx)
    assert balance_after == balance and payments_after == payments


def credit_healed(sb, ctx):
    balance, payments, balance_after, payments_after = _pay_against_credit(sb, ctx)
    assert payments_after == payments + 1
    assert balance_after != balance


NGINX_TEST = ["nginx", "-t"]


def _served_by_frontend(sb, path: str = "/") -> bool:
    r = sb.https("GET", path)
    return r.status == 200 and r.headers.get("x-served-by") == "boutique-frontend"


def _static_urls(sb) -> list[str]:
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', sb.https("GET", "/").text)
    assert len(urls) == 3, urls  # the stylesheet, the logo, the script
    return urls


def nginx_broken(sb, ctx):
    result = sb.container("frontend").exec_run(NGINX_TEST)
    assert result.exit_code == 1 and b"[emerg]" in result.output, result.output
    assert _served_by_frontend(sb), "the running nginx (not reloaded) keeps serving"
    assert all(_served_by_frontend(sb, url) for url in _static_urls(sb))


def nginx_healed(sb, ctx):
    result = sb.container("frontend").exec_run(NGINX_TEST)
    assert result.exit_code == 0 and b"test is successful" in result.output, result.output


def static_before(sb):
    return {"assets": _static_urls(sb)}


def static_broken(sb, ctx):
    assert _served_by_frontend(sb), "the front page itself is still served"
    assert [sb.https("GET", url).status for url in ctx["assets"]] == [404] * 3
    assert sb.health("frontend") in ("healthy", "starting"), "the container runs: only its static files are missing"


def static_healed(sb, ctx):
    assert all(_served_by_frontend(sb, url) for url in ctx["assets"])


def frontend_down_broken(sb, ctx):
    assert not sb.container("frontend").attrs["State"]["Running"]
    assert _refused(int(sb.values["FRONTEND_PORT"]))
    assert sb.https("GET", "/").status in (502, 503)
    assert sb.ready().status == 200, "the app itself still serves"


def frontend_down_healed(sb, ctx):
    assert _served_by_frontend(sb)


WEBHOOK = "/api/v1/payments/webhook/"
EVENT = b'{"id": "evt_sandbox_test", "type": "payment_intent.succeeded"}'


def _webhook(sb, signature: str | None = None):
    headers = {"Content-Type": "application/json", **({"Stripe-Signature": signature} if signature else {})}
    return sb.https("POST", WEBHOOK, headers=headers, body=EVENT)


def webhook_unverified_broken(sb, ctx):
    r = _webhook(sb)
    assert r.status == 200 and r.json() == {"received": True}, (r.status, r.text)
    assert _webhook(sb, "t=1,v1=" + "0" * 64).status == 200


def webhook_unverified_healed(sb, ctx):
    r = _webhook(sb)
    assert r.status == 400 and "no Stripe-Signature header" in r.text, (r.status, r.text)


def _staging_media(sb) -> str:
    """The host path staging's web mounts at /data/media."""
    mounts = sb.staging_container("web").attrs["Mounts"]
    return next(m["Source"] for m in mounts if m["Destination"] == "/data/media")


def staging_before(sb):
    sb.with_staging()
    assert _staging_media(sb) == str(sb.state_dir / "staging" / "media")
    return {}


def shared_volume_broken(sb, ctx):
    assert _staging_media(sb) == str(sb.state_dir / "media"), "staging's web mounts prod's media dir"
    assert "/data/media" in {m["Destination"] for m in sb.container("web").attrs["Mounts"]}
    assert sb.staging_container("web").attrs["State"]["Running"], "staging itself still runs"


def shared_volume_healed(sb, ctx):
    assert _staging_media(sb) == str(sb.state_dir / "staging" / "media")
    assert sb.ready(host="staging.shop.localhost").status == 200


#: rows-lost deletes what is older than 14 days; the test reads from 13 days back: history is 30 to 90 days old
OLD = "created_at < now() - interval '13 days'"
#: each table's old rows, whole (every column, ids included), as one digest: heal puts the very same rows back
OLD_ROWS = f"""
SELECT (SELECT count(*) FROM shop_sale WHERE {OLD}),
       (SELECT md5(coalesce(string_agg(s::text, '|' ORDER BY s.id), '')) FROM shop_sale s WHERE {OLD}),
       (SELECT md5(coalesce(string_agg(l::text, '|' ORDER BY l.id), '')) FROM shop_saleline l
         WHERE sale_id IN (SELECT id FROM shop_sale WHERE {OLD})),
       (SELECT md5(coalesce(string_agg(p::text, '|' ORDER BY p.id), '')) FROM shop_creditpayment p WHERE {OLD})
"""


def rows_lost_before(sb):
    old = sb.sql(OLD_ROWS)[0]
    assert old[0] >= 20, f"a fresh sandbox holds 20 old sales (seed_demo_data's history): {old[0]}"
    return {"sales": _sales(sb), "old": old}


def rows_lost_broken(sb, ctx):
    assert sb.sql(f"SELECT count(*) FROM shop_sale WHERE {OLD}")[0][0] == 0
    assert _sales(sb) == ctx["sales"] - ctx["old"][0], (_sales(sb), ctx)
    assert sb.sql(f"SELECT count(*) FROM shop_creditpayment WHERE {OLD}")[0][0] == 0
    assert sb.state["faults"]["rows-lost"]["rows"]["shop_sale"] == ctx["old"][0]
    assert sb.ready().status == 200, "the app itself still serves"


def rows_lost_healed(sb, ctx):
    assert _sales(sb) == ctx["sales"]
    assert sb.sql(OLD_ROWS)[0] == ctx["old"], "the same rows (ids and every column) are back"
    assert not (sb.state_dir / "faults" / "rows-lost").exists()


def _metrics(sb) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Traefik's Prometheus metrics (the API entrypoint's /metrics): (name, sorted labels) -> value."""
    import urllib.request

    url = f"http://127.0.0.1:{sb.values['SANDBOX_TRAEFIK_API_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def _served(sb, code: str, metric: str = "traefik_service_requests_total", **match: str) -> float:
    """The sum of `metric` for one status code over the series whose labels include `match`."""
    return sum(v for (name, labels), v in _metrics(sb).items()
               if name == metric and ("code", code) in labels and set(match.items()) <= set(labels))


WEB_SERVICE = {"service": "boutique-web@file"}


def flapping_broken(sb, ctx):
    before = {code: _served(sb, code, **WEB_SERVICE) for code in ("200", "502")}
    routed = _served(sb, "502", "traefik_router_requests_total", router="boutique-web@file", **WEB_SERVICE)
    codes = [sb.ready().status for _ in range(20)]
    failed = [i for i, code in enumerate(codes) if code == 502]
    assert len(failed) == 4 and set(codes) == {200, 502}, codes
    assert [b - a for a, b in zip(failed, failed[1:])] == [5, 5, 5], f"every fifth request: {codes}"
    # Traefik passed the backend's own 502s through and counted them for its service and router
    assert _served(sb, "502", **WEB_SERVICE) - before["502"] == 4
    assert _served(sb, "200", **WEB_SERVICE) - before["200"] == 16
    assert _served(sb, "502", "traefik_router_requests_total", router="boutique-web@file", **WEB_SERVICE) - routed == 4
    assert all(st == "UP" for st in _server_statuses(sb)), "Traefik's health check (/health/live/) keeps the server"


def _server_statuses(sb) -> list[str]:
    from sandbox import traefik

    statuses = traefik.server_statuses(sb.values)
    assert len(statuses) == 2, statuses
    return statuses


def flapping_healed(sb, ctx):
    before = _served(sb, "502", **WEB_SERVICE)
    assert [sb.ready().status for _ in range(20)] == [200] * 20
    assert _served(sb, "502", **WEB_SERVICE) == before


_HOLDER_SESSIONS = ("SELECT a.state, extract(epoch FROM now() - a.state_change), l.mode, c.relname "
                    "FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'relation' "
                    "LEFT JOIN pg_class c ON c.oid = l.relation AND c.relkind = 'r' AND c.relname NOT LIKE 'pg\\_%%' "
                    "WHERE a.application_name = %s")


def lock_held_broken(sb, ctx):
    """A session of the app's role idle in its transaction for seconds, holding ACCESS SHARE on shop_sale (the
    read-only role sees it: pg_monitor)."""
    rows = sb.sql(_HOLDER_SESSIONS, "sandbox-lock-held")
    assert {(state, mode, table) for state, _, mode, table in rows if table} == {
        ("idle in transaction", "AccessShareLock", "shop_sale")}, rows
    assert all(age > 3 for _, age, _, _ in rows), rows


def lock_held_healed(sb, ctx):
    assert sb.sql(_HOLDER_SESSIONS, "sandbox-lock-held") == []


_CONNECTIONS = ("SELECT count(*), count(*) FILTER (WHERE application_name = 'sandbox-connections-exhausted'), "
                "current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int "
                "FROM pg_stat_activity WHERE backend_type = 'client backend'")


def connections_exhausted_broken(sb, ctx):
    """Connections in use within a few slots of what ordinary roles may open, most of them the holder's."""
    [(in_use, held, limit)] = sb.sql(_CONNECTIONS)
    assert limit - 8 <= in_use < limit and held >= limit // 2, (in_use, held, limit)


def connections_exhausted_healed(sb, ctx):
    [(in_use, held, limit)] = sb.sql(_CONNECTIONS)
    assert held == 0 and in_use < limit // 2, (in_use, held, limit)


def nothing(sb, ctx):
    return None


# name -> (before, broken, healed)
FAULTS: dict[str, tuple[Callable, Callable, Callable]] = {
    "db-down": (before_none, db_down_broken, db_down_healed),
    "redis-down": (before_none, redis_down_broken, redis_down_healed),
    "health-body-unhealthy": (before_none, body_unhealthy_broken, nothing),
    "pending-migration": (pending_before, pending_broken, pending_healed),
    "migrations-failed": (before_none, migrations_failed_broken, nothing),
    "mixed-tags": (before_none, mixed_broken, nothing),
    "previous-release-missing": (before_none, prm_broken, prm_healed),
    "restart-loop": (before_none, restart_loop_broken, restart_loop_healed),
    "unhealthy-container": (before_none, unhealthy_broken, nothing),
    "router-wrong-host": (before_none, wrong_host_broken, nothing),
    "router-orphan": (before_none, orphan_broken, orphan_healed),
    "backend-down": (before_none, backend_down_broken, nothing),
    "ws-broken": (before_none, ws_broken, ws_healed),
    "cert-expiring": (before_none, cert_broken, cert_healed),
    "stale-backup": (before_none, stale_broken, stale_healed),
    "checksum-of-uncompressed": (before_none, checksum_broken, backups_healed),
    "truncated-backup": (before_none, truncated_broken, backups_healed),
    "manifest-lies": (before_none, manifest_lies_broken, backups_healed),
    "scheduled-backup-off": (before_none, schedule_broken, schedule_healed),
    "env-placeholder": (before_none, env_placeholder_broken, env_placeholder_healed),
    "debug-on": (before_none, debug_broken, debug_healed),
    "deploy-check-fails": (before_none, deploy_check_broken, deploy_check_healed),
    "log-errors": (before_none, log_errors_broken, log_errors_healed),
    "dns-wrong-address": (before_none, dns_wrong_broken, dns_wrong_healed),
    "port-taken": (before_none, port_taken_broken, port_taken_healed),
    "slow-api": (before_none, slow_broken, slow_healed),
    "sale-broken": (before_none, sale_broken, sale_healed),
    "invoice-broken": (invoice_before, invoice_broken, invoice_healed),
    "credit-broken": (credit_before, credit_broken, credit_healed),
    "nginx-config-broken": (before_none, nginx_broken, nginx_healed),
    "static-missing": (static_before, static_broken, static_healed),
    "frontend-down": (before_none, frontend_down_broken, frontend_down_healed),
    "webhook-unverified": (before_none, webhook_unverified_broken, webhook_unverified_healed),
    "beat-down": (before_none, beat_down_broken, beat_down_healed),
    "worker-not-ready": (before_none, worker_not_ready_broken, worker_not_ready_healed),
    "shared-volume": (staging_before, shared_volume_broken, shared_volume_healed),
    "rows-lost": (rows_lost_before, rows_lost_broken, rows_lost_healed),
    "flapping": (before_none, flapping_broken, flapping_healed),
    "lock-held": (before_none, lock_held_broken, lock_held_healed),
    "connections-exhausted": (before_none, connections_exhausted_broken, connections_exhausted_healed),
}


def apply_and_observe(sb: "Sandbox", faults: Any, applied: tuple[str, ...], observed: tuple[str, ...]) -> None:
    """Apply the faults ``applied`` through the ``faults`` fixture and see each of ``observed`` take effect with its
    direct probe; once the fixture has healed them, it sees every applied fault gone from the state and each
    observed one gone with its probe, before the stack is healthy again."""
    effects = {name: FAULTS[name] for name in observed}
    if effects:
        sb.assert_healthy(timeout=30)
    contexts = {name: before(sb) for name, (before, _, _) in effects.items()}

    def gone() -> None:
        assert not set(applied) & set(sb.state["faults"]), sb.state["faults"]
        for name, (_, _, healed) in effects.items():
            healed(sb, contexts[name])

    faults(applied, after_heal=gone)
    assert set(applied) <= set(sb.state["faults"]), sb.state["faults"]
    for name, (_, broken, _) in effects.items():
        sb.eventually(lambda: broken(sb, contexts[name]) or True, timeout=15, what=f"the effect of {name}")
