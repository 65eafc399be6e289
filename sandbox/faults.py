"""The fault catalogue: realistic, reversible breakages of the running sandbox.

``fault NAME`` applies one (and records it in state.json), ``heal [NAME]`` reverts one or all,
``faults`` lists them one line each. Each fault's effect is observable with a direct probe within
seconds; ``down`` heals every active fault first."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import re
import signal
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from . import (
    APP_HOST,
    SandboxError,
    backups,
    certs,
    compose,
    dnsmasq,
    frontend,
    images,
    last_line,
    postgres,
    probes,
    progress,
    redis,
    staging,
    traefik,
)
from .context import Ctx
from .ports import is_free, is_listening, wait_listening
from .processes import require, run, start, stop

Data = dict[str, Any]


@dataclass(frozen=True)
class Fault:
    name: str
    doc: str
    apply: Callable[[Ctx, Data], None]
    heal: Callable[[Ctx, Data, bool], None]
    prepare: Callable[[Ctx], Data] = lambda ctx: {}


CATALOGUE: dict[str, Fault] = {}


def _register(name: str, doc: str, prepare=None):
    def deco(cls):
        CATALOGUE[name] = Fault(name, doc, cls.apply, cls.heal, prepare or getattr(cls, "prepare", lambda ctx: {}))
        return cls
    return deco


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - a failing probe just means "not yet"
            pass
        time.sleep(interval)
    raise SandboxError(f"timed out after {timeout:.0f}s waiting for {what}")


# A heal returns once the service answers again; Docker's own health status follows at its next
# healthcheck (web: every 2 s, worker: every 5 s), which `up` and the tests wait for.


def _web_live(ctx: Ctx) -> bool:
    url = f"http://127.0.0.1:{ctx.values['WEB_PORT']}/health/live/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as resp:
        return resp.status == 200


def _web_back(ctx: Ctx, timeout: float = 20) -> None:
    wait_until(lambda: _web_live(ctx), timeout, "web to answer /health/live/", interval=0.1)
    traefik.wait_servers_up(ctx.values, timeout=10)


def _frontend_back(ctx: Ctx, timeout: float = 20) -> None:
    wait_until(lambda: frontend.serving(ctx.values), timeout, "the front page through Traefik", interval=0.1)


def _worker_back(ctx: Ctx, since: float, timeout: float = 30) -> None:
    """The worker logged `ready.` after `since` (or Docker already calls it healthy)."""
    def ready() -> bool:
        c = compose.get(ctx.client, "worker")
        status = compose.health(c)
        if status == "healthy":
            return True
        if status in ("exited", "dead", "restarting"):
            raise SandboxError(f"the worker is {status}: {compose.logs_tail(c, 3)}")
        return b" ready." in c.logs(since=int(since))
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except SandboxError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise SandboxError(f"the worker did not get ready within {timeout:.0f}s")
        time.sleep(0.2)


def _beat_back(ctx: Ctx, since: float, timeout: float = 20) -> None:
    """Beat started its scheduler after `since` (its first tick writes the heartbeat right after)."""
    def started() -> bool:
        c = compose.get(ctx.client, "beat")
        status = compose.health(c)
        if status in ("exited", "dead"):
            raise SandboxError(f"beat is {status}: {compose.logs_tail(c, 3)}")
        return status == "healthy" or b"beat: Starting" in c.logs(since=int(since))
    wait_until(started, timeout, "beat to start", interval=0.2)


def _worker_pings(ctx: Ctx) -> bool:
    """The worker answers a Celery ping (what its healthcheck asks)."""
    c = compose.get(ctx.client, "worker")
    result = c.exec_run(["celery", "-A", "config", "inspect", "ping", "-d", "worker@boutique", "--timeout", "2"],
                        workdir="/app/src")
    return result.exit_code == 0


def _recreate(ctx: Ctx, service: str, wait: bool = True) -> None:
    since = time.time()
    # a fault is no deploy: the old container gets 1 s (worker) or 3 s (web) to stop, then it is killed
    compose.recreate(ctx.client, ctx.spec(service), stop_timeout=1 if service in ("worker", "beat") else 3)
    if wait:
        if service == "web":
            _web_back(ctx)
        elif service == "frontend":
            _frontend_back(ctx)
        elif service == "beat":
            _beat_back(ctx, since)
        else:
            _worker_back(ctx, since)


# ------------------------------------------------------------------------------------ flags


def _flag_path(ctx: Ctx, name: str):
    return ctx.paths.faults / name


def _flag(name: str, doc: str) -> None:
    def apply(ctx: Ctx, data: Data) -> None:
        path = _flag_path(ctx, name)
        path.write_text(dt.datetime.now(dt.timezone.utc).isoformat() + "\n")
        os.chmod(path, 0o644)

    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _flag_path(ctx, name).unlink(missing_ok=True)

    CATALOGUE[name] = Fault(name, doc, apply, heal)


# ------------------------------------------------------------------------------------ catalogue


@_register("db-down", "PostgreSQL is stopped (fast shutdown): /health/ready/ answers 503 with the database down")
class _DbDown:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        postgres.stop_server(ctx.paths)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down:
            postgres.start_server(ctx.paths, ctx.values)


@_register("redis-down", "Redis is stopped: /health/ready/ answers 503 with redis down, the worker loses its broker")
class _RedisDown:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        redis.stop_server(ctx.paths)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if for_down:
            return
        redis.start_server(ctx.paths, ctx.values)
        # the runbook step after a broker outage: restart the worker rather than wait out its
        # reconnect backoff (and its next healthcheck)
        worker = compose.get(ctx.client, "worker")
        if worker is not None:
            since = time.time()
            worker.restart(timeout=1)
            _worker_back(ctx, since)


@_register("beat-down", "the Celery beat container is stopped: nothing schedules tasks (no backup is taken any more)")
class _BeatDown:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        c = compose.get(ctx.client, "beat")
        if c is not None:
            c.stop(timeout=5)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if for_down:
            return
        c = compose.get(ctx.client, "beat")
        if c is None:
            _recreate(ctx, "beat")
        else:
            since = time.time()
            c.start()
            _beat_back(ctx, since)


@_register("worker-not-ready", "the worker's main process is frozen (SIGSTOP, as a hung worker): the container "
                               "runs, but the worker answers no Celery ping and consumes nothing")
class _WorkerNotReady:
    @staticmethod
    def _signal(ctx: Ctx, signum: int) -> None:
        c = compose.get(ctx.client, "worker")
        pid = c.attrs["State"].get("Pid") if c is not None else 0
        if not pid:
            raise SandboxError("the worker container is not running")
        os.kill(pid, signum)  # from the host: inside its PID namespace, pid 1 ignores SIGSTOP

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        _WorkerNotReady._signal(ctx, signal.SIGSTOP)
        if _worker_pings(ctx):
            raise SandboxError("the frozen worker still answers a ping")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _WorkerNotReady._signal(ctx, signal.SIGCONT)
        if not for_down:
            wait_until(lambda: _worker_pings(ctx), 15, "the worker to answer a ping", interval=0.5)


_flag("health-body-unhealthy",
      "app flag: /health/ready/ and /health/detailed/ answer 200 but the body says degraded, redis down")


@_register("pending-migration", "the last shop migration is unapplied (`migrate shop <previous>`): the schema lags the code")
class _PendingMigration:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        applied = _showmigrations(ctx, "shop")
        done = [name for name, ok in applied if ok]
        if not done:
            raise SandboxError("no applied shop migration to unapply")
        last = done[-1]
        idx = [name for name, _ in applied].index(last)
        target = applied[idx - 1][0] if idx > 0 else "zero"
        return {"migration": last, "target": target}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        _manage(ctx, ["migrate", "shop", data["target"], "--noinput"])

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _manage(ctx, ["migrate", "--noinput"])


def _manage(ctx: Ctx, args: list[str]) -> str:
    worker = compose.get(ctx.client, "worker")
    if worker is None or worker.status != "running":
        raise SandboxError("the worker container is not running (manage.py runs in it)")
    result = worker.exec_run(["python", "manage.py", *args], workdir="/app/src")
    out = result.output.decode(errors="replace")
    if result.exit_code != 0:
        raise SandboxError(f"manage.py {' '.join(args)} failed: {last_line(out)}")
    return out


def _showmigrations(ctx: Ctx, app: str) -> list[tuple[str, bool]]:
    out = _manage(ctx, ["showmigrations", app])
    return [(m.group(2), m.group(1) == "X") for m in re.finditer(r"^\s*\[([ X])\]\s+(\S+)", out, re.M)]


@_register("migrations-failed", "the one-shot migrations container was re-run with a wrong DB password and exited non-zero")
class _MigrationsFailed:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        url = re.sub(r"(postgresql://[^:]+:)[^@]*@", r"\1wrong-password@", ctx.values["DATABASE_URL"])
        code = ctx.run_migrations(env_overrides={"DATABASE_URL": url}, quiet=True)
        if code == 0:
            raise SandboxError("the migrations container unexpectedly succeeded with a wrong password")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if for_down:
            return
        code = ctx.run_migrations(quiet=True)
        if code != 0:
            raise SandboxError(f"the migrations container exited {code} on heal")


# ---- data: a deploy step that deletes old sales


ROWS_LOST = "rows-lost"
#: rows-lost deletes what is older than this, as a "purge old sales" step with the wrong retention would
ROWS_LOST_DAYS = 14
#: what it deletes and keeps, each table with its rows' condition, in the order heal puts them back
#: (sales before their lines); the credit payments of that period go with the sales they settled
ROWS_LOST_TABLES = {
    "shop_sale": "created_at < {cutoff}",
    "shop_saleline": "sale_id IN (SELECT id FROM shop_sale WHERE created_at < {cutoff})",
    "shop_creditpayment": "created_at < {cutoff}",
}


def _sql_lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _owner_psql(ctx: Ctx, script: str) -> str:
    """Run a psql script as the database's owner (DATABASE_URL, the app's own connection) in one
    transaction; `\\copy` reads and writes files on this side. Returns psql's unaligned output."""
    url = urllib.parse.urlsplit(ctx.values["DATABASE_URL"])
    env = {**os.environ, "PGPASSWORD": urllib.parse.unquote(url.password or ""), "PGCONNECT_TIMEOUT": "5",
           "PGAPPNAME": f"sandbox-fault-{ROWS_LOST}", "PGTZ": "UTC"}
    conninfo = (f"host={url.hostname} port={url.port} dbname={url.path.lstrip('/')} "
                f"user={urllib.parse.unquote(url.username or '')}")
    proc = run([require("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-1", "-d", conninfo, "-f", "-"],
               check=False, input=script, env=env)
    if proc.returncode != 0:
        raise SandboxError(f"{ROWS_LOST}: psql as the owner failed: {last_line(proc.stderr or proc.stdout)}")
    return proc.stdout


def _rows_lost_dir(ctx: Ctx):
    return ctx.paths.fault_data / ROWS_LOST


def _rows_lost_counts(ctx: Ctx, cutoff: str) -> dict[str, int]:
    where = {table: cond.format(cutoff=_sql_lit(cutoff)) for table, cond in ROWS_LOST_TABLES.items()}
    out = _owner_psql(ctx, "SELECT " + ", ".join(f"(SELECT count(*) FROM {t} WHERE {w})" for t, w in where.items()) + ";")
    return dict(zip(ROWS_LOST_TABLES, (int(n) for n in out.strip().split("|"))))


@_register(ROWS_LOST, f"a deploy step deleted the sales older than {ROWS_LOST_DAYS} days (their lines and that "
                      "period's credit payments with them) through the owner's connection; heal puts the same rows back")
class _RowsLost:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=ROWS_LOST_DAYS)
        cutoff = stamp.isoformat()
        counts = _rows_lost_counts(ctx, cutoff)
        if not counts["shop_sale"]:
            raise SandboxError(f"{ROWS_LOST}: no sale older than {ROWS_LOST_DAYS} days to delete")
        return {"cutoff": cutoff, "rows": counts, "dir": str(_rows_lost_dir(ctx))}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        keep = _rows_lost_dir(ctx)
        keep.mkdir(parents=True, exist_ok=True)
        os.chmod(keep, 0o700)
        for old in keep.glob("*.csv"):
            old.unlink()
        # the app's seed (every deploy's migrations service) writes no history while this flag is there
        flag = _flag_path(ctx, ROWS_LOST)
        flag.write_text(data["applied_at"] + "\n")
        os.chmod(flag, 0o644)
        cutoff = _sql_lit(data["cutoff"])
        where = {table: cond.format(cutoff=cutoff) for table, cond in ROWS_LOST_TABLES.items()}
        script = [f"LOCK TABLE {', '.join(ROWS_LOST_TABLES)} IN SHARE ROW EXCLUSIVE MODE;"]
        script += [f"\\copy (SELECT * FROM {t} WHERE {w} ORDER BY id) TO {_sql_lit(str(keep / (t + '.csv')))} "
                   "WITH (FORMAT csv, HEADER true)" for t, w in where.items()]
        # lines first (they reference the sales), then the sales, then the payments
        script += [f"DELETE FROM {t} WHERE {where[t]};" for t in ("shop_saleline", "shop_sale", "shop_creditpayment")]
        _owner_psql(ctx, "\n".join(script) + "\n")
        left = _rows_lost_counts(ctx, data["cutoff"])
        if any(left.values()):
            raise SandboxError(f"{ROWS_LOST}: rows older than the cutoff are still there: {left}")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        keep = Path(data.get("dir") or _rows_lost_dir(ctx))
        files = {t: keep / f"{t}.csv" for t in ROWS_LOST_TABLES}
        if all(f.exists() for f in files.values()):
            script = []
            for table, path in files.items():  # the same rows, ids included; a row already there stays
                script += [f"CREATE TEMP TABLE kept_{table} (LIKE {table}) ON COMMIT DROP;",
                           f"\\copy kept_{table} FROM {_sql_lit(str(path))} WITH (FORMAT csv, HEADER true)",
                           f"INSERT INTO {table} SELECT * FROM kept_{table} ON CONFLICT (id) DO NOTHING;"]
            try:
                _owner_psql(ctx, "\n".join(script) + "\n")
            except SandboxError as exc:
                raise SandboxError(f"{exc} (the deleted rows stay in {keep})") from None
            back = _rows_lost_counts(ctx, data["cutoff"])
            if back != data["rows"]:
                progress("heal", f"{ROWS_LOST}: rows older than the cutoff now {back}, before the fault {data['rows']}")
            for f in files.values():
                f.unlink()
        _flag_path(ctx, ROWS_LOST).unlink(missing_ok=True)


