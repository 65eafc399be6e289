"""gonogo's structure: no import circle in the package, and loading a profile imports no probe and no client.

A profile's tables are declared in ``gonogo/sections/`` and the probes in ``gonogo/probes/``: loading a
profile (the plugin does it at start-up, every xdist worker again) needs the first and none of the second,
nor the client libraries the probes talk through (``gonogo/lazy.py``).
"""

from __future__ import annotations

import graphlib
import json
import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import conninfo

from gonogo.sections.database import PLAIN_URL

ROOT = Path(__file__).resolve().parents[2]
#: the client libraries of the subjects: a probe imports each when it first talks to its component
CLIENTS = ("docker", "paramiko", "psycopg", "redis", "celery", "kombu", "alembic", "dns", "websocket", "websockets",
           "playwright", "pypdf", "prometheus_client", "cryptography", "psutil")


def import_cycle(package: str) -> list[str] | None:
    """One import circle among the package's modules (``[a, b, a]``), or None; ``if TYPE_CHECKING:`` imports
    are left out (they never run)."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=True, cache_dir=None)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    try:
        graphlib.TopologicalSorter(imports).prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


def test_gonogo_has_no_import_circle() -> None:
    cycle = import_cycle("gonogo")

    assert cycle is None, f"import circle: {' -> '.join(cycle or [])}"


def test_an_import_circle_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above finds a circle, and says which modules it runs through."""
    package = tmp_path / "circle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle import b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nfrom circle import c\n"
                                  "if TYPE_CHECKING:\n    from circle import a\n")
    (package / "c.py").write_text("import circle.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    cycle = import_cycle("circle")

    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"circle.a", "circle.b", "circle.c"}
    (package / "c.py").write_text("")  # b's import of a only under TYPE_CHECKING: no circle
    assert import_cycle("circle") is None


def loaded_modules(name: str, environ: dict[str, str]) -> list[str]:
    """The modules a fresh interpreter holds after loading ``environments/<name>.toml`` with the public loader."""
    code = ("import json, os, sys; from pathlib import Path; from gonogo.environment import load; "
            f"env = load({name!r}, 'test', Path('environments'), Path('.'), dict(os.environ)); "
            "print(json.dumps(sorted(sys.modules)))")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GONOGO_", "SANDBOX_"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**keep, **environ}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def unwanted(modules: list[str]) -> list[str]:
    return [m for m in modules if m == "gonogo.probes" or m.startswith("gonogo.probes.")
            or m.split(".")[0] in CLIENTS]


def test_loading_the_sandbox_profile_imports_no_probe_and_no_client(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    ports = ("SANDBOX_HTTPS_PORT", "SANDBOX_HTTP_PORT", "SANDBOX_TRAEFIK_API_PORT", "SANDBOX_SPARE_PORT",
             "SANDBOX_REDIS_PORT", "SANDBOX_PG_PORT", "SANDBOX_DNS_PORT", "WEB_PORT", "FRONTEND_PORT")
    values = {**{port: "1" for port in ports}, "RELEASE": "abc1234", "PREVIOUS_RELEASE": "abc1233",
              "ROLLBACK_TARGET": "abc1233", "SANDBOX_CA_FILE": str(ca_file),
              "SANDBOX_DOCKER_HOST": "unix:///nonexistent.sock", "REDIS_URL": "redis://127.0.0.1:1/0",
              "DATABASE_URL_READONLY": "postgresql://ro:Pw_3x-Yz@127.0.0.1:1/boutique",
              "SCRATCH_DATABASE_URL": "postgresql://s:Pw_3x-Yz@127.0.0.1:1/boutique_restore_scratch",
              "DEMO_USER": "demo", "DEMO_PASSWORD": "demo-password"}
    (tmp_path / ".env.sandbox").write_text("".join(f"{k}={v}\n" for k, v in values.items()))

    modules = loaded_modules("sandbox", {"SANDBOX_STATE_DIR": str(tmp_path)})

    assert unwanted(modules) == []
    assert "gonogo.profile" in modules  # the profile did load


def test_loading_the_prod_template_imports_no_probe_and_no_client(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    env_file.write_text("SECRET_KEY=x\n")
    lines = (ROOT / "environments" / "prod.toml").read_text().splitlines()
    names = {part.split("}")[0].split(":")[0] for line in lines for part in line.split("#", 1)[0].split("${")[1:]}
    values = {name: f"value-of-{name.lower()}" for name in names}
    values |= {"ENV_FILE": str(env_file), "DOCKER_HOST": "unix:///nonexistent.sock",
               "DATABASE_URL_READONLY": "postgresql://ro:pw@127.0.0.1:1/shop", "TRAEFIK_API": "http://127.0.0.1:1",
               "REDIS_URL": "redis://127.0.0.1:1/0", "SCRATCH_DATABASE_URL": "postgresql://s:pw@127.0.0.1:1/scratch"}

    modules = loaded_modules("prod", values)

    assert unwanted(modules) == []
    assert "gonogo.profile" in modules


@given(st.from_regex(PLAIN_URL, fullmatch=True))
def test_libpq_reads_every_dsn_the_profile_accepts_without_it(dsn: str) -> None:
    """The [database] dsn (and [backups] restore_into) of that plain shape is accepted without asking libpq
    (so loading the profile imports no psycopg): libpq itself reads every one."""
    from psycopg import conninfo

    conninfo.conninfo_to_dict(dsn)
