"""The config probes against real files: env files and compose files, present, missing, odd and broken.

Every case is a real file (or directory, FIFO, unreadable file) in tmp_path read by the probe as the
gate reads it; each returns a fact in bounded time, never an exception. The end of the module runs
the real ``checks/test_config.py`` in a pytester project (a real gonogo run) to show how a failure
reads: it names the file and the variable, never the value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gonogo.probes.compose import read_compose, substitute, InterpolationError
from gonogo.probes.config import ConfigProbe, read_env_file
from gonogo.sections.config import EnvFileRules

REPO = Path(__file__).resolve().parents[2]
CHECKS = REPO / "checks" / "test_config.py"
#: a probe answers at once about a local file: well under this, whatever the file is
BOUND_S = 2.0
SECRET = "s3cr3t-Value-that-must-never-print-9f8e7d"


def timed(call, *args, **kwargs):
    start = time.monotonic()
    result = call(*args, **kwargs)
    elapsed = time.monotonic() - start
    assert elapsed < BOUND_S, f"{call.__name__} took {elapsed:.2f} s"
    return result


# ---- the env file: present, absent, odd, unreadable


def test_env_file_values_are_read_literally_and_never_shown(tmp_path):
    env = tmp_path / ".env"
    env.write_text(f"SECRET_KEY={SECRET}\nEMPTY=\nDECLARED\nDEBUG=False\nREF=${{OTHER}}\n# comment\n"
                   "QUOTED=\"a b\"\nexport EXPORTED=yes\n")

    fact = timed(read_env_file, env, public=["DEBUG"])

    assert fact.read and fact.error is None
    assert fact.values == {"SECRET_KEY": SECRET, "EMPTY": "", "DECLARED": "", "DEBUG": "False", "REF": "${OTHER}",
                           "QUOTED": "a b", "EXPORTED": "yes"}
    shown = repr(fact) + fact.evidence() + fact.evidence_name
    assert SECRET not in shown and "s3cr3t" not in shown
    assert "SECRET_KEY: set" in fact.evidence() and "EMPTY: empty" in fact.evidence()
    assert fact.shown("DEBUG") == "'False'" and fact.shown("SECRET_KEY") == "a secret value"
    assert fact.digest("SECRET_KEY") != fact.digest("EMPTY") and fact.digest("MISSING") is None


def test_missing_env_file(tmp_path):
    fact = timed(read_env_file, tmp_path / "nope.env")
    assert not fact.read and fact.error == f"{tmp_path / 'nope.env'} does not exist"
    assert "does not exist" in repr(fact) and "does not exist" in fact.evidence()


def test_env_file_that_is_a_directory(tmp_path):
    fact = timed(read_env_file, tmp_path)
    assert fact.error == f"{tmp_path} is a directory, not a regular file"


def test_env_file_that_is_a_fifo_does_not_hang(tmp_path):
    """A FIFO without a writer blocks any plain open(): the probe opens it without blocking and refuses it."""
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    fact = timed(read_env_file, fifo)
    assert fact.error == f"{fifo} is a FIFO, not a regular file"


def test_env_file_under_a_regular_file(tmp_path):
    """A path through a file (``config/.env`` where ``config`` is a file): no root privilege gets around it."""
    (tmp_path / "config").write_text("not a directory")
    fact = timed(read_env_file, tmp_path / "config" / ".env")
    assert fact.error and fact.error.endswith("does not exist (a part of its path is not a directory)")


def test_env_file_permission_denied(tmp_path):
    """A file nobody may read (mode 000), read by a root process without CAP_DAC_OVERRIDE/READ_SEARCH
    (setpriv drops them, as a non-root deploy user would lack them): the kernel refuses, really."""
    env = tmp_path / ".env"
    env.write_text(f"SECRET_KEY={SECRET}\n")
    env.chmod(0o000)
    drop = "-dac_override,-dac_read_search"
    code = ("import sys; from pathlib import Path; from gonogo.probes.config import read_env_file; "
            "f = read_env_file(Path(sys.argv[1])); print(f.error); print(repr(f))")
    proc = subprocess.run(["setpriv", "--bounding-set", drop, "--inh-caps", drop, sys.executable, "-c", code, str(env)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"{env} permission denied"
    assert SECRET not in proc.stdout


def test_env_file_not_utf8_and_too_large(tmp_path):
    binary = tmp_path / "binary.env"
    binary.write_bytes(b"KEY=\xff\xfe\n")
    assert timed(read_env_file, binary).error == f"{binary} is not UTF-8 text (byte 4)"
    huge = tmp_path / "huge.env"
    huge.write_text("A=" + "x" * 1_100_000 + "\n")
    assert "is larger than 1000 kB" in (timed(read_env_file, huge).error or "")


# ---- must_differ_from: another environment's env file, by name or by path


@pytest.fixture
def two_environments(tmp_path, monkeypatch):
    """environments/prod.toml and staging.toml, each with its env file; staging's path uses ${STAGE_DIR}."""
    envs = tmp_path / "environments"
    envs.mkdir()
    (tmp_path / "prod").mkdir()
    (tmp_path / "stage").mkdir()
    (tmp_path / "prod" / ".env").write_text(f"SECRET_KEY={SECRET}\nDB_PASSWORD=prod-db-password-1\n")
    (tmp_path / "stage" / ".env").write_text(f"SECRET_KEY={SECRET}\nDB_PASSWORD=stage-db-password-2\n")
    (envs / "prod.toml").write_text('[environment]\nenv_file = "../prod/.env"\n')
    (envs / "staging.toml").write_text('[environment]\nenv_file = "${STAGE_DIR}/.env"\n')
    (envs / "bare.toml").write_text('[environment]\nrelease = "1"\n')
    return ConfigProbe(env_files=[tmp_path / "prod" / ".env"], compose_file=None, public=(), profile_dir=envs,
                       environ={"STAGE_DIR": str(tmp_path / "stage")})