@_register("mixed-tags", "the worker runs the previous release's image while web and migrations run the current one")
class _MixedTags:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        other = ctx.previous
        if not other or not images.release_built(ctx.client, other):
            raise SandboxError("mixed-tags needs the previous release's images")
        return {"service": "worker", "release": other}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        _recreate(ctx, data["service"])

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down:
            _recreate(ctx, data["service"])


@_register("previous-release-missing",
           "the previous release's web image tag is gone (kept as boutique-quarantine/web:<id>): no rollback target")
class _PreviousMissing:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        if not ctx.previous:
            raise SandboxError("no previous release recorded")
        return {"service": "web", "release": ctx.previous}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        ref = images.refs(data["release"])[data["service"]]
        image = ctx.client.images.get(ref)
        q_repo, q_tag = images.quarantine_ref(data["service"], data["release"]).rsplit(":", 1)
        image.tag(q_repo, q_tag)
        ctx.client.images.remove(ref, noprune=True)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        ref = images.refs(data["release"])[data["service"]]
        q_ref = images.quarantine_ref(data["service"], data["release"])
        if images.image_exists(ctx.client, q_ref):
            repo, tag = ref.rsplit(":", 1)
            ctx.client.images.get(q_ref).tag(repo, tag)
            ctx.client.images.remove(q_ref, noprune=True)


