"""A throwaway PostgreSQL 15 for the probe tests (Debian's postgresql-15), as the sandbox runs its own.

``initdb`` refuses root: the cluster belongs to the ``postgres`` user, in a fresh folder under /tmp,
with a private socket directory and a free loopback port; local connections trust, TCP ones need a
password (scram). Every statement is logged with the session's application name (``log_statement =
all``), so a test can prove what a probe sent. :func:`throwaway_postgres` starts one and stops it by
its pid; :class:`Postgres` gives the tests an admin session (over the socket) and password DSNs.

Roles: ``postgres`` (superuser, socket only), ``reader`` (reads everything; its default says NOT
read-only, so a probe must make its sessions read-only itself) and ``owner`` (may create databases);
both have the password :data:`PASSWORD` over TCP.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
PASSWORD = "probe-pass-7f3a"

_ROLES = f"""
CREATE ROLE owner LOGIN CREATEDB PASSWORD '{PASSWORD}';
CREATE ROLE reader LOGIN PASSWORD '{PASSWORD}';
GRANT pg_read_all_data TO reader;
ALTER ROLE reader SET default_transaction_read_only = off
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres() -> dict[str, Any]:
    """``subprocess`` arguments that run a program as the ``postgres`` user."""
    pw = pwd.getpwnam(OS_USER)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


@dataclass
class Postgres:
    """One running cluster: its folder, port and server process."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    password: str = PASSWORD
    #: the database a DSN or an admin session names when the test names none
    default_db: str = "postgres"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def dsn(self, user: str = "reader", dbname: str | None = None, password: str | None = None,
            host: str = "127.0.0.1", port: int | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@{host}:{port or self.port}/{dbname or self.default_db}"

    def admin(self, sql: str, dbname: str | None = None, params: Any = None) -> list[tuple[Any, ...]]:
        """Run SQL as the superuser (over the private socket), autocommit; the rows, if any."""
        with psycopg.connect(host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname or self.default_db,
                             autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode() if params is None else sql, params)
            return cursor.fetchall() if cursor.description else []

    def database(self, name: str, user: str = "reader") -> str:
        """A fresh, empty database ``name`` (dropped first if it exists); a DSN of ``user`` on it."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', dbname="postgres")
        self.admin(f'CREATE DATABASE "{name}"', dbname="postgres")
        return self.dsn(user, name)

    def log_size(self) -> int:
        """Where the server's log ends now."""
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        """What the server logged after ``offset`` (lines: ``<time> [<pid>] <user>@<db> app=<name> LOG: ...``)."""
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")

    def stop(self) -> None:
        """Fast shutdown (clients disconnected), by the server's pid."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _start(root: Path) -> Postgres:
    ids = as_postgres()
    subprocess.run([str(BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"],
                   check=True, capture_output=True, cwd="/", timeout=120, **ids)
    port = free_port()
    with open(root / "postgres.log", "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "postgres"), "-D", str(root / "data"), "-c", "listen_addresses=127.0.0.1",
             "-c", f"port={port}", "-c", f"unix_socket_directories={root / 'socket'}", "-c", "fsync=off",
             "-c", "max_connections=40", "-c", "shared_buffers=16MB",
             "-c", "log_line_prefix=%m [%p] %u@%d app=%a ", "-c", "log_statement=all"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/", start_new_session=True, **ids)
    server = Postgres(root, port, process)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode}: {server.log.read_text()[-2000:]}")
        try:
            server.admin("SELECT 1")
            return server
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """A started cluster with the roles ``reader`` and ``owner``; stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="gonogo-probe-pg-", dir="/tmp"))
    os.chmod(root, 0o755)
    (root / "socket").mkdir(mode=0o700)
    ids = as_postgres()
    for path in (root, root / "socket"):
        os.chown(path, ids["user"], ids["group"])
    server: Postgres | None = None
    try:
        server = _start(root)
        for statement in _ROLES.strip().split(";\n"):
            server.admin(statement)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