def test_other_environment_by_name(two_environments, tmp_path):
    other = timed(two_environments.other_env_file, "staging")
    ours = two_environments.env_file()
    assert other.read and other.where == str(tmp_path / "stage" / ".env") and other.role == "env file of staging"
    assert ours.digest("SECRET_KEY") == other.digest("SECRET_KEY")
    assert ours.digest("DB_PASSWORD") != other.digest("DB_PASSWORD")


def test_other_environment_by_path(two_environments, tmp_path):
    other = timed(two_environments.other_env_file, "../stage/.env")
    assert other.read and other.where == str(tmp_path / "stage" / ".env")


@pytest.mark.parametrize(("target", "error"), [
    ("qa", "the profile of environment 'qa' ({dir}/qa.toml) does not exist"),
    ("bare", "{dir}/bare.toml names no env file ([environment] env_file)"),
    ("../stage/missing.env", "{tmp}/stage/missing.env does not exist"),
])
def test_other_environment_unusable(two_environments, tmp_path, target, error):
    other = timed(two_environments.other_env_file, target)
    assert other.error == error.format(dir=tmp_path / "environments", tmp=tmp_path)


def test_other_environment_whose_variable_is_unset(two_environments):
    probe = ConfigProbe(env_files=(), compose_file=None, public=(), profile_dir=two_environments.profile_dir,
                        environ={})
    other = timed(probe.other_env_file, "staging")
    assert other.error and "uses ${STAGE_DIR}, which is not set" in other.error


# ---- the rules table: clear errors


@pytest.mark.parametrize(("rules", "message"), [
    ({"rules": {"ENVIRONMENT": {}}}, "[env_file_rules.rules] ENVIRONMENT: give at least one of"),
    ({"rules": {"X": {"pattern": "("}}}, "[env_file_rules.rules] X: pattern '(' is not a valid regular expression"),
    ({"required": ["SECRET KEY"]}, "[env_file_rules] required: 'SECRET KEY' is not a variable name"),
    ({"compare": ["SECRET_KEY"]}, "[env_file_rules] compare lists the variables to compare with must_differ_from"),
])
def test_rules_validation(rules, message):
    with pytest.raises(ValueError) as caught:
        EnvFileRules.model_validate(rules)
    assert message in str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ('[env_file_rules]\nrequired = ["SECRET_KEY"]\n',
     "[env_file_rules] needs the env file it is about: set [environment] env_file"),
    ('[environment]\nenv_file = "../stack.env"\n[env_file_rules]\npublic_domain_in = ["ALLOWED_HOSTS"]\n',
     "[env_file_rules] public_domain_in and public_url rules compare with the stack's public hosts: "
     "set [environment] public_domain or public_hosts"),
    ('[environment]\nenv_file = "../stack.env"\n[env_file_rules.rules]\nDEBUG = { equal = "False" }\n',
     "unknown key 'equal' in [env_file_rules.rules #1]; did you mean 'equals'?"),
    ('[environment]\nenv_file = "../stack.env"\n[env_file_rules]\nforbidden_values = ["CHANGE_ME"]\n',
     "unknown key 'forbidden_values' in [env_file_rules]; allowed: required, placeholders, no_debug, "
     "must_differ_from, compare, rules, public_domain_in"),
], ids=["no-env-file", "no-public-domain", "typo-in-a-rule", "old-key"])
def test_profile_errors_name_the_table_and_key(tmp_path, text, message):
    """A profile whose [env_file_rules] cannot work is one line at load time (exit 4), naming what to fix."""
    from gonogo.environment import ProfileError, load

    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.toml").write_text(text)
    (tmp_path / "stack.env").write_text("SECRET_KEY=x\n")
    with pytest.raises(ProfileError) as caught:
        load("prod", "--env", tmp_path / "environments", tmp_path, {})
    assert str(caught.value) == f"environments/prod.toml: {message}"


