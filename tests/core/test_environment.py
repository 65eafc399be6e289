"""Choosing the environment, reading its profile, and one clear line for every bad input."""

from __future__ import annotations

import json

import pytest

from gonogo import __version__

DEV = '[environment]\nrelease = "1.0-dev"\n'
STAGE = '[environment]\nrelease = "2.0-stage"\n'
PASSING = "def test_up():\n    pass\n"


@pytest.mark.parametrize(
    ("env", "environ", "ini", "source"),
    [
        pytest.param(None, {}, "stage", "ini gonogo_env", id="ini"),
        pytest.param("stage", {"GONOGO_ENV": "dev"}, "dev", "--env", id="option-beats-variable-and-ini"),
        pytest.param(None, {"GONOGO_ENV": "stage"}, "dev", "GONOGO_ENV", id="variable-beats-ini"),
    ],
)
def test_environment_choice_and_header(run_gate, pytester, env, environ, ini, source):
    if ini:
        pytester.makepyprojecttoml(f'[tool.pytest.ini_options]\ngonogo_env = "{ini}"\n')
    run = run_gate(PASSING, profile={"dev": DEV, "stage": STAGE}, env=env, environ=environ)

    assert run.ret == 0, run.log
    run.result.stdout.fnmatch_lines([
        f"gonogo {__version__}: environment stage (chosen by {source}), profile environments/stage.toml",
        "gonogo: target release 2.0-stage, *",
        "collected 1 item",
    ])
    gate = run.gate
    assert gate["environment"]["name"] == "stage"
    assert gate["environment"]["source"] == source
    assert gate["environment"]["profile"] == "environments/stage.toml"
    assert gate["target_version"] == "2.0-stage"


BAD_INPUTS = [
    pytest.param(
        {"dev": DEV, "stage": STAGE}, "prod",
        ["unknown environment 'prod'", "(from --env)", "available: dev, stage"],
        id="unknown-environment",
    ),
    pytest.param(
        {"dev": DEV, "stage": STAGE}, None,
        ["no environment chosen", "--env NAME", "GONOGO_ENV", "gonogo_env", "available: dev, stage"],
        id="no-environment-chosen",
    ),
    pytest.param(
        {"dev": '[environment]\nrelease = "1"\n\n[docker\ncompose_project = "shop"\n'}, "dev",
        ["environments/dev.toml", "TOML syntax error", "line 4"],
        id="toml-syntax-error",
    ),
    pytest.param(
        {"dev": '[environment]\nrelese = "1.0"\n'}, "dev",
        ["environments/dev.toml", "unknown key 'relese' in [environment]", "did you mean 'release'?"],
        id="unknown-key",
    ),
    pytest.param(
        {"dev": '[host]\nmin_free_disk_gb = "lots"\n'}, "dev",
        ["environments/dev.toml", "[host] min_free_disk_gb", "valid number", "'lots'"],
        id="wrong-type",
    ),
    pytest.param(
        {"dev": '[database]\ndsn = "postgresql://app:${GX_DB_PASSWORD}@db/shop"\n'}, "dev",
        ["environments/dev.toml", "[database] dsn uses ${GX_DB_PASSWORD}", "not set", "${GX_DB_PASSWORD:-default}"],
        id="missing-variable",
    ),
]


