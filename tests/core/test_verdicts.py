"""Each way a run ends: GO, GO-WITH-WARNINGS or NO-GO, with its exit code and the reasons in gate.json."""

from __future__ import annotations

import datetime as dt

import pytest

#: Three checks of subject "shop"; the format fields decide whether each one passes.
SHOP = """
import pytest

@pytest.mark.severity("blocker")
@pytest.mark.postdeploy
def test_payment():
    \"\"\"A payment goes through.\"\"\"
    assert {payment}, "the payment was refused"

@pytest.mark.severity("warning")
@pytest.mark.postdeploy
def test_latency():
    assert {latency}, "p95 latency 900 ms > 500 ms"

@pytest.mark.postdeploy
def test_login():
    assert {login}, "login page answered 502"
"""


def shop(payment: bool = True, latency: bool = True, login: bool = True) -> dict[str, str]:
    return {"test_shop.py": SHOP.format(payment=payment, latency=latency, login=login)}


def test_all_pass_is_go(run_gate):
    run = run_gate(shop())

    assert run.ret == 0, run.log
    gate = run.gate
    assert gate["verdict"] == "GO"
    assert gate["exit_code"] == 0
    assert gate["reasons"] == []
    assert gate["counts"]["passed"] == 3
    assert gate["failed"] == gate["errored"] == gate["missing"] == []
    assert run.out.splitlines()[-1].strip("= ").startswith("VERDICT: GO  (reports/gate.json)")


def test_only_a_warning_fails_is_go_with_warnings(run_gate):
    run = run_gate(shop(latency=False))

    assert run.ret == 0, run.log
    gate = run.gate
    assert gate["verdict"] == "GO-WITH-WARNINGS"
    assert gate["exit_code"] == 0
    assert run.ids("failed") == ["shop.latency"]
    assert gate["failed"][0]["severity"] == "warning"
    assert gate["reasons"] == ["warning check failed: shop.latency"]
    assert "VERDICT: GO-WITH-WARNINGS" in run.out


def test_a_failing_blocker_is_no_go(run_gate):
    run = run_gate(shop(payment=False, latency=False))

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["exit_code"] == 1
    assert run.ids("failed") == ["shop.payment", "shop.latency"]
    payment = gate["failed"][0]
    assert payment["severity"] == "blocker"
    assert (payment["title"], payment["nodeid"]) == ("A payment goes through.", "test_shop.py::test_payment")
    assert "the payment was refused" in payment["reason"]
    assert "blocker check failed: shop.payment" in gate["reasons"]
    assert "warning check failed: shop.latency" not in gate["reasons"]  # a NO-GO lists what blocks it
    run.result.stdout.fnmatch_lines(["*FAILED*blocker*shop.payment*the payment was refused*", "*VERDICT: NO-GO*"])


def test_a_critical_check_erroring_in_setup_is_no_go(run_gate):
    run = run_gate({"test_db.py": """
        import pytest

        @pytest.fixture
        def connection():
            raise ConnectionRefusedError("db.internal:5432 refused the connection")

        def test_reachable(connection):
            pass

        def test_other():
            pass
    """})

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert run.ids("errored") == ["db.reachable"]
    errored = gate["errored"][0]
    assert errored["status"] == "errored"
    assert errored["severity"] == "critical"
    assert "refused the connection" in errored["reason"]
    assert gate["reasons"] == ["critical check errored: db.reachable"]


BACKUPS = {
    "test_backups.py": """
        def test_dump_fresh():
            pass
    """,
    "test_health.py": """
        import pytest

        @pytest.mark.postdeploy
        def test_live():
            pass
    """,
}


@pytest.mark.parametrize("selection", [["-k", "not backups"], ["-m", "postdeploy"]], ids=["-k", "-m"])
def test_required_check_deselected_is_no_go(run_gate, selection):
    profile = '[environment]\nrelease = "1.4.2"\n[gate]\nrequired = ["backups"]\n'
    run = run_gate(BACKUPS, *selection, profile=profile)

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["counts"]["passed"] == 1 and gate["counts"]["deselected"] == 1
    [missing] = gate["missing"]
    assert missing["required"] == "backups"
    assert missing["id"] == "backups.dump_fresh"
    assert missing["status"] == "deselected"
    assert any(r.startswith("required backups: backups.dump_fresh deselected") for r in gate["reasons"]), gate["reasons"]
    run.result.stdout.fnmatch_lines(["*MISSING*required backups: backups.dump_fresh deselected*"])