@_register("restart-loop",
           "the worker was recreated with a broken settings module: it exits at start and Docker keeps restarting it")
class _RestartLoop:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        return {"service": "worker", "env": {"DJANGO_SETTINGS_MODULE": "config.settings.production"}}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        compose.recreate(ctx.client, ctx.spec(data["service"]), stop_timeout=1)

        def looping() -> bool:
            c = compose.get(ctx.client, data["service"])
            c.reload()
            return c.attrs.get("RestartCount", 0) >= 1
        wait_until(looping, 15, "the worker to restart")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down:
            _recreate(ctx, data["service"])


@_register("unhealthy-container",
           "web's healthcheck probes a stale port: the container runs and serves, Docker reports it unhealthy")
class _Unhealthy:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        stale = int(ctx.values["WEB_PORT"]) + 1
        while is_listening(stale):
            stale += 1
        test = ["CMD-SHELL", f"WEB_PORT={stale} python healthcheck.py /health/live/"]
        return {"service": "web", "healthcheck": {"test": test, "interval": "1s", "timeout": "2s", "retries": 2}}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        compose.recreate(ctx.client, ctx.spec("web"))
        wait_until(lambda: compose.health(compose.get(ctx.client, "web")) == "unhealthy", 15,
                   "web to report unhealthy")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down:
            _recreate(ctx, "web")


