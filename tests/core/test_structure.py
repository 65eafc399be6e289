"""gonogo's structure: no import circle in gonogo/ nor in sandbox/, and loading a profile imports no probe and no
client.

A profile's tables are declared in ``gonogo/sections/`` and the probes in ``gonogo/probes/``: loading a
profile (the plugin does it at start-up, every xdist worker again) needs the first and none of the second,
nor the client libraries the probes talk through (``gonogo/lazy.py``).
"""

from __future__ import annotations

import ast
import graphlib
import inspect
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import grimp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import conninfo

from gonogo import lazy, subjects
from gonogo.environment import inner_model
from gonogo.profile import Profile
from gonogo.sections.database import PLAIN_URL
from gonogo.stack import Stack

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


@pytest.mark.parametrize("package", ["gonogo", "sandbox"])
def test_no_import_circle(package: str) -> None:
    cycle = import_cycle(package)

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
    conninfo.conninfo_to_dict(dsn)


# ----------------------------------------------------------------------------------------- the subjects' registry


def typed_lines(name: str) -> list[str]:
    """The annotations of class ``name`` in gonogo/subjects.py's ``if TYPE_CHECKING:`` block, as written."""
    tree = ast.parse((ROOT / "gonogo" / "subjects.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
                 and any(isinstance(n, ast.ClassDef) for n in node.body))
    cls = next(n for n in block.body if isinstance(n, ast.ClassDef) and n.name == name)
    return [f"{ast.unparse(n.target)}: {ast.unparse(n.annotation)}" for n in cls.body if isinstance(n, ast.AnnAssign)]


def test_the_typed_lines_follow_the_registry() -> None:
    """What type checkers and editors see of ``profile.<key>`` and ``stack.<name>`` is the table's, in its order
    (the message gives the lines to write)."""
    tables = [f"{s.key}: list[{s.section_class().__name__}]" if s.many else f"{s.key}: {s.section_class().__name__} | None"
              for s in subjects.SUBJECTS if s.key]
    probes = [f"{s.name}: {inspect.get_annotations(s.factory())['return']}" for s in subjects.SUBJECTS if s.probe]

    assert typed_lines("Tables") == tables, "gonogo/subjects.py, class Tables:\n" + "\n".join(tables)
    assert typed_lines("Probes") == probes, "gonogo/subjects.py, class Probes:\n" + "\n".join(probes)


def test_the_profile_is_the_registrys_tables_between_environment_and_gate() -> None:
    keys = [s.key for s in subjects.SUBJECTS if s.key]

    assert list(Profile.model_fields) == ["environment", *keys, "gate"]
    for subject in subjects.SUBJECTS:
        if subject.key:
            field = Profile.model_fields[subject.key]
            assert inner_model(field.annotation) is subject.section_class()
            assert (field.default_factory is list) if subject.many else (field.default is None)


def test_every_stack_attribute_a_check_uses_is_in_the_registry() -> None:
    used = {m.group(1) for folder in ("checks", "smoke", "fixtures") for path in (ROOT / folder).rglob("*.py")
            for m in re.finditer(r"\bstack\.([a-z_]+)\b", path.read_text())}
    own = {name for name in vars(Stack) if not name.startswith("_")} | {"env"}

    assert sorted(used - own - {s.name for s in subjects.SUBJECTS if s.probe}) == []
    assert {"http", "docker", "commands", "host", "db", "migrations", "websocket", "webhooks", "frontend", "workers",
            "isolation", "rollback", "containers", "logs", "smoke", "traefik", "tls", "backups", "restore",
            "config"} <= {s.name for s in subjects.SUBJECTS if s.probe}


def test_the_stack_imports_a_probe_when_a_check_first_asks_for_it(tmp_path: Path) -> None:
    """``stack.http`` imports gonogo.probes.http alone, builds the probe once and keeps it; a name that is no
    subject's probe is an AttributeError; a subject the profile leaves out skips as not configured."""
    (tmp_path / "p.toml").write_text('[environment]\nrelease = "1"\nresolve = { "shop.test" = "127.0.0.1" }\n')
    code = ("import json, os, sys; from pathlib import Path; import pytest; from gonogo.environment import load; "
            "from gonogo.stack import Stack; "
            f"stack = Stack(load('p', 'test', Path({str(tmp_path)!r}), Path('.'), {{}})); "
            "first = stack.http; same = stack.http is first; "
            "probes = sorted(m for m in sys.modules if m.startswith('gonogo.probes.')); "
            "missing = not hasattr(stack, 'nothing'); "
            "skipped = ''\n"
            "try:\n    stack.docker\nexcept pytest.skip.Exception as exc:\n    skipped = str(exc)\n"
            "print(json.dumps([probes, same, missing, skipped, first.resolve]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    probes, same, missing, skipped, resolve = json.loads(done.stdout.splitlines()[-1])

    assert probes == ["gonogo.probes.http", "gonogo.probes.silence"]
    assert same and missing and resolve == {"shop.test": "127.0.0.1"}
    assert "not configured" in skipped and "[docker]" in skipped


def test_a_lazy_client_is_imported_once_on_first_use_from_any_thread(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """gonogo/lazy.py: nothing is imported until an attribute is read; threads that read at once, while the module
    is still executing, all get the real attribute (importlib's LazyLoader gives them AttributeError on 3.11)."""
    (tmp_path / "slow_client.py").write_text("import time\ntime.sleep(0.3)\nVALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    client = lazy.module("slow_client")
    assert "slow_client" not in sys.modules

    results: list[object] = []

    def read() -> None:
        try:
            results.append(client.VALUE)
        except Exception as exc:  # the failure this test is about
            results.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert results == [42] * 8
    assert sys.modules["slow_client"].VALUE == 42
    monkeypatch.delitem(sys.modules, "slow_client")
