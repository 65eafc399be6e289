"""A throwaway PostgreSQL 15 for the probe tests (Debian's postgresql-15), as the sandbox runs its own.

``initdb`` refuses root: the cluster belongs to the ``postgres`` user, in a fresh folder under /tmp
(pytest's tmp folders are private to root), with a private socket directory and a free loopback
port; local connections trust, TCP ones need a password (scram). :class:`Postgres` starts and stops
it by its pid and gives the tests an admin session (over the socket) and password DSNs (over TCP).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """One private cluster: ``start()``, ``stop()``, ``admin(sql)``, ``dsn(user, password, db)``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _as_postgres(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(argv, user=OS_USER, cwd="/", capture_output=True, check=True, timeout=60, **kw)

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self._as_postgres([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--encoding=UTF8",
                               "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"])
        log = (self.root / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "postgres"), "-D", str(self.data), "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}",
             "-c", f"unix_socket_directories={self.sockets}", "-c", "fsync=off", "-c", "max_connections=40"],
            user=OS_USER, cwd="/", stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while subprocess.run([str(BIN / "pg_isready"), "-q", "-h", str(self.sockets), "-p", str(self.port)],
                             check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start: {(self.root / 'postgres.log').read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            self.process.wait(timeout=30)
        self.process = None

    def admin(self, sql: str, db: str = "postgres", params: Any = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` as the superuser over the socket (autocommit); the rows it returns, if any."""
        with psycopg.connect(host=str(self.sockets), port=self.port, user="postgres", dbname=db,
                             autocommit=True) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]  # the tests' own SQL
            return cursor.fetchall() if cursor.description else []

    def dsn(self, user: str, password: str, db: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def database(self, name: str) -> str:
        """A fresh, empty database ``name`` (dropped first if it exists); a DSN of ``reader`` on it."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin(f'CREATE DATABASE "{name}"')
        return self.dsn("reader", "reader-password-1", name)


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """A started cluster with a login role ``reader`` (password ``reader-password-1``, reads everything);
    stopped and removed afterwards."""
    uid, gid = pwd.getpwnam(OS_USER)[2:4]
    root = Path(tempfile.mkdtemp(prefix="gonogo-pg-", dir="/tmp"))
    (root / "sockets").mkdir()
    for path in (root, root / "sockets"):
        os.chown(path, uid, gid)
    server = Postgres(root)
    try:
        server.start()
        server.admin("CREATE ROLE reader LOGIN PASSWORD 'reader-password-1'; GRANT pg_read_all_data TO reader")
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