class _TraefikConfig:
    """A fault that lives in Traefik's dynamic config, rendered from the active faults:
    applying or healing is re-rendering it (the file provider reloads it)."""

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        traefik.apply(ctx.paths, ctx.values, ctx.state)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        traefik.apply(ctx.paths, ctx.values, ctx.state)


_register("router-wrong-host", f"Traefik's app router matches Host(`{traefik.WRONG_HOST}`): shop.localhost gets 404")(
    _TraefikConfig)


_register("router-orphan", f"a router of Traefik's dynamic configuration ({traefik.ORPHAN}) whose service "
                           f"({traefik.GONE}) does not exist: disabled, in error on the dashboard; the stack's routes unchanged")(
    _TraefikConfig)


@_register("backend-down", "the web container is stopped: https://shop.localhost:<port>/health/ready/ through Traefik fails")
class _BackendDown:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        web = compose.get(ctx.client, "web")
        if web is not None:
            web.stop(timeout=10)
        # Traefik's health checks (every 1-2 s) mark the servers DOWN: from then on it answers 503
        wait_until(lambda: "UP" not in traefik.server_statuses(ctx.values), 10, "Traefik to mark the web servers DOWN")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if for_down:
            return
        web = compose.get(ctx.client, "web")
        if web is None:
            _recreate(ctx, "web")
        else:
            web.start()
            _web_back(ctx)


_register("ws-broken", "a Traefik middleware strips Upgrade/Connection on the websocket router: /ws/orders/ no longer upgrades")(
    _TraefikConfig)


@_register("cert-expiring", "Traefik serves a certificate (same CA) valid for 3 more days")
class _CertExpiring:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        certs.issue_leaf(ctx.paths, days=3)
        traefik.apply(ctx.paths, ctx.values, ctx.state)
        wait_until(lambda: probes.cert_days_left(ctx.values) < 4, 10, "Traefik to serve the short-lived certificate")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        certs.issue_leaf(ctx.paths)
        traefik.apply(ctx.paths, ctx.values, ctx.state)
        if not for_down and traefik.running(ctx.paths):
            wait_until(lambda: probes.cert_days_left(ctx.values) > 30, 10, "Traefik to serve the renewed certificate")


