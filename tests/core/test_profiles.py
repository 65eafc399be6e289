"""The profiles a team starts from (environments/prod.toml, staging.toml), as a user runs them.

``pytest -m postdeploy --env prod`` in this repository, in a subprocess: with no variable set it stops
at once (exit 4) and names every missing variable in one line; with each one set (to values that
point nowhere) the profile loads and every subject's checks are collected.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def variables(name: str) -> list[str]:
    """The variables a profile uses (its comments left out)."""
    lines = (ROOT / "environments" / f"{name}.toml").read_text().splitlines()
    return sorted({v for line in lines for v in PROFILE_VARIABLE.findall(line.split("#", 1)[0])})


def gate(name: str, tmp_path: Path, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in variables(name) and not k.startswith(("PYTEST_", "GONOGO_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "postdeploy", "--env", name, "-p", "no:cacheprovider", "-q",
         f"--gate-file={tmp_path / 'gate.json'}", f"--alluredir={tmp_path / 'results'}", *args],
        cwd=ROOT, env={**env, **environ}, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_unset_variables_are_named_in_one_line(name, tmp_path):
    done = gate(name, tmp_path, {})

    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 4, done.stdout + done.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"ERROR: environments/{name}.toml: {len(variables(name))} variables are not set")
    for variable in variables(name):
        assert f" {variable} ([" in lines[0], variable


@pytest.mark.parametrize("name", ["prod", "staging"])
def test_with_the_variables_set_every_subject_is_collected(name, tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("SECRET_KEY=x\n")
    values = {variable: f"value-of-{variable.lower()}" for variable in variables(name)}
    values |= {"ENV_FILE": str(env_file), "DOCKER_HOST": "unix:///nonexistent.sock",
               "DATABASE_URL_READONLY": "postgresql://ro:pw@127.0.0.1:1/shop", "TRAEFIK_API": "http://127.0.0.1:1",
               "REDIS_URL": "redis://127.0.0.1:1/0", "SCRATCH_DATABASE_URL": "postgresql://s:pw@127.0.0.1:1/scratch"}

    done = gate(name, tmp_path, values, "--collect-only")

    assert done.returncode == 1, done.stdout + done.stderr  # --collect-only judges nothing: no verdict
    assert "gonogo: no verdict: --collect-only runs no check" in done.stdout
    subjects = {m.group(1) for m in re.finditer(r"^checks/test_(\w+)\.py::", done.stdout, re.MULTILINE)}
    assert {"health", "containers", "logs", "migrations", "traefik", "tls", "websocket", "webhooks", "frontend",
            "workers", "isolation", "database", "commands"} <= subjects
    assert "not configured" not in done.stdout


def test_the_readme_explains_every_variable_of_the_profiles():
    readme = (ROOT / "README.md").read_text()
    for variable in sorted(set(variables("prod")) | set(variables("staging"))):
        assert f"`{variable}`" in readme, variable