def test_rules_shorthand():
    rules = EnvFileRules.model_validate({"rules": {"ENVIRONMENT": "production", "FRONTEND_URL": {"public_url": True}}})
    assert [(r.name, r.equals, r.public_url) for r in rules.rules] == [("ENVIRONMENT", "production", False),
                                                                        ("FRONTEND_URL", None, True)]


# ---- the compose file


SANDBOX_VARIABLES = {"SANDBOX_STATE_DIR": "/srv/sandbox", "RELEASE": "927d4c1", "WEB_PORT": "8000", "FRONTEND_PORT": "8080"}


def test_the_sandbox_compose_file_is_valid():
    fact = timed(read_compose, REPO / "sandbox" / "compose.yaml", SANDBOX_VARIABLES)
    assert fact.read and fact.problems() == [], fact.evidence()
    assert [(s.name, s.image, s.restart, s.healthcheck) for s in fact.services] == [
        ("migrations", "boutique/migrations:927d4c1", "no", "absent"),
        ("worker", "boutique/worker:927d4c1", "unless-stopped", "declared"),
        ("beat", "boutique/beat:927d4c1", "unless-stopped", "declared"),
        ("web", "boutique/web:927d4c1", "unless-stopped", "declared"),
        ("frontend", "boutique/frontend:927d4c1", "unless-stopped", "declared"),
    ]
    assert "compose-spec.json from check-jsonschema" in fact.evidence()


def write(tmp_path: Path, text: str, name: str = "compose.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("make", "error"), [
    (lambda d: d / "absent.yaml", "{p} does not exist"),
    (lambda d: d, "{p} is a directory, not a regular file"),
    (lambda d: write(d, "services:\n  web: [\n"), "{p} is not valid YAML: line 3: "),
    (lambda d: write(d, "a: 1\na: 2\n"), '{p} is not valid YAML: line 2: found duplicate key "a"'),
    (lambda d: write(d, "# nothing\n"), "{p} is empty: a compose file is a mapping with services"),
    (lambda d: write(d, "- web\n"), "{p} is an array, not a mapping: a compose file is a mapping with services"),
    (lambda d: write(d, "services:\n  web: " + "[" * 40 + "]" * 40), "{p} nests mappings and lists more than 32 levels "
                                                                       "deep: not a compose file (under services.web)"),
], ids=["missing", "directory", "not-yaml", "duplicate-key", "empty", "a-list", "nested-40-deep"])
def test_compose_file_unreadable(tmp_path, make, error):
    path = make(tmp_path)
    fact = timed(read_compose, path, {})
    assert not fact.read and fact.error is not None and fact.error.startswith(error.format(p=path)), fact.error
    assert fact.problems() == [fact.error] and fact.services == ()


def test_compose_file_nested_50000_deep_is_a_fact_not_a_recursion_error(tmp_path):
    path = write(tmp_path, "x: " + "[" * 50_000 + "]" * 50_000)
    start = time.monotonic()
    fact = read_compose(path, {})
    assert fact.error == f"{path} nests mappings and lists more than 32 levels deep: not a compose file"
    # ruamel's scanner is quadratic in the depth it reaches (~490) before the cut-off stops it: about 4 s on a quiet
    # 2-core machine, 14 s at a load average of 10; without the cut-off, 50 000 levels would take hours
    assert time.monotonic() - start < 60


def test_compose_file_that_is_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "compose.yaml"
    os.mkfifo(fifo)
    assert timed(read_compose, fifo, {}).error == f"{fifo} is a FIFO, not a regular file"


def test_duplicate_key_error_shows_no_value(tmp_path):
    fact = read_compose(write(tmp_path, f"x-a:\n  password: {SECRET}\n  password: other\n"), {})
    assert fact.error and SECRET not in fact.error and "other" not in fact.error


def test_schema_errors_name_the_path_and_line(tmp_path):
    path = write(tmp_path, "services:\n  web:\n    image: shop/web:1.2.3\n    ports: 12\n"
                           "  worker:\n    image: shop/worker:1.2.3\n    enviroment:\n      A: b\n")
    fact = timed(read_compose, path, {})
    assert fact.read
    assert list(fact.schema_errors) == ["line 4: services.web.ports: must be an array (got the number 12)",
                                        "line 5: services.worker: unknown key 'enviroment'"]


def test_secret_values_are_not_quoted_by_schema_errors(tmp_path):
    path = write(tmp_path, "services:\n  web:\n    image: shop/web:1\n    environment:\n"
                           "      PASSWORD:\n        nested: ${DB_PASSWORD}\n")
    fact = read_compose(path, {"DB_PASSWORD": SECRET})
    [error] = fact.schema_errors
    assert error == "line 5: services.web.environment.PASSWORD: must be a string or a number or a boolean or a null (got an object)"
    assert SECRET not in fact.evidence() + repr(fact) + error


def test_yaml_1_2_as_compose_reads_it(tmp_path):
    """``restart: no`` unquoted is the string "no" for Compose (YAML 1.2), not the boolean false of YAML 1.1."""
    fact = read_compose(write(tmp_path, "services:\n  job:\n    image: shop/job:1\n    restart: no\n"), {})
    assert fact.problems() == [] and fact.service("job").restart == "no"


