"""Secrets never reach the terminal or any file under reports/; public variables are shown."""

from __future__ import annotations

import pytest

DB_PASSWORD = "Hunter2-db-7f3a9c"
SMOKE_PASSWORD = "Sm0ke-literal-Pw"  # not from a variable: a secret because of its key
RELEASE = "rel-4f2a9e1"  # public_variables: shown as it is
DSN = f"postgresql://app:{DB_PASSWORD}@db.internal:5432/shop"
SECRETS = (DB_PASSWORD, SMOKE_PASSWORD, DSN)

PROFILE = """
[environment]
release = "${GX_RELEASE}"
public_domain = "shop.example.test"
public_variables = ["GX_RELEASE"]

[database]
dsn = "postgresql://app:${GX_DB_PASSWORD}@db.internal:5432/shop"

[smoke]
base_url = "https://shop.example.test"
user = "demo"
password = "Sm0ke-literal-Pw"
"""

CHECKS = """
import logging
import sys
import warnings

import pytest

import gonogo

log = logging.getLogger("shop.db")


def test_connects(profile):
    dsn = profile.database.dsn.get_secret_value()  # the raw text: the masker, not SecretStr, must hide it
    password = profile.smoke.password.get_secret_value()
    print("connecting with", dsn, "for release", profile.environment.release)
    print("smoke password", password, file=sys.stderr)
    log.warning("dsn=%s password=%s", dsn, password)
    gonogo.attach("connection", f"dsn={dsn}")
    gonogo.attach("config", {"dsn": dsn, "password": password}, kind="json")
    assert dsn == "postgresql://app:wrong@db.internal:5432/shop"


def test_login(profile):
    password = profile.smoke.password.get_secret_value()
    assert password == "guess", f"login refused for {profile.smoke.user} with password {password}"


@pytest.fixture
def session(profile):
    raise ConnectionError(f"cannot open {profile.database.dsn.get_secret_value()}")


def test_query(session):
    pass


def test_skipped(profile):
    pytest.skip(f"not today: {profile.smoke.password.get_secret_value()}")


def test_deprecated_login(profile):
    warnings.warn(f"plain-text password in use: {profile.smoke.password.get_secret_value()}")
"""

ENVIRON = {"GX_DB_PASSWORD": DB_PASSWORD, "GX_RELEASE": RELEASE}


def assert_nowhere(run, secrets=SECRETS) -> None:
    """No secret in stdout, stderr, or any file under reports/ (read as bytes: every file)."""
    for secret in secrets:
        assert secret not in run.out, f"{secret!r} in stdout"
        assert secret not in run.err, f"{secret!r} in stderr"
        for path in run.report_files():
            assert secret.encode() not in path.read_bytes(), f"{secret!r} in {path.relative_to(run.root)}"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_secrets_masked_everywhere(run_gate, workers):
    run = run_gate({"test_db.py": CHECKS}, "-rA", "-o", "log_cli=true", *workers, profile=PROFILE, environ=ENVIRON)

    # the secrets were really printed, logged, asserted on, attached, raised: and masked
    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert run.ids("failed") == ["db.connects", "db.login"]
    assert run.ids("errored") == ["db.query"]
    assert "connecting with *** for release " + RELEASE in run.out
    assert "smoke password ***" in run.out
    assert "dsn=*** password=***" in run.out  # captured log, and the live log (log_cli)
    assert "with password ***" in run.out
    assert "cannot open ***" in run.out
    assert gate["skipped"][0]["reason"] == "not today: ***"
    assert "plain-text password in use: ***" in run.out  # the warnings summary
    attachments = [p.read_text() for p in run.allure_dir.glob("*-attachment*")]
    assert any("dsn=***" in text for text in attachments), attachments
    assert any('"password": "***"' in text for text in attachments), attachments

    assert_nowhere(run)
    assert run.report_files(), "nothing was written under reports/"


def test_public_variables_are_shown_and_masked_failures_keep_their_reason(run_gate):
    run = run_gate({"test_db.py": CHECKS}, "-rA", profile=PROFILE, environ=ENVIRON)

    assert f"gonogo: target release {RELEASE}, " in run.out, run.log
    assert run.gate["target_version"] == RELEASE
    assert f"target.version={RELEASE}" in (run.allure_dir / "environment.properties").read_text()
    assert f"for release {RELEASE}" in run.out

    reasons = {entry["id"]: entry["reason"] for entry in run.gate["failed"] + run.gate["errored"]}
    assert reasons["db.login"].startswith("AssertionError: login refused for demo with password ***"), run.log
    assert reasons["db.query"] == "ConnectionError: cannot open ***"
    # pytest's short summary keeps the exception line too, not the first line of the traceback
    assert "FAILED test_db.py::test_login - AssertionError: login refused" in run.out
    assert "ERROR test_db.py::test_query - ConnectionError: cannot open ***" in run.out


def test_undeclared_variable_is_masked_like_a_secret(run_gate):
    profile = PROFILE.replace('public_variables = ["GX_RELEASE"]', "public_variables = []")
    run = run_gate({"test_db.py": CHECKS}, profile=profile, environ=ENVIRON)

    assert run.gate["target_version"] == "***", run.log
    assert "gonogo: target release ***, " in run.out
    assert_nowhere(run, (RELEASE, *SECRETS))


def test_no_piece_of_a_long_secret_survives(run_gate):
    """pytest shortens long values ('tok-9f...-end'); the whole value must be masked before that."""
    token = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0-end"
    profile = PROFILE.replace('password = "Sm0ke-literal-Pw"', 'password = "${GX_TOKEN}"')
    run = run_gate({"test_db.py": """
        def test_token(profile):
            assert profile.smoke.password.get_secret_value() == "expected"
    """}, profile=profile, environ={**ENVIRON, "GX_TOKEN": token})

    assert run.ids("failed") == ["db.token"], run.log
    pieces = {token[i:i + 10] for i in range(len(token) - 10)}
    assert_nowhere(run, pieces)