@pytest.mark.parametrize(("profile", "env", "expected"), BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_exit_4(run_gate, pytester, profile, env, expected):
    stale = pytester.path / "reports" / "gate.json"
    stale.parent.mkdir()
    stale.write_text('{"verdict": "GO"}')  # a verdict from an earlier run must not survive a bad one

    run = run_gate(PASSING, profile=profile, env=env)

    line = run.error_line()
    assert line.startswith("ERROR: ")
    for fragment in expected:
        assert fragment in line, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["exit_code"] == 4
    assert gate["environment"] is None
    assert gate["reasons"] == [f"usage error: {line.removeprefix('ERROR: ')}"]


# The same messages, more cases, without a pytest run each (gonogo.environment.load is what the plugin calls).
MORE_BAD_PROFILES = [
    pytest.param('[docker]\ncompose_projet = "shop"\n',
                 ["unknown key 'compose_projet' in [docker]", "did you mean 'compose_project'?"],
                 id="unknown-key-in-section"),
    pytest.param('[environment]\nreleas = "1"\nreleese = "2"\n',
                 ["unknown key 'releas' in [environment]", "(and 1 more error)"],
                 id="two-errors"),
    pytest.param('[smoke]\nbase_url = "https://shop"\nuser = "demo"\npassword = 20252025\n',
                 ["[smoke] password", "valid string", "(got ***)"], id="wrong-type-of-a-secret-is-not-shown"),
    pytest.param('[docker]\nhost = "unix:///x"\n', ["[docker] is missing the required key 'compose_project'"],
                 id="missing-key"),
    pytest.param('[[health]]\nname = "live"\nurl = "https://shop:${GX_PORT}/health/live/"\n',
                 ["[[health]] #1 url uses ${GX_PORT}"], id="missing-variable-in-array-of-tables"),
    pytest.param('[[health]]\nname = "live"\nurl = "https://shop/"\nstatus = "ok"\n', ["[health #1] status"],
                 id="wrong-type-in-array-of-tables"),
    pytest.param('[environment]\nenv_file = "../stack.env"\n[database]\ndsn = "${GX_DSN}"\n',
                 ["[environment] env_file: ", "stack.env does not exist"],
                 id="missing-env-file-before-its-variables"),
    pytest.param('[environment]\nenv_file = 3\n', ["[environment] env_file must be a string"], id="env-file-not-a-string"),
    pytest.param('[gate]\nwaivers = [{check = "a", reason = "b", until = "soon"}]\n', ["[gate.waivers #1] until"],
                 id="waiver-without-a-date"),
]


@pytest.mark.parametrize(("text", "expected"), MORE_BAD_PROFILES)
def test_profile_error_messages(tmp_path, text, expected):
    from gonogo.environment import ProfileError, load

    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "dev.toml").write_text(text)
    with pytest.raises(ProfileError) as caught:
        load("dev", "--env", tmp_path / "environments", tmp_path, {"PATH": "/usr/bin"})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("environments/dev.toml: ")
    for fragment in expected:
        assert fragment in message


ENV_FILE_PROFILE = """
[environment]
env_file = "../stack.env"
release = "${GX_RELEASE:-0.0.0-default}"
previous_release = "${GX_PREVIOUS:-0.9.9-default}"
public_variables = ["GX_RELEASE", "GX_PREVIOUS", "GX_TIER"]
description = "${GX_TIER}"

[database]
dsn = "postgresql://app:${GX_DB_PASSWORD}@db.internal/shop"
"""

RECORD_VALUES = """
import json
from pathlib import Path

def test_record(gonogo_env):
    settings = gonogo_env.profile.environment
    seen = {"dsn": gonogo_env.profile.database.dsn.get_secret_value(), "release": settings.release,
            "previous": settings.previous_release, "tier": settings.description,
            "env_file": gonogo_env.env_file.name if gonogo_env.env_file else None}
    (Path(__file__).parent / "seen.json").write_text(json.dumps(seen))
"""


def test_env_file_supplies_variables_and_the_process_environment_wins(run_gate, pytester):
    (pytester.path / "stack.env").write_text(
        "GX_DB_PASSWORD=from-file\nGX_RELEASE=1.0-file\nGX_TIER=file-tier\n", encoding="utf-8")
    run = run_gate(RECORD_VALUES, profile=ENV_FILE_PROFILE, environ={"GX_TIER": "process-tier"})

    assert run.ret == 0, run.log
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen == {
        "dsn": "postgresql://app:from-file@db.internal/shop",  # only in the env file
        "release": "1.0-file",  # in the env file: its default is not used
        "previous": "0.9.9-default",  # set nowhere: its default
        "tier": "process-tier",  # in both: the process environment wins
        "env_file": "stack.env",
    }
    assert run.gate["target_version"] == "1.0-file"
