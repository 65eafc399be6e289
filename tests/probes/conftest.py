"""Probe tests: each probe against its real component (real files, engines, servers), broken too.

The plugin tests' helpers (``run_gate``: a pytest run with gonogo in a pytester project) serve here
for the end-to-end runs of a real check module; they are loaded from tests/core/conftest.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_CORE = Path(__file__).resolve().parents[1] / "core" / "conftest.py"
_spec = importlib.util.spec_from_file_location("gonogo_core_test_helpers", _CORE)
assert _spec is not None and _spec.loader is not None
core = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = core  # dataclasses look their module up while the class is made
_spec.loader.exec_module(core)

run_gate = core.run_gate


# ---------------------------------------------------------------------------------------- PostgreSQL

import os  # noqa: E402
import pwd  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PASSWORD = "probe-pass-7f3a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Postgres:
    """A throwaway PostgreSQL 15 cluster: its port, private socket dir, data dir and server process.

    Roles: ``postgres`` (superuser, socket only), ``owner`` (owns the databases ``shop``, whose
    tables hold a few rows and ``shop_event`` 100 000 (a dump of a few MB), and ``shop_scratch``), ``reader`` (reads everything; its default says NOT
    read-only: ``ALTER ROLE reader SET default_transaction_read_only = off``). Every role but
    ``postgres`` has the password ``password`` over TCP.
    """

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    password: str = PG_PASSWORD

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def dsn(self, user: str = "reader", dbname: str = "shop", password: str | None = None,
            host: str = "127.0.0.1", port: int | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@{host}:{port or self.port}/{dbname}"

    def log_size(self) -> int:
        """Where the server's log ends now (it logs every statement: ``log_statement = all``)."""
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        """What the server logged after ``offset`` (lines: ``<time> [<pid>] <user>@<db> app=<name> LOG: ...``)."""
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")

    def admin(self, sql: str, dbname: str = "shop", params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run SQL as the superuser (over the private socket), autocommit; the rows, if any."""
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname,
                             autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode() if not params else sql, params or None)
            return cursor.fetchall() if cursor.description else []


def _as_postgres() -> dict[str, Any]:
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def _wait_accepting(pg: Postgres, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if pg.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {pg.process.returncode}: {pg.log.read_text()[-2000:]}")
        try:
            pg.admin("SELECT 1", dbname="postgres")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


_PROVISION = f"""
CREATE ROLE owner LOGIN CREATEDB PASSWORD '{PG_PASSWORD}';
CREATE ROLE reader LOGIN PASSWORD '{PG_PASSWORD}';
GRANT pg_read_all_data TO reader;
ALTER ROLE reader SET default_transaction_read_only = off;
CREATE DATABASE shop OWNER owner;
CREATE DATABASE shop_scratch OWNER owner;
"""

_SHOP = """
CREATE TABLE shop_product (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop_sale (id serial PRIMARY KEY, product_id int REFERENCES shop_product, total numeric NOT NULL);
CREATE TABLE django_migrations (id serial PRIMARY KEY, app text, name text, applied timestamptz DEFAULT now());
INSERT INTO shop_product (name) VALUES ('tea'), ('coffee');
INSERT INTO shop_sale (product_id, total) VALUES (1, 3.5), (2, 4.0), (2, 8.0);
INSERT INTO django_migrations (app, name) VALUES ('shop', '0001_initial'), ('shop', '0002_sale');
ALTER TABLE shop_product OWNER TO owner;
ALTER TABLE shop_sale OWNER TO owner;
ALTER TABLE django_migrations OWNER TO owner;
CREATE TABLE shop_event AS SELECT g AS id, md5(g::text) AS digest FROM generate_series(1, 100000) AS g;
ALTER TABLE shop_event OWNER TO owner;
"""


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL 15 (Debian's), initdb'd as ``postgres`` into a temporary folder, on a free
    loopback port with a private socket dir; the ``shop`` database holds a few tables with rows.
    Stopped by its pid (fast shutdown) at the end of the session."""
    root = Path(tempfile.mkdtemp(prefix="gonogo-probe-pg-"))
    os.chmod(root, 0o755)
    (root / "socket").mkdir(mode=0o700)
    as_postgres = _as_postgres()
    for path in (root, root / "socket"):
        os.chown(path, as_postgres["user"], as_postgres["group"])
    subprocess.run([str(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"],
                   check=True, capture_output=True, cwd="/", timeout=120, **as_postgres)
    port = _free_port()
    with open(root / "postgres.log", "wb") as log:
        process = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(root / "data"), "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={port}", "-c", f"unix_socket_directories={root / 'socket'}", "-c", "fsync=off",
             "-c", "max_connections=40", "-c", "shared_buffers=16MB",
             "-c", "log_line_prefix=%m [%p] %u@%d app=%a ", "-c", "log_statement=all"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True,
            **as_postgres)
    pg = Postgres(root, port, process)
    try:
        _wait_accepting(pg)
        for statement in _PROVISION.strip().split(";\n"):
            pg.admin(statement, dbname="postgres")
        with psycopg.connect(pg.dsn("owner"), autocommit=True) as conn:
            conn.execute(_SHOP.encode())
        yield pg
    finally:
        process.send_signal(signal.SIGINT)  # fast shutdown: disconnect the clients, stop
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pgbouncer(postgres: Postgres) -> Iterator[Any]:
    """``pgbouncer(ignore, databases)``: start Debian's PgBouncer (session pooling) in front of
    ``postgres`` with ``ignore_startup_parameters = ignore`` and ``[databases]`` aliases
    (name -> database of ``postgres``; default ``shop``); returns its port. Users ``reader`` and
    ``owner``. Stopped by its pid after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(ignore: str, databases: dict[str, str] | None = None) -> int:
        folder = Path(tempfile.mkdtemp(prefix="pgbouncer-", dir=postgres.root))
        port = _free_port()
        aliases = "".join(f"{alias} = host=127.0.0.1 port={postgres.port} dbname={name}\n"
                          for alias, name in (databases or {"shop": "shop"}).items())
        (folder / "userlist.txt").write_text(f'"reader" "{postgres.password}"\n"owner" "{postgres.password}"\n')
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n{aliases}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
            f"unix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {folder / 'userlist.txt'}\n"
            f"pool_mode = session\nignore_startup_parameters = {ignore}\nlogfile = {folder / 'pgbouncer.log'}\n")
        ids = _as_postgres()
        for path in (folder, *folder.iterdir()):
            os.chown(path, ids["user"], ids["group"])
        process = subprocess.Popen(["pgbouncer", str(folder / "pgbouncer.ini")], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True, **ids)
        started.append(process)
        _wait_listening(port, process)
        return port

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"pgbouncer did not listen on {port} (exit {process.poll()})")