# ---- the frontend (nginx)


def _nginx_test(ctx: Ctx) -> tuple[int, str]:
    """`nginx -t` in the running frontend container: (exit code, output)."""
    c = compose.get(ctx.client, frontend.NAME)
    if c is None or c.status != "running":
        raise SandboxError("the frontend container is not running (nginx -t runs in it)")
    result = c.exec_run(["nginx", "-t"])
    return result.exit_code, result.output.decode(errors="replace")


@_register("nginx-config-broken",
           "the frontend's nginx site on disk lost a semicolon: `nginx -t` fails, while the running nginx "
           "(not reloaded) keeps serving the configuration it started with")
class _NginxConfigBroken:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        frontend.write_site(ctx.paths, ctx.values, ctx.state.faults)  # the fault is recorded: the broken copy
        code, output = _nginx_test(ctx)
        if code == 0:
            raise SandboxError(f"nginx -t still passes with the broken site: {last_line(output)}")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        frontend.write_site(ctx.paths, ctx.values, ctx.state.faults)


@_register("static-missing",
           "the release's static files were not collected: the frontend serves an empty static folder, "
           "so every /static/ asset answers 404 while the front page answers 200")
class _StaticMissing:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        return {"service": frontend.NAME, "source": str(frontend.empty_static_dir(ctx.paths)),
                "target": frontend.STATIC_ROOT}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        empty = frontend.empty_static_dir(ctx.paths)
        empty.mkdir(parents=True, exist_ok=True)
        if any(empty.iterdir()):
            raise SandboxError(f"{empty} should be empty")
        _recreate(ctx, frontend.NAME)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down:
            _recreate(ctx, frontend.NAME)


@_register("frontend-down", "the frontend container is stopped: the front page and /static/ through Traefik fail")
class _FrontendDown:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        c = compose.get(ctx.client, frontend.NAME)
        if c is not None:
            c.stop(timeout=5)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if for_down:
            return
        c = compose.get(ctx.client, frontend.NAME)
        if c is None:
            _recreate(ctx, frontend.NAME)
        else:
            c.start()
            _frontend_back(ctx)


# ---- backup faults: snapshot the backups dir first, restore it on heal


BACKUP_FAULTS = ("stale-backup", "checksum-of-uncompressed", "truncated-backup", "manifest-lies")


def _newest_set(ctx: Ctx) -> dict[str, Any]:
    latest = backups.newest(ctx.paths)
    if latest is None:
        latest = backups.take(ctx, reason="a backup to break")
    return latest


def _sidecar(path) -> Any:
    return path.with_name(path.name + ".sha256")


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _keep_owner(path, like) -> None:
    st = like.stat()
    os.chown(path, st.st_uid, st.st_gid)


def _mutate_stale(ctx: Ctx) -> None:
    latest = _newest_set(ctx)
    stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=30)
    new_ts = stamp.strftime(backups.TS_FORMAT)
    for s in backups.list_sets(ctx.paths):
        if backups.parse_ts(s["timestamp"]) > stamp and s is not latest and s["timestamp"] != latest["timestamp"]:
            for f in (s["db"], s["media"]):
                f.unlink(missing_ok=True)
                _sidecar(f).unlink(missing_ok=True)
    renames = {}
    for f in (latest["db"], latest["media"]):
        if not f.exists():
            continue
        new = f.with_name(f.name.replace(latest["timestamp"], new_ts))
        os.replace(f, new)
        side = _sidecar(f)
        if side.exists():
            digest = side.read_text().split()[0]
            _sidecar(new).write_text(f"{digest}  {new.name}\n")
            _keep_owner(_sidecar(new), new)
            side.unlink()
            os.utime(_sidecar(new), (stamp.timestamp(), stamp.timestamp()))
        os.utime(new, (stamp.timestamp(), stamp.timestamp()))
        renames[f.name] = new.name
    manifest_path = ctx.paths.backups / "manifest.json"
    if manifest_path.exists():
        manifest = backups.read_manifest(ctx.paths)
        manifest["created_at"] = stamp.isoformat().replace("+00:00", "Z")
        for entry in manifest.get("files", []):
            entry["name"] = renames.get(entry["name"], entry["name"])
        backups.write_manifest(ctx.paths, manifest)
        os.utime(manifest_path, (stamp.timestamp(), stamp.timestamp()))


