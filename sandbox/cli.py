"""`python -m sandbox COMMAND`: the lifecycle command of the gonogo sandbox."""

from __future__ import annotations

import argparse
import sys

import docker.errors

from . import SandboxError, backups, deploy, faults, lifecycle, progress, set_quiet
from .context import Ctx
from .state import Paths, command_lock, resolve_state_dir

EPILOG = """commands:
  up [--release ID] [--with-staging]
                          start everything (first run: build images, generate the env file); idempotent;
                          --with-staging: staging beside prod too (project boutique-staging, staging.shop.localhost)
  down [--purge]          stop every process the sandbox started (by pid), staging's containers too;
                          --purge also deletes the state dir
  status [--json]         what runs, the release, active faults
  deploy ID               pre-deploy backup, build/tag images, run migrations, switch services
  rollback [--restore-db|--app-only]
                          back to the previous release: the database migrated back first (default),
                          the pre-deploy backup restored (--restore-db), or left as it is (--app-only)
  backup                  manage.py backup in the worker container (retention included)
  fault NAME              apply a fault from the catalogue
  heal [NAME]             heal one fault, or all active faults
  faults                  list the fault catalogue, one line each
ID is a version (1.0.0, 1.1.0) or a 7-hex release id. State: sandbox/.state, or SANDBOX_STATE_DIR, or --state-dir."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    p.add_argument("--state-dir", help="state directory (default: $SANDBOX_STATE_DIR or sandbox/.state)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", help="start the sandbox")
    up.add_argument("--release", help="version or release id (default: the current one, else the newest)")
    up.add_argument("--with-staging", action="store_true",
                    help="also bring up staging beside prod (Compose project boutique-staging, staging.shop.localhost)")
    down = sub.add_parser("down", help="stop everything the sandbox started")
    down.add_argument("--purge", action="store_true", help="also delete the state dir (data, images, env file)")
    st = sub.add_parser("status", help="show what runs")
    st.add_argument("--json", action="store_true")
    dep = sub.add_parser("deploy", help="deploy a release")
    dep.add_argument("release")
    rb = sub.add_parser("rollback", help="roll back to the previous release")
    how = rb.add_mutually_exclusive_group()
    how.add_argument("--restore-db", action="store_true", help="restore the pre-deploy backup first")
    how.add_argument("--app-only", action="store_true",
                     help="switch the application only: the newer release's migrations stay applied")
    sub.add_parser("backup", help="take a backup")
    f = sub.add_parser("fault", help="apply a fault")
    f.add_argument("name")
    h = sub.add_parser("heal", help="heal a fault (all when no name)")
    h.add_argument("name", nargs="?")
    sub.add_parser("faults", help="list the fault catalogue")
    return p


def run(args: argparse.Namespace) -> int:
    set_quiet(args.quiet)
    paths = Paths(resolve_state_dir(args.state_dir))
    if args.command == "faults":
        ctx = Ctx(paths) if paths.state_json.exists() else None
        print("\n".join(faults.listing(ctx)))
        return 0
    if args.command == "status":
        return lifecycle.status(paths, as_json=args.json)
    with command_lock(paths):
        if args.command == "up":
            lifecycle.up(paths, release=args.release, with_staging=args.with_staging)
        elif args.command == "down":
            lifecycle.down(paths, purge=args.purge)
        elif args.command == "deploy":
            deploy.deploy(paths, args.release)
        elif args.command == "rollback":
            deploy.rollback(paths, restore_db=args.restore_db, app_only=args.app_only)
        elif args.command == "backup":
            ctx = Ctx(paths)
            ctx.require_env()
            backups.take(ctx)
        elif args.command == "fault":
            faults.apply_fault(Ctx(paths), args.name)
        elif args.command == "heal":
            ctx = Ctx(paths)
            if args.name:
                faults.heal_fault(ctx, args.name)
            else:
                faults.heal_all(ctx)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except docker.errors.DockerException as exc:
        print(f"sandbox: Docker Engine error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress("sandbox", "interrupted")
        return 130