def test_missing_required_variable_is_a_finding(tmp_path):
    path = write(tmp_path, "services:\n  web:\n    image: shop/web:${RELEASE:?set RELEASE to the release tag}\n"
                           "    command: echo $UNSET_VAR\n")
    fact = timed(read_compose, path, {})
    assert fact.read
    assert list(fact.interpolation_problems) == [
        "line 3: services.web.image: required variable RELEASE is missing a value: set RELEASE to the release tag"]
    assert fact.unset == ("UNSET_VAR",)
    assert "UNSET_VAR is set nowhere (Compose would use an empty string)" in fact.problems()


def test_process_environment_wins_over_the_env_file(tmp_path):
    env = write(tmp_path, "TAG=from-file\nOTHER=file-only\n", ".env")
    compose = write(tmp_path, "services:\n  web:\n    image: shop/web:${TAG}-${OTHER}\n")
    probe = ConfigProbe(env_files=[env], compose_file=compose, public=(), profile_dir=tmp_path,
                        environ={"TAG": "from-process"})
    assert probe.compose().service("web").image == "shop/web:from-process-file-only"


@pytest.mark.parametrize(("text", "variables", "expected"), [
    ("${A}", {"A": "x"}, "x"),
    ("$A-$B", {"A": "x", "B": "y"}, "x-y"),
    ("${A:-dflt}", {"A": ""}, "dflt"),
    ("${A-dflt}", {"A": ""}, ""),
    ("${A-dflt}", {}, "dflt"),
    ("${A:-${B:-deep}}", {}, "deep"),
    ("${A:-$B}", {"B": "b"}, "b"),
    ("${A:+alt}", {"A": "set"}, "alt"),
    ("${A:+alt}", {"A": ""}, ""),
    ("${A+alt}", {"A": ""}, "alt"),
    ("${A:?msg}", {"A": "ok"}, "ok"),
    ("${A?msg}", {"A": ""}, ""),
    ("$$A and $${A}", {"A": "x"}, "$A and ${A}"),
    ("${A}}", {"A": "x"}, "x}"),
    ("no reference", {}, "no reference"),
])
def test_interpolation_as_compose_does(text, variables, expected):
    assert substitute(text, variables) == expected


@pytest.mark.parametrize(("text", "variables", "error"), [
    ("${A:?must be set}", {"A": ""}, "required variable A is missing a value: must be set"),
    ("${A?}", {}, "required variable A is missing a value"),
    ("price: 5$", {}, "invalid interpolation: a '$' not followed by a name at character 9"),
    ("${A", {}, "invalid interpolation: '${A' is not closed"),
    ("${A%%suffix}", {}, "invalid interpolation: '${A%%suffix}'"),
    ("${1}", {}, "invalid interpolation: '${1}'"),
])
def test_interpolation_errors(text, variables, error):
    with pytest.raises(InterpolationError) as caught:
        substitute(text, variables)
    assert str(caught.value).startswith(error)


# ---- end to end: the real checks/test_config.py in a gonogo run


PROFILE = """
[environment]
release = "1.4.2"
public_domain = "shop.example.test"
env_file = "../stack.env"
public_variables = ["ENVIRONMENT", "DEBUG", "ALLOWED_HOSTS"]

[env_file_rules]
required = ["SECRET_KEY", "DATABASE_URL", "SMTP_PASSWORD"]
no_debug = ["DEBUG"]
public_domain_in = ["ALLOWED_HOSTS", "CORS_ORIGINS"]
must_differ_from = "staging"

[env_file_rules.rules]
ENVIRONMENT = "production"
FRONTEND_URL = { public_url = true }

[docker]
compose_project = "shop"
compose_file = "../compose.yaml"
services = ["web", "worker", "redis"]
one_shot = { migrations = 0 }
"""

STAGING = """
[environment]
env_file = "../staging.env"
"""

HEALTHY_ENV = f"""\
SECRET_KEY={SECRET}
DATABASE_URL=postgresql://shop:db-password-prod@db:5432/shop
SMTP_PASSWORD=smtp-password-prod
DEBUG=False
ENVIRONMENT=production
FRONTEND_URL=https://shop.example.test/
ALLOWED_HOSTS=shop.example.test,localhost
CORS_ORIGINS=https://shop.example.test
RELEASE=1.4.2
"""

BROKEN_ENV = f"""\
SECRET_KEY=
DATABASE_URL=postgresql://shop:CHANGE_ME_DB_PASSWORD@db:5432/shop
SMTP_PASSWORD={SECRET}
DEBUG=True
ENVIRONMENT=staging
FRONTEND_URL=https://{SECRET}.example.net/
ALLOWED_HOSTS=*
CORS_ORIGINS=https://other.example.test
RELEASE=1.4.2
"""

