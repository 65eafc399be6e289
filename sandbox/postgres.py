"""PostgreSQL 15 from Debian's package: a private cluster under the state dir, run as user
``postgres`` on a loopback port with a private socket dir; roles ``boutique`` and ``gonogo_ro``."""

from __future__ import annotations

import os
import pwd
import signal
import time

from . import SandboxError, progress
from .envfile import db_password, port
from .ports import is_listening
from .processes import read_pid, require, run, start, stop
from .state import Paths

NAME = "postgres"
OS_USER = "postgres"


def _ids() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(OS_USER)
    except KeyError as exc:
        raise SandboxError("the OS user `postgres` is missing; install the Debian package postgresql-15") from exc
    return pw.pw_uid, pw.pw_gid


def _prepare_dirs(paths: Paths) -> None:
    uid, gid = _ids()
    for d in (paths.pg_data.parent, paths.pg_socket_dir):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, uid, gid)
        os.chmod(d, 0o700)
    # the postgres user must be able to traverse to its data dir
    p = paths.pg_data.parent.parent
    while p != p.parent:
        st = p.stat()
        if not st.st_mode & 0o001:
            os.chmod(p, st.st_mode | 0o001)
        p = p.parent


def initdb(paths: Paths) -> None:
    if (paths.pg_data / "PG_VERSION").exists():
        return
    initdb_bin = require("initdb")
    _prepare_dirs(paths)
    progress("postgres", f"initdb {paths.pg_data}")
    run(
        [initdb_bin, "-D", str(paths.pg_data), "-U", "postgres", "--encoding=UTF8", "--locale=C.UTF-8",
         "--auth-local=trust", "--auth-host=scram-sha-256"],
        user=OS_USER,
        cwd="/",
    )


def running(paths: Paths) -> int | None:
    return read_pid(paths, NAME)


def start_server(paths: Paths, values: dict[str, str]) -> None:
    pg_port = port(values, "SANDBOX_PG_PORT")
    pid = running(paths)
    if pid and is_listening(pg_port):
        progress("postgres", f"already running on 127.0.0.1:{pg_port} (pid {pid})")
        return
    initdb(paths)
    _prepare_dirs(paths)
    stale = paths.pg_data / "postmaster.pid"
    if stale.exists() and not pid:
        stale.unlink()  # left by a killed server of ours: the pid file check above says it is gone
    if is_listening(pg_port):
        raise SandboxError(f"port {pg_port} (SANDBOX_PG_PORT) is taken by another process")
    argv = [
        require("postgres"), "-D", str(paths.pg_data),
        "-c", "listen_addresses=127.0.0.1", "-c", f"port={pg_port}",
        "-c", f"unix_socket_directories={paths.pg_socket_dir}",
        "-c", "max_connections=60", "-c", "shared_buffers=64MB",
        "-c", "synchronous_commit=off", "-c", "logging_collector=off",
        # %a: the application name, so a statement log tells gonogo's sessions apart (log_statement is
        # off unless a test turns it on with ALTER SYSTEM: tests/sandbox/test_read_only_proof.py)
        "-c", "log_line_prefix=%m [%p] %u@%d app=%a ",
    ]
    pid = start(paths, NAME, argv, user=OS_USER, cwd=paths.pg_data)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not read_pid(paths, NAME):
            raise SandboxError(f"postgres exited at start; see {paths.log(NAME)}")
        ready = run([require("pg_isready"), "-q", "-h", str(paths.pg_socket_dir), "-p", str(pg_port)], check=False)
        if ready.returncode == 0 and is_listening(pg_port):
            break
        time.sleep(0.1)
    else:
        raise SandboxError(f"postgres did not accept connections within 30s; see {paths.log(NAME)}")
    progress("postgres", f"started on 127.0.0.1:{pg_port} (pid {pid})")
    provision(paths, values)


def psql(paths: Paths, values: dict[str, str], sql: str, db: str = "postgres", check: bool = True):
    return run(
        [require("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", str(paths.pg_socket_dir),
         "-p", values["SANDBOX_PG_PORT"], "-U", "postgres", "-d", db, "-c", sql],
        check=check,
    )


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def provision(paths: Paths, values: dict[str, str]) -> None:
    """Roles and databases of the contract (idempotent; passwords follow the env file)."""
    pw = db_password(values, "DATABASE_URL")
    ro_pw = db_password(values, "DATABASE_URL_READONLY")
    sql = f"""
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'boutique') THEN
    CREATE ROLE boutique LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gonogo_ro') THEN
    CREATE ROLE gonogo_ro LOGIN;
  END IF;
END$$;
ALTER ROLE boutique WITH LOGIN PASSWORD {_lit(pw)} CREATEDB;
ALTER ROLE gonogo_ro WITH LOGIN PASSWORD {_lit(ro_pw)};
GRANT pg_read_all_data TO gonogo_ro;
GRANT pg_monitor TO gonogo_ro;
ALTER ROLE gonogo_ro SET default_transaction_read_only = on;
"""
    psql(paths, values, sql)
    existing = set(psql(paths, values, "SELECT datname FROM pg_database").stdout.split())
    for db in ("boutique", "boutique_restore_scratch"):
        if db not in existing:
            psql(paths, values, f"CREATE DATABASE {db} OWNER boutique")
            progress("postgres", f"created database {db}")


def stop_server(paths: Paths) -> bool:
    # SIGINT = "fast" shutdown: roll back open transactions, disconnect clients, stop
    was = stop(paths, NAME, sig=signal.SIGINT, timeout=15)
    if was:
        progress("postgres", "stopped")
    return was


def provision_staging(paths: Paths, values: dict[str, str], staging: dict[str, str]) -> None:
    """Staging's own role and database in the same server (idempotent; its password follows .env.staging)."""
    psql(paths, values, f"""
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'boutique_staging') THEN
    CREATE ROLE boutique_staging LOGIN;
  END IF;
END$$;
ALTER ROLE boutique_staging WITH LOGIN PASSWORD {_lit(db_password(staging))};
""")
    if "boutique_staging" not in psql(paths, values, "SELECT datname FROM pg_database").stdout.split():
        psql(paths, values, "CREATE DATABASE boutique_staging OWNER boutique_staging")
        progress("postgres", "created database boutique_staging (staging)")