DOCKER = {
    "test_docker.py": """
        import gonogo

        def test_services_up(gonogo_env):
            docker = gonogo.section(gonogo_env, "docker")
            assert docker.compose_project == "shop"
    """,
    "test_health.py": """
        def test_live():
            pass
    """,
}


@pytest.mark.parametrize(
    ("docker", "required", "verdict"),
    [
        pytest.param(False, True, "NO-GO", id="not-configured-and-required"),
        pytest.param(False, False, "GO", id="not-configured-not-required"),
        pytest.param(True, True, "GO", id="configured-and-required"),
    ],
)
def test_not_configured_subject(run_gate, docker, required, verdict):
    profile = '[environment]\nrelease = "1.4.2"\n'
    profile += '[docker]\ncompose_project = "shop"\n' if docker else ""
    profile += '[gate]\nrequired = ["docker"]\n' if required else ""
    run = run_gate(DOCKER, profile=profile)

    gate = run.gate
    assert gate["verdict"] == verdict, run.log
    assert run.ret == (1 if verdict == "NO-GO" else 0)
    if docker:
        assert gate["skipped"] == [] and gate["counts"]["passed"] == 2
        return
    [skipped] = gate["skipped"]
    assert skipped["id"] == "docker.services_up"
    assert skipped["status"] == "not-configured"
    assert skipped["reason"].startswith("not configured in environments/dev.toml")
    assert "[docker]" in skipped["reason"]
    assert gate["counts"]["not_configured"] == 1
    if required:
        [missing] = gate["missing"]
        assert (missing["required"], missing["status"]) == ("docker", "not-configured")
        assert missing["reason"].startswith("not configured in environments/dev.toml")
    else:
        assert gate["missing"] == []


def test_nothing_collected_is_no_go_exit_1(run_gate):
    run = run_gate(shop(), "-m", "rollback")  # no rollback checks

    assert run.ret == 1, run.log  # not pytest's 5 ("no tests collected"): a gate that checked nothing says no
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["exit_code"] == 1
    assert "no checks ran" in gate["reasons"]
    assert gate["phases"] == ["rollback"]
    assert gate["counts"]["selected"] == 0
    assert gate["selection"]["markexpr"] == "rollback"


def waiver_profile(until: dt.date) -> str:
    return f"""
        [environment]
        release = "1.4.2"

        [[gate.waivers]]
        check = "shop.payment"
        reason = "PSP sandbox down, INC-4211"
        until = {until.isoformat()}

        [[gate.waivers]]
        check = "shop.login"
        reason = "SSO flaky"
        until = {until.isoformat()}
    """


def test_active_waiver_turns_a_blocker_failure_into_go_with_warnings(run_gate):
    until = dt.date.today() + dt.timedelta(days=3)
    run = run_gate(shop(payment=False), profile=waiver_profile(until))

    assert run.ret == 0, run.log
    gate = run.gate
    assert gate["verdict"] == "GO-WITH-WARNINGS"
    assert gate["failed"] == []
    [waived] = gate["waived"]
    assert waived["id"] == "shop.payment"
    assert waived["waiver"] == {"check": "shop.payment", "reason": "PSP sandbox down, INC-4211", "until": until.isoformat()}
    assert gate["expired_waivers"] == []
    assert any("waived failure: shop.payment" in r for r in gate["reasons"])
    run.result.stdout.fnmatch_lines(["*WAIVED*shop.payment*PSP sandbox down*", "*VERDICT: GO-WITH-WARNINGS*"])
    # a waiver whose check passed is reported as unused
    assert gate["unused_waivers"] == [{"check": "shop.login", "reason": "SSO flaky", "until": until.isoformat()}]
    assert "waiver for shop.login matched no failure" in run.out


def test_expired_waiver_is_ignored_and_said(run_gate):
    until = dt.date.today() - dt.timedelta(days=1)
    run = run_gate(shop(payment=False), profile=waiver_profile(until))

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert run.ids("failed") == ["shop.payment"]
    assert gate["waived"] == []
    expired = {"check": "shop.payment", "reason": "PSP sandbox down, INC-4211", "until": until.isoformat()}
    assert gate["expired_waivers"][0] == expired
    assert "blocker check failed: shop.payment" in gate["reasons"]
    run.result.stdout.fnmatch_lines([f"*waiver for shop.payment expired on {until.isoformat()} and was ignored*"])