HEALTHY_COMPOSE = """\
services:
  migrations:
    image: shop/api:${RELEASE:?set RELEASE}
    restart: "no"
  web:
    image: shop/api:${RELEASE:?set RELEASE}
    restart: unless-stopped
    healthcheck: {test: ["CMD", "curl", "-f", "http://localhost/health"]}
  worker:
    image: shop/api:${RELEASE:?set RELEASE}@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    restart: unless-stopped
    healthcheck: {test: "celery inspect ping"}
  redis:
    image: redis:7.2
    restart: always
    healthcheck: {test: ["CMD", "redis-cli", "ping"]}
"""

BROKEN_COMPOSE = """\
services:
  migrations:
    image: shop/api:${TAG:?set TAG to the release}
  web:
    image: shop/api:latest
    restart: unless-stopped
    ports: 8000
  worker:
    image: shop/api
    healthcheck: {disable: true}
"""


def project(pytester, env: str, compose: str, staging_env: str) -> dict[str, str]:
    (pytester.path / "stack.env").write_text(env)
    (pytester.path / "staging.env").write_text(staging_env)
    (pytester.path / "compose.yaml").write_text(compose)
    return {"dev": PROFILE, "staging": STAGING}


def test_healthy_configuration_is_go(run_gate, pytester):
    staging = HEALTHY_ENV.replace(SECRET, "another-secret-key-for-staging").replace("prod", "stage")
    run = run_gate({"test_config.py": CHECKS.read_text()}, "-m", "predeploy",
                   profile=project(pytester, HEALTHY_ENV, HEALTHY_COMPOSE, staging))

    assert run.gate["verdict"] == "GO", run.log
    assert run.gate["counts"]["passed"] == run.gate["counts"]["selected"] == 12, run.gate["counts"]


def test_failures_name_the_file_and_the_variable_never_the_value(run_gate, pytester):
    staging = HEALTHY_ENV.replace("smtp-password-prod", SECRET)  # the same SMTP_PASSWORD as ours
    run = run_gate({"test_config.py": CHECKS.read_text()}, "-m", "predeploy",
                   profile=project(pytester, BROKEN_ENV, BROKEN_COMPOSE, staging))

    env_file = str(pytester.path / "stack.env")
    compose = str(pytester.path / "compose.yaml")
    reasons = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO" and run.gate["errored"] == [], run.log
    assert reasons == {
        "config.required_variables": "required variables: expected set and not empty: SECRET_KEY, DATABASE_URL, "
                                     "SMTP_PASSWORD, got empty: SECRET_KEY",
        "config.no_placeholders": "placeholders: expected no value matching CHANGE_ME*, CHANGEME*, REPLACE_ME*, "
                                  "<*>, TODO, TODO[: ]*, FIXME*, got placeholders left in DATABASE_URL "
                                  "(matches 'CHANGE_ME*')",
        "config.debug_off": "debug flags: expected DEBUG set to one of false, 0, no, off, got DEBUG is 'True'",
        "config.secrets_differ": "secrets shared with staging: expected different values (by SHA-256 digest) for "
                                 "DATABASE_URL, SECRET_KEY, SMTP_PASSWORD, got the same value in both files: "
                                 "SMTP_PASSWORD",
        "config.variable_rule[ENVIRONMENT]": "ENVIRONMENT: expected 'production', got 'staging' "
                                             "(is not 'production')",
        "config.variable_rule[FRONTEND_URL]": "FRONTEND_URL: expected a URL on shop.example.test, got a secret "
                                              "value (points at another host)",
        "config.public_domain_allowed": "public domain: expected shop.example.test named in ALLOWED_HOSTS, "
                                        "CORS_ORIGINS, got not named in ALLOWED_HOSTS ('*'), CORS_ORIGINS (a secret "
                                        "value)",
        "config.compose_valid": "compose file: expected a file Compose accepts (interpolated, valid against its "
                                "schema), got line 3: services.migrations.image: required variable TAG is missing "
                                "a value: set TAG to the release; line 7: services.web.ports: must be an array "
                                "(got the number 8000)",
        "config.compose_services": "compose services: expected web, worker, redis, migrations, got missing: redis "
                                   "(the file has migrations, web, worker)",
        "config.compose_healthchecks": "compose healthchecks: expected a healthcheck with a test for web, worker, "
                                       "got web (healthcheck absent), worker (healthcheck disabled)",
        "config.compose_images_pinned": "compose image tags: expected a pinned tag or digest for every service, "
                                        "got web: shop/api:latest is latest; worker: shop/api has no tag (latest)",
    }
    assert f"look at: {env_file}" in run.out and f"look at: {compose}" in run.out
    everything = run.out + run.err + json.dumps(run.gate) + "".join(
        p.read_text(errors="replace") for p in run.allure_dir.iterdir())
    assert SECRET not in everything and "CHANGE_ME_DB_PASSWORD" not in everything
    assert not any("***" in reason for reason in reasons.values()), "a reason needed masking: it quoted a value"


# ---- several public hosts (issue 22, item 4): [environment] public_hosts, or a parent domain