def _mutate_checksum_uncompressed(ctx: Ctx) -> None:
    latest = _newest_set(ctx)
    h = hashlib.sha256()
    with gzip.open(latest["db"], "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    _sidecar(latest["db"]).write_text(f"{h.hexdigest()}  {latest['db'].name}\n")


def _mutate_truncated(ctx: Ctx) -> None:
    latest = _newest_set(ctx)
    dump = latest["db"]
    size = dump.stat().st_size
    with open(dump, "r+b") as fh:
        fh.truncate(max(1, size // 2))
    digest = _sha256(dump)
    _sidecar(dump).write_text(f"{digest}  {dump.name}\n")
    manifest = backups.read_manifest(ctx.paths)
    for entry in manifest.get("files", []):
        if entry["name"] == dump.name:
            entry["size"] = dump.stat().st_size
            entry["sha256"] = digest
    backups.write_manifest(ctx.paths, manifest)


def _mutate_manifest_lies(ctx: Ctx) -> None:
    latest = _newest_set(ctx)
    manifest = backups.read_manifest(ctx.paths)
    listed = [e["name"] for e in manifest.get("files", [])]
    victim = latest["media"] if latest["media"].name in listed else ctx.paths.backups / listed[-1]
    victim.unlink(missing_ok=True)
    _sidecar(victim).unlink(missing_ok=True)


_MUTATIONS = {
    "stale-backup": _mutate_stale,
    "checksum-of-uncompressed": _mutate_checksum_uncompressed,
    "truncated-backup": _mutate_truncated,
    "manifest-lies": _mutate_manifest_lies,
}


def _backup_fault(name: str, doc: str) -> None:
    def apply(ctx: Ctx, data: Data) -> None:
        _newest_set(ctx)
        backups.snapshot(ctx.paths)
        _MUTATIONS[name](ctx)

    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        backups.restore_snapshot(ctx.paths)
        remaining = [f for f in ctx.state.faults if f in BACKUP_FAULTS]
        if remaining:
            for other in remaining:  # the snapshot predates them all: apply the others again
                _MUTATIONS[other](ctx)
        else:
            backups.drop_snapshot(ctx.paths)

    CATALOGUE[name] = Fault(name, doc, apply, heal)


_backup_fault("stale-backup", "the newest backup set is 30 hours old (newer sets gone, names/mtimes/manifest say so)")
_backup_fault("checksum-of-uncompressed",
              "the newest dump's .sha256 sidecar holds the digest of the SQL before gzip, not of the .sql.gz")
_backup_fault("truncated-backup",
              "the newest dump is truncated; its sidecar and manifest were recomputed after, so only an integrity check sees it")
_backup_fault("manifest-lies", "manifest.json lists the newest media archive, which is missing")


# ---- env file / settings


@_register("env-placeholder", "the env file holds a placeholder secret: SMTP_PASSWORD=CHANGE_ME_SMTP_PASSWORD")
class _EnvPlaceholder:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        return {"original": ctx.values.get("SMTP_PASSWORD", "")}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        ctx.set_env({"SMTP_PASSWORD": "CHANGE_ME_SMTP_PASSWORD"})

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        ctx.set_env({"SMTP_PASSWORD": data["original"]})


@_register("debug-on", "production settings with DEBUG on: DEBUG=True in the env file and web recreated with it")
class _DebugOn:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        return {"original": ctx.values.get("DEBUG", "False")}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        ctx.set_env({"DEBUG": "True"})
        _recreate(ctx, "web")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        ctx.set_env({"DEBUG": data["original"]})
        if not for_down:
            _recreate(ctx, "web")


_flag("deploy-check-fails",
      "app flag read by the settings at import: HSTS off, so `manage.py check --deploy` fails in a new process "
      "while the running server keeps serving")


@_register("scheduled-backup-off", "app flag read by the settings at import, beat restarted with it: the Celery "
                                  "beat schedule has lost its backup task (no backup is taken any more)")
class _ScheduledBackupOff:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        path = _flag_path(ctx, "scheduled-backup-off")
        path.write_text("on\n")
        os.chmod(path, 0o644)
        _recreate(ctx, "beat")  # the running beat reads its schedule when it starts

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _flag_path(ctx, "scheduled-backup-off").unlink(missing_ok=True)
        if not for_down:
            _recreate(ctx, "beat")


@_register("log-errors", "app flag: /reports/ raises; a few requests leave tracebacks and 500s in the web log")
class _LogErrors:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        path = _flag_path(ctx, "log-errors")
        path.write_text(dt.datetime.now(dt.timezone.utc).isoformat() + "\n")
        os.chmod(path, 0o644)
        session = probes.Session(ctx.values)
        if not session.login():
            raise SandboxError("log-errors: could not log in as the demo user")
        codes = [session.get("/reports/").status for _ in range(3)]
        if 500 not in codes:
            raise SandboxError(f"log-errors: /reports/ answered {codes}, expected 500s")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _flag_path(ctx, "log-errors").unlink(missing_ok=True)
        if not for_down:
            _recreate(ctx, "web")  # a fresh container: its log is clean again


# ---- host: DNS and ports


@_register("dns-wrong-address",
           f"the DNS server answers {dnsmasq.WRONG_ADDRESS} for {APP_HOST} (another loopback address): "
           "the name points away from the stack")
class _DnsWrongAddress:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        dnsmasq.start_server(ctx.paths, ctx.values, ctx.state)  # restarted: the fault is already recorded

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down:
            dnsmasq.start_server(ctx.paths, ctx.values, ctx.state)


PORT_SQUATTER = "port-taken"
# a stray listener: binds the port, listens, and waits for a signal
_LISTENER = ("import signal, socket, sys\n"
             "s = socket.socket()\n"
             "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
             "s.listen()\n"
             "signal.pause()\n")


@_register("port-taken",
           "another process (a stray listener) holds SANDBOX_SPARE_PORT, a port the stack needs free for its next release")
class _PortTaken:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        spare = int(ctx.values["SANDBOX_SPARE_PORT"])
        if not is_free(spare):
            raise SandboxError(f"port {spare} (SANDBOX_SPARE_PORT) is already taken")
        return {"port": spare}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        pid = start(ctx.paths, PORT_SQUATTER, [sys.executable, "-c", _LISTENER, str(data["port"])])
        if not wait_listening(data["port"], timeout=10):
            raise SandboxError(f"the stray listener (pid {pid}) did not listen on {data['port']}; "
                               f"see {ctx.paths.log(PORT_SQUATTER)}")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        stop(ctx.paths, PORT_SQUATTER, timeout=5)


# sessions on the database a deploy would wait on (NPR-7): a process of the app's role holding them open, named
# after its fault (its pid file and its sessions' application_name)
#: how long lock-held's transaction has been idle before the fault counts as applied: beyond the sandbox profile's
#: [database.sessions] thresholds (3 s)
LOCK_AGE_S = 4.0
#: connections-exhausted leaves this many connection slots of ordinary roles free (the sandbox profile allows 80 %)
FREE_SLOTS = 6
# argv: dsn, application name, "lock" (read shop_sale in a transaction and stay idle in it) or "connections" N
_DB_HOLDER = ("import signal, sys, psycopg\n"
              "dsn, name, mode = sys.argv[1:4]\n"
              "count = 1 if mode == 'lock' else int(sys.argv[4])\n"
              "held = [psycopg.connect(dsn, application_name=name, connect_timeout=5) for _ in range(count)]\n"
              "if mode == 'lock':\n"
              "    held[0].execute('SELECT count(*) FROM shop_sale')  # a transaction begins: idle in it after\n"
              "print('holding', len(held), 'session(s)', flush=True)\n"
              "signal.pause()\n")


def _holder_sessions(ctx: Ctx, name: str) -> list[tuple[str, float]]:
    """The sessions of fault ``name``'s holder on the server: (state, seconds in that state)."""
    out = postgres.psql(ctx.paths, ctx.values, "SELECT state, extract(epoch FROM now() - state_change) "
                        f"FROM pg_stat_activity WHERE application_name = 'sandbox-{name}'").stdout
    return [(state, float(age)) for state, age in (line.split("|") for line in out.splitlines() if "|" in line)]


def _client_sessions(ctx: Ctx) -> int:
    return int(postgres.psql(ctx.paths, ctx.values, "SELECT count(*) FROM pg_stat_activity "
                             "WHERE backend_type = 'client backend'").stdout.strip())


def _start_holder(ctx: Ctx, name: str, *args: str) -> int:
    return start(ctx.paths, name, [sys.executable, "-c", _DB_HOLDER, ctx.values["DATABASE_URL"], f"sandbox-{name}", *args])


def _stop_holder(ctx: Ctx, name: str, for_down: bool) -> None:
    stop(ctx.paths, name, timeout=5)
    if not for_down:
        wait_until(lambda: not _holder_sessions(ctx, name), 10, f"the sessions of {name}'s holder to end")


@_register("lock-held", "a session of the app's role read shop_sale inside a transaction and stays idle in it: a lock "
                        f"a migration of shop_sale would wait on (NPR-7), idle {LOCK_AGE_S:g} s when applied")
class _LockHeld:
    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        pid = _start_holder(ctx, "lock-held", "lock")
        wait_until(lambda: any(state == "idle in transaction" and age > LOCK_AGE_S
                               for state, age in _holder_sessions(ctx, "lock-held")), 20,
                   f"the holder (pid {pid}) idle in its transaction for {LOCK_AGE_S:g} s; see {ctx.paths.log('lock-held')}")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _stop_holder(ctx, "lock-held", for_down)


@_register("connections-exhausted", f"a process of the app's role holds connections open until {FREE_SLOTS} of the "
                                    "server's slots for ordinary roles are left (a release leaking connections, NPR-7)")
class _ConnectionsExhausted:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        limit = postgres.psql(ctx.paths, ctx.values, "SELECT current_setting('max_connections')::int - "
                              "current_setting('superuser_reserved_connections')::int").stdout.strip()
        target = int(limit) - FREE_SLOTS
        return {"target": target, "open": max(1, target - _client_sessions(ctx))}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        pid = _start_holder(ctx, "connections-exhausted", "connections", str(data["open"]))
        wait_until(lambda: len(_holder_sessions(ctx, "connections-exhausted")) >= data["open"], 20,
                   f"the holder (pid {pid}) to open {data['open']} connections; "
                   f"see {ctx.paths.log('connections-exhausted')}")

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        _stop_holder(ctx, "connections-exhausted", for_down)


@_register("shared-volume", "staging's web mounts prod's media dir instead of its own <state>/staging/media: prod "
                            "and staging share a volume (needs staging: `up --with-staging`)")
class _SharedVolume:
    @staticmethod
    def prepare(ctx: Ctx) -> Data:
        staging.require_up(ctx)
        return {"service": "web", "source": str(ctx.paths.media), "target": staging.MEDIA_TARGET}

    @staticmethod
    def apply(ctx: Ctx, data: Data) -> None:
        staging.recreate_web(ctx)

    @staticmethod
    def heal(ctx: Ctx, data: Data, for_down: bool) -> None:
        if not for_down and staging.is_up(ctx):
            staging.recreate_web(ctx)


_flag("slow-api", "app flag: every response except /health/live/ is delayed by 700 ms")
_flag("flapping", "app flag: every fifth request (counted per web process since the flag appeared, /health/live/ "
                  "left out) answers 502 Bad Gateway, through Traefik; the rest answer as usual")
_flag("sale-broken", "app flag: recording a sale fails (\"Payment terminal unavailable\"); health stays green")
_flag("invoice-broken", "app flag: the invoice page has no lines/total and the PDF download is empty; health stays green")
_flag("credit-broken", "app flag: a payment against credit shows success but the balance does not change")
_flag("webhook-unverified", "app flag: the payments webhook skips signature verification and answers 200 to any event")

ORDER = [
    "db-down", "redis-down", "health-body-unhealthy", "pending-migration", "migrations-failed", "mixed-tags",
    "previous-release-missing", "restart-loop", "unhealthy-container", "router-wrong-host", "router-orphan", "backend-down",
    "ws-broken", "cert-expiring", "stale-backup", "checksum-of-uncompressed", "truncated-backup",
    "manifest-lies", "scheduled-backup-off", "env-placeholder", "debug-on", "deploy-check-fails", "log-errors",
    "dns-wrong-address", "port-taken", "slow-api", "sale-broken", "invoice-broken", "credit-broken",
    "nginx-config-broken", "static-missing", "frontend-down", "webhook-unverified",
    "beat-down", "worker-not-ready",
    "shared-volume",
    "rows-lost", "flapping",
    "lock-held", "connections-exhausted",
]
assert set(ORDER) == set(CATALOGUE), set(ORDER) ^ set(CATALOGUE)


# ------------------------------------------------------------------------------------ commands


def listing(ctx: Ctx | None = None) -> list[str]:
    active = ctx.state.faults if ctx else {}
    width = max(len(n) for n in ORDER)
    return [f"{name:{width}s}  {CATALOGUE[name].doc}{'  [active]' if name in active else ''}" for name in ORDER]


def _get(name: str) -> Fault:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise SandboxError(f"unknown fault {name!r}; `python -m sandbox faults` lists them") from None


def apply_fault(ctx: Ctx, name: str) -> None:
    fault = _get(name)
    ctx.require_env()
    if name in ctx.state.faults:
        progress("fault", f"{name} is already active")
        return
    t0 = time.monotonic()
    data = fault.prepare(ctx)
    data["applied_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
    ctx.state.faults[name] = data
    ctx.state.save()
    try:
        fault.apply(ctx, data)
    except Exception:
        progress("fault", f"{name} failed to apply; reverting")
        ctx.state.faults.pop(name, None)
        ctx.state.save()
        try:
            fault.heal(ctx, data, False)
        except Exception as exc:  # noqa: BLE001 - the original error matters more
            progress("fault", f"revert of {name} failed too: {exc}")
        raise
    progress("fault", f"{name} applied ({time.monotonic() - t0:.1f}s): {fault.doc}")


def heal_fault(ctx: Ctx, name: str, for_down: bool = False) -> None:
    fault = _get(name)
    if name not in ctx.state.faults:
        progress("heal", f"{name} is not active")
        return
    t0 = time.monotonic()
    data = ctx.state.faults.pop(name)
    ctx.state.save()
    try:
        fault.heal(ctx, data, for_down)
    except Exception:
        ctx.state.faults[name] = data
        ctx.state.save()
        raise
    progress("heal", f"{name} healed ({time.monotonic() - t0:.1f}s)")


def heal_all(ctx: Ctx, for_down: bool = False) -> None:
    active = sorted(ctx.state.faults, key=lambda n: ctx.state.faults[n].get("applied_at", ""))
    if not active:
        if not for_down:
            progress("heal", "no active fault")
        return
    for name in reversed(active):
        try:
            heal_fault(ctx, name, for_down=for_down)
        except Exception as exc:  # noqa: BLE001 - `down` goes on whatever a heal did
            if not for_down:
                raise
            progress("heal", f"{name}: {exc} (continuing with down)")
            ctx.state.faults.pop(name, None)
            ctx.state.save()
