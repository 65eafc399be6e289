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
inventory_of = core.inventory_of


# ---------------------------------------------------------------------------------------- PostgreSQL

import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from pg import Postgres, as_postgres, free_port, throwaway_postgres  # noqa: E402

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
    """A real PostgreSQL 15 (tests/probes/pg.py) for the session, with the databases ``shop`` (owned by
    ``owner``; a few tables with rows, and ``shop_event`` with 100 000: a dump of a few MB) and
    ``shop_scratch``. Stopped by its pid at the end."""
    with throwaway_postgres() as pg:
        pg.admin("CREATE DATABASE shop OWNER owner")
        pg.admin("CREATE DATABASE shop_scratch OWNER owner")
        with psycopg.connect(pg.dsn("owner", "shop"), autocommit=True) as conn:
            conn.execute(_SHOP.encode())
        pg.default_db = "shop"
        yield pg


@pytest.fixture
def pgbouncer(postgres: Postgres) -> Iterator[Any]:
    """``pgbouncer(ignore, databases)``: start Debian's PgBouncer (session pooling) in front of
    ``postgres`` with ``ignore_startup_parameters = ignore`` and ``[databases]`` aliases
    (name -> database of ``postgres``; default ``shop``); returns its port. Users ``reader`` and
    ``owner``. Stopped by its pid after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(ignore: str, databases: dict[str, str] | None = None) -> int:
        folder = Path(tempfile.mkdtemp(prefix="pgbouncer-", dir=postgres.root))
        port = free_port()
        aliases = "".join(f"{alias} = host=127.0.0.1 port={postgres.port} dbname={name}\n"
                          for alias, name in (databases or {"shop": "shop"}).items())
        (folder / "userlist.txt").write_text(f'"reader" "{postgres.password}"\n"owner" "{postgres.password}"\n')
        (folder / "pgbouncer.ini").write_text(
            f"[databases]\n{aliases}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n"
            f"unix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {folder / 'userlist.txt'}\n"
            f"pool_mode = session\nignore_startup_parameters = {ignore}\nlogfile = {folder / 'pgbouncer.log'}\n")
        ids = as_postgres()
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


# ---------------------------------------------------------------------------------------- Docker Engine

from dockerd import Engine, import_tiny_image, throwaway_dockerd  # noqa: E402


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Engine]:
    """A private dockerd for the session (tests/probes/dockerd.py) with the tiny image imported; stopped by its pid."""
    with throwaway_dockerd() as engine:
        client = engine.client()
        import_tiny_image(client)
        client.close()
        yield engine