def load_profile(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    """environments/prod.toml (``text``) loaded as a run loads it."""
    from gonogo.environment import load

    (tmp_path / "environments").mkdir(exist_ok=True)
    (tmp_path / "environments" / "prod.toml").write_text(text)
    return timed(load, "prod", "--env", tmp_path / "environments", tmp_path, environ or {})


@pytest.mark.parametrize(("value", "message"), [
    ('["https://dashboard.example.org"]',
     "'https://dashboard.example.org' is a URL: write its host alone ('dashboard.example.org')"),
    ('["api.example.org", "*.example.org"]',
     "'*.example.org' is a wildcard: write a parent domain as '.example.org' (the domain and its subdomains)"),
    ('["*"]', "'*' is a wildcard: list the hosts themselves, or a parent domain as '.example.org' (the domain and its "
              "subdomains)"),
    ('["dashboard.example.org:8443"]', "'dashboard.example.org:8443' is not a host name: a host alone (no scheme, "
                                       "port or path), or '.example.org' for a domain and its subdomains"),
    ('"api.example.org"', "input should be a valid list (got 'api.example.org')"),
], ids=["url", "wildcard", "star", "port", "not-a-list"])
def test_public_hosts_that_are_no_hosts_are_one_profile_line_naming_the_key(tmp_path, value, message):
    from gonogo.environment import ProfileError

    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path, f'[environment]\nrelease = "1"\npublic_hosts = {value}\n')
    assert str(caught.value) == f"environments/prod.toml: [environment] public_hosts: {message}"


def test_public_hosts_with_the_public_domain_are_the_stack_hosts(tmp_path):
    env = load_profile(tmp_path, '[environment]\nrelease = "1"\npublic_domain = "API.example.org"\n'
                                 'public_hosts = ["Dashboard.Example.org.", ".example.net", "api.example.org", "[::1]"]\n')
    assert env.profile.environment.hosts == ["api.example.org", "dashboard.example.org", ".example.net", "::1"]


PUBLIC_HOSTS_PROFILE = """
[environment]
release = "1.4.2"
public_hosts = {hosts}
env_file = "../stack.env"
public_variables = ["ALLOWED_HOSTS"]

[env_file_rules]
required = ["SECRET_KEY"]
public_domain_in = ["ALLOWED_HOSTS", "CORS_ORIGINS"]

[env_file_rules.rules]
FRONTEND_URL = {{ public_url = true }}
API_URL = {{ public_url = true }}
"""


def public_hosts_run(run_gate, pytester, hosts: str, env: str):
    (pytester.path / "stack.env").write_text(f"SECRET_KEY={SECRET}\n{env}")
    return run_gate({"test_config.py": CHECKS.read_text()}, "-m", "predeploy",
                    profile=PUBLIC_HOSTS_PROFILE.format(hosts=hosts))


DASHBOARD_ENV = """\
ALLOWED_HOSTS=api.example.org
CORS_ORIGINS=https://dashboard.example.org
FRONTEND_URL=https://dashboard.example.org/
API_URL=https://api.example.org/v1,https://dashboard.example.org/api
"""


@pytest.mark.parametrize("hosts", ['["api.example.org", "dashboard.example.org"]', '[".example.org"]'],
                         ids=["hosts", "parent-domain"])
def test_origins_and_urls_on_any_public_host_pass(run_gate, pytester, hosts):
    """The API on api.example.org, its CORS origin and frontend URL on dashboard.example.org: GO, the hosts listed
    or their parent domain."""
    run = public_hosts_run(run_gate, pytester, hosts, DASHBOARD_ENV)

    assert run.gate["verdict"] == "GO", run.log
    assert run.gate["counts"]["passed"] == 6, run.gate["counts"]  # readable, required, placeholders, 2 rules, hosts


def test_origins_and_urls_on_another_domain_fail(run_gate, pytester):
    env = ("ALLOWED_HOSTS=api.example.org\nCORS_ORIGINS=https://dashboard.example.com\n"
           "FRONTEND_URL=https://dashboard.example.org.evil.test/\nAPI_URL=https://api.example.org/v1,https://cdn.example.net/\n")
    run = public_hosts_run(run_gate, pytester, '["api.example.org", "dashboard.example.org"]', env)

    reasons = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO", run.log
    assert reasons == {
        "config.public_domain_allowed": "public domain: expected one of api.example.org, dashboard.example.org named "
                                        "in ALLOWED_HOSTS, CORS_ORIGINS, got not named in CORS_ORIGINS (a secret value)",
        "config.variable_rule[FRONTEND_URL]": "FRONTEND_URL: expected a URL on one of api.example.org, "
                                              "dashboard.example.org, got a secret value (points at another host)",
        "config.variable_rule[API_URL]": "API_URL: expected a URL on one of api.example.org, dashboard.example.org, "
                                         "got a secret value (points at another host)",
    }, reasons


# ---- several env files (issue 22, item 11): [environment] env_file = [a, b], read in order, later wins

BASE_SECRET = "base-Only-Secret-5c1d9e-value"
LATE_SECRET = "late-Only-Secret-77ab31-value"
OVERRIDDEN = "overridden-Secret-19f0aa-value"


def test_several_env_files_are_read_in_order_the_later_winning(tmp_path):
    from gonogo.secrets import masker

    (tmp_path / "base.env").write_text(f"SHARED={OVERRIDDEN}\nBASE_ONLY={BASE_SECRET}\nPORT=8000\n")
    (tmp_path / "late.env").write_text(f"SHARED=from-late-file-value\nLATE_ONLY={LATE_SECRET}\nPORT=9000\n")
    env = load_profile(tmp_path, '[environment]\nrelease = "${LATE_ONLY}"\nenv_file = ["../base.env", "../late.env"]\n'
                                 'description = "${BASE_ONLY} ${PORT}"\npublic_variables = ["PORT"]\n',
                       environ={"PORT": "7000"})

    assert env.env_files == (tmp_path / "base.env", tmp_path / "late.env")
    assert env.env_file_values == {"SHARED": "from-late-file-value", "BASE_ONLY": BASE_SECRET, "PORT": "9000",
                                   "LATE_ONLY": LATE_SECRET}
    # ${VAR} reads every file (and the process environment wins over them, as with Compose)
    assert env.profile.environment.release == LATE_SECRET
    assert env.profile.environment.description == f"{BASE_SECRET} 7000"
    # every value of every file is masked, one the later file overrides too
    for value in (BASE_SECRET, LATE_SECRET, OVERRIDDEN, "from-late-file-value"):
        assert masker.mask(f"x {value} y") == "x *** y", value


def fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(("second", "message"), [
    (None, "{late} does not exist"),
    (lambda path: path.mkdir(), "{late} is a directory, not a regular file"),
    (fifo, "{late} is a FIFO, not a regular file"),
    (lambda path: path.write_text("A=" + "x" * 1_100_000 + "\n"), "{late} is larger than 1000 kB"),
    (lambda path: path.write_text("".join(f"V{i}=x\n" for i in range(1001))),
     "{late} holds 1001 variables, more than 1000"),
], ids=["missing", "directory", "fifo", "over-1-MB", "over-1000-variables"])
def test_each_env_file_is_checked_on_its_own(tmp_path, second, message):
    """The second file goes through the same bounded helper and limits as the first (a FIFO is never waited on),
    and the error names it (#2) with its path."""
    from gonogo.environment import ProfileError

    (tmp_path / "base.env").write_text("A=1\n" + "".join(f"B{i}=x\n" for i in range(900)))  # 901: under the limit
    if second:
        second(tmp_path / "late.env")
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path, '[environment]\nrelease = "1"\nenv_file = ["../base.env", "../late.env"]\n')
    expected = message.format(late=tmp_path / "late.env")
    assert str(caught.value).startswith(f"environments/prod.toml: [environment] env_file #2: {expected}"), caught.value


@pytest.mark.parametrize(("value", "message"), [
    ("[]", "[environment] env_file must be a string (a path) or a list of paths, got an empty list"),
    ('["../base.env", 3]', "[environment] env_file must be a string (a path) or a list of paths, got int"),
], ids=["empty", "not-a-path"])
def test_an_env_file_list_that_names_no_file_is_a_profile_error(tmp_path, value, message):
    from gonogo.environment import ProfileError

    (tmp_path / "base.env").write_text("A=1\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path, f'[environment]\nrelease = "1"\nenv_file = {value}\n')
    assert str(caught.value) == f"environments/prod.toml: {message}"


def test_the_facts_of_several_env_files_name_the_file_of_each_value_never_the_value(tmp_path):
    (tmp_path / "base.env").write_text(f"SHARED={OVERRIDDEN}\nDEBUG=False\nBASE_ONLY={BASE_SECRET}\n")
    (tmp_path / "late.env").write_text(f"SHARED={LATE_SECRET}\nDEBUG=True\n")
    probe = ConfigProbe(env_files=[tmp_path / "base.env", tmp_path / "late.env"], compose_file=None,
                        public=["DEBUG"], profile_dir=tmp_path)

    fact = timed(probe.env_file)

    assert fact.read and fact.values == {"SHARED": LATE_SECRET, "DEBUG": "True", "BASE_ONLY": BASE_SECRET}
    assert fact.named("DEBUG") == "DEBUG in late.env" and fact.named("BASE_ONLY") == "BASE_ONLY in base.env"
    assert fact.where_of("SHARED") == str(tmp_path / "late.env")
    assert [(f.path.name, name) for f, name, _ in fact.occurrences()] == [
        ("base.env", "SHARED"), ("base.env", "DEBUG"), ("base.env", "BASE_ONLY"), ("late.env", "SHARED"),
        ("late.env", "DEBUG")]
    evidence = fact.evidence()
    assert evidence.splitlines()[1:3] == [f"1. {tmp_path / 'base.env'}: 3 variables",
                                          f"2. {tmp_path / 'late.env'}: 2 variables"]
    assert "DEBUG: 'True' (late.env; overrides base.env)" in evidence and "BASE_ONLY: set (base.env)" in evidence
    shown = evidence + repr(fact) + fact.evidence_name
    assert not any(value in shown for value in (BASE_SECRET, LATE_SECRET, OVERRIDDEN)), shown


def test_must_differ_from_reads_every_env_file_of_the_other_environment(tmp_path):
    envs = tmp_path / "environments"
    envs.mkdir()
    (tmp_path / "base.env").write_text("SECRET_KEY=prod-secret-key-value-1\n")
    (tmp_path / "late.env").write_text(f"DB_PASSWORD={LATE_SECRET}\n")
    (tmp_path / "stage-base.env").write_text("SECRET_KEY=stage-secret-key-value-2\n")
    (tmp_path / "stage-late.env").write_text(f"DB_PASSWORD={LATE_SECRET}\n")
    (envs / "staging.toml").write_text('[environment]\nenv_file = ["../stage-base.env", "../stage-late.env"]\n')
    probe = ConfigProbe(env_files=[tmp_path / "base.env", tmp_path / "late.env"], compose_file=None, public=(),
                        profile_dir=envs)

    other = timed(probe.other_env_file, "staging")

    assert other.read and other.role == "env files of staging", other
    assert other.where == f"{tmp_path / 'stage-base.env'}, {tmp_path / 'stage-late.env'}"
    ours = probe.env_file()
    assert ours.digest("DB_PASSWORD") == other.digest("DB_PASSWORD") is not None
    assert ours.digest("SECRET_KEY") != other.digest("SECRET_KEY")


SEVERAL_PROFILE = """
[environment]
release = "1.4.2"
public_domain = "shop.example.test"
env_file = ["../base.env", "../secrets.env"]
public_variables = ["ENVIRONMENT", "DEBUG", "ALLOWED_HOSTS"]

[env_file_rules]
required = ["SECRET_KEY", "DATABASE_URL", "SMTP_PASSWORD"]
no_debug = ["DEBUG"]
public_domain_in = ["ALLOWED_HOSTS"]
must_differ_from = "staging"

[env_file_rules.rules]
ENVIRONMENT = "production"
"""

SEVERAL_STAGING = """
[environment]
env_file = ["../staging-base.env", "../staging-secrets.env"]
"""


def test_several_env_files_end_to_end(run_gate, pytester):
    """A Compose service's two env files: the base (placeholders a later file fills in, DEBUG=True it turns off)
    and the secrets (a placeholder left in it, a secret shared with staging's second file). Every file checked and
    named; the secret only in the second file is never shown."""
    (pytester.path / "base.env").write_text("ENVIRONMENT=production\nDEBUG=True\nALLOWED_HOSTS=shop.example.test\n"
                                            "SECRET_KEY=CHANGE_ME_LATER\nDATABASE_URL=postgresql://shop@db/shop\n")
    (pytester.path / "secrets.env").write_text(f"DEBUG=False\nSECRET_KEY={LATE_SECRET}\n"
                                               "SMTP_PASSWORD=CHANGE_ME_SMTP\n")
    (pytester.path / "staging-base.env").write_text("SECRET_KEY=staging-secret-key-value\n")
    (pytester.path / "staging-secrets.env").write_text(f"SECRET_KEY={LATE_SECRET}\n")

    run = run_gate({"test_config.py": CHECKS.read_text()}, "-m", "predeploy",
                   profile={"dev": SEVERAL_PROFILE, "staging": SEVERAL_STAGING})

    reasons = {e["id"]: e["reason"] for e in run.gate["failed"]}
    assert run.gate["verdict"] == "NO-GO" and run.gate["errored"] == [], run.log
    assert reasons == {
        "config.no_placeholders": "placeholders: expected no value matching CHANGE_ME*, CHANGEME*, REPLACE_ME*, "
                                  "<*>, TODO, TODO[: ]*, FIXME*, got placeholders left in SECRET_KEY in base.env "
                                  "(matches 'CHANGE_ME*'), SMTP_PASSWORD in secrets.env (matches 'CHANGE_ME*')",
        "config.secrets_differ": "secrets shared with staging: expected different values (by SHA-256 digest) for "
                                 "SECRET_KEY, SMTP_PASSWORD, got the same value in both files: SECRET_KEY in "
                                 "secrets.env",
    }, reasons
    assert run.gate["counts"]["passed"] == 5, run.gate["counts"]  # readable, required, debug off, the rule, the host
    files = f"{pytester.path / 'base.env'}, {pytester.path / 'secrets.env'}"
    assert f"look at: {files}" in run.out, run.out
    everything = run.out + run.err + json.dumps(run.gate) + "".join(
        p.read_text(errors="replace") for p in run.allure_dir.iterdir())
    assert LATE_SECRET not in everything and "CHANGE_ME_SMTP" not in everything
