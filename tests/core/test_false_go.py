"""No false GO: every way a check can avoid judging (xfail, a run-time skip, an empty parametrisation,
a vanished module, a partial run, a dead worker, an exception) ends in a NO-GO or at least never in a pass.

Each test runs pytest with gonogo in a subprocess (pytester), as a user would, and reads the verdict file.
Items 1-9 of the core's second pass.
"""

from __future__ import annotations

import json

import pytest

# -- 1. xfail and xpass are not passes ------------------------------------------------------------

XFAIL = """
import pytest

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.xfail(reason="flaky PSP")
def test_payment():
    assert False, "the payment was refused"

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
def test_refund():
    pytest.xfail("refunds are known broken")

@pytest.mark.postdeploy
@pytest.mark.severity("critical")
@pytest.mark.xfail(reason="was broken last week")
def test_invoice():
    pass

@pytest.mark.postdeploy
def test_login():
    pass
"""


def test_xfail_and_xpass_of_a_blocker_are_no_go(run_gate):
    run = run_gate({"test_shop.py": XFAIL})

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    reasons = {entry["id"]: entry["reason"] for entry in gate["failed"]}
    assert sorted(reasons) == ["shop.invoice", "shop.payment", "shop.refund"], run.log
    assert reasons["shop.payment"].startswith("xfail: flaky PSP")
    assert reasons["shop.refund"].startswith("xfail: refunds are known broken")
    assert reasons["shop.invoice"].startswith("xpass: marked xfail (was broken last week) but passed")
    assert all("use a [gate] waiver" in reason for reason in reasons.values())
    assert "blocker check failed: shop.payment" in gate["reasons"]
    assert gate["counts"]["passed"] == 1


# -- 2. only "not configured" is a legitimate skip ------------------------------------------------

RUNTIME_SKIPS = {
    "test_docker.py": """
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        def test_containers_up():
            pytest.skip("cannot reach the docker daemon")

        @pytest.mark.postdeploy
        @pytest.mark.parametrize("service", [])
        def test_service_healthy(service):
            pass

        @pytest.mark.postdeploy
        @pytest.mark.severity("warning")
        def test_restarts():
            pytest.skip("no restart data")

        @pytest.mark.postdeploy
        def test_engine(gonogo_env):
            import gonogo
            gonogo.section(gonogo_env, "docker")

        @pytest.mark.postdeploy
        def test_ping():
            pass
    """,
    "test_queue.py": """
        import pytest

        pytest.importorskip("a_module_nobody_installed")

        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        def test_workers():
            pass
    """,
}


def test_run_time_skips_and_vanished_modules_are_no_go(run_gate):
    run = run_gate(RUNTIME_SKIPS)

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    not_run = {entry["id"]: entry for entry in gate["not_run"]}
    assert not_run["docker.containers_up"]["status"] == "skipped"
    assert not_run["docker.containers_up"]["reason"] == "cannot reach the docker daemon"
    assert any(k.startswith("docker.service_healthy") for k in not_run), not_run  # parametrised with nothing
    assert "blocker check did not run: docker.containers_up (skipped: cannot reach the docker daemon)" in gate["reasons"]
    assert any(r.startswith("critical check did not run: docker.service_healthy") and "empty parameter set" in r
               for r in gate["reasons"]), gate["reasons"]
    # a warning that skipped itself did not run either (a NO-GO lists only what blocks it)
    assert not_run["docker.restarts"]["status"] == "skipped"
    # the only legitimate skip: not configured
    skipped = {entry["id"]: entry["status"] for entry in gate["skipped"]}
    assert skipped["docker.engine"] == "not-configured"
    assert "docker.engine" not in not_run
    # the module that importorskip'd away is visible
    assert gate["counts"]["skipped_modules"] == 1
    assert any(r.startswith("module skipped at collection, its checks did not run: test_queue.py")
               and "a_module_nobody_installed" in r for r in gate["reasons"]), gate["reasons"]


def test_a_warning_that_skipped_itself_is_a_warning(run_gate):
    run = run_gate({"test_logs.py": """
        import pytest

        @pytest.mark.severity("warning")
        def test_quiet():
            pytest.skip("log driver unsupported")

        def test_clean():
            pass
    """})

    assert run.ret == 0, run.log
    assert run.gate["verdict"] == "GO-WITH-WARNINGS"
    assert run.gate["reasons"] == ["warning check did not run: logs.quiet (skipped: log driver unsupported)"]


# -- 3. a partial run is no verdict on the phase --------------------------------------------------

PHASE = """
import pytest

@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
def test_payment():
    assert {payment}, "the payment was refused"

@pytest.mark.postdeploy
def test_login():
    pass

@pytest.mark.postdeploy
@pytest.mark.smoke
def test_sale_in_browser():
    pass

@pytest.mark.predeploy
def test_backup():
    assert False, "no backup"
"""


def phase(payment: bool = False) -> dict[str, str]:
    return {"test_shop.py": PHASE.format(payment=payment)}


@pytest.mark.parametrize("selection", [
    pytest.param(["-m", "postdeploy", "-k", "login"], id="-k"),
    pytest.param(["-m", "postdeploy", "--deselect", "test_shop.py::test_payment"], id="--deselect"),
    pytest.param(["-m", "postdeploy", "test_shop.py::test_login"], id="node-id"),
])
def test_a_run_that_leaves_out_part_of_a_phase_is_no_go(run_gate, selection):
    run = run_gate(phase(), *selection)

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["failed"] == []  # the failing check was left out: it is not what makes this a NO-GO
    assert gate["partial"] is False
    [reason] = [r for r in gate["reasons"] if r.startswith("partial run: ")]
    assert "pass --partial" in reason
    assert "test_shop.py::test_payment" in gate["left_out"]["checks"] + gate["left_out"]["uncollected"], gate["left_out"]


def test_last_failed_rerun_is_partial(run_gate):
    first = run_gate(phase(), "-m", "postdeploy", cache=True)
    assert first.gate["verdict"] == "NO-GO", first.log
    rerun = run_gate(phase(payment=True), "-m", "postdeploy", "--lf", cache=True)

    assert rerun.ret == 1, rerun.log
    gate = rerun.gate
    assert gate["counts"]["passed"] == 1 and gate["failed"] == []
    # --lf skipped test_login and test_sale_in_browser: the gate sees them missing from the run
    assert gate["left_out"]["checks"] + gate["left_out"]["uncollected"] == [
        "test_shop.py::test_login", "test_shop.py::test_sale_in_browser"], gate["left_out"]
    assert any(r.startswith("partial run: ") for r in gate["reasons"]), gate["reasons"]


def test_partial_option_judges_the_selection_and_says_so(run_gate):
    run = run_gate(phase(), "-m", "postdeploy", "-k", "login", "--partial")

    assert run.ret == 0, run.log
    gate = run.gate
    assert gate["verdict"] == "GO"
    assert gate["partial"] is True
    # -m postdeploy: the browser flow is a postdeploy check too, so -k left it out as well
    assert gate["left_out"]["checks"] == ["test_shop.py::test_payment", "test_shop.py::test_sale_in_browser"]
    lines = run.out.splitlines()
    header = next(i for i, line in enumerate(lines) if "gonogo release gate" in line)
    assert lines[header + 1].startswith("PARTIAL RUN: this verdict covers only the selection"), run.log


def test_phase_selection_is_not_partial(run_gate):
    """-m chooses phases: what it leaves out is another phase, not part of this one."""
    run = run_gate(phase(payment=True), "-m", "postdeploy")

    assert run.ret == 0, run.log
    gate = run.gate
    assert gate["verdict"] == "GO" and gate["partial"] is False
    assert gate["left_out"] == {"checks": [], "uncollected": []}
    assert gate["counts"]["deselected"] == 1  # test_backup: predeploy


# -- 4. --no-gate leaves no stale verdict ---------------------------------------------------------


def test_no_gate_removes_a_stale_verdict_and_says_so(run_gate, pytester):
    stale = pytester.path / "reports" / "gate.json"
    stale.parent.mkdir()
    stale.write_text('{"verdict": "GO"}')

    run = run_gate({"test_shop.py": "def test_ok():\n    pass\n"}, "--no-gate")

    assert run.ret == 0, run.log
    assert not stale.exists()
    assert "gonogo is off: no verdict" in run.out
    assert "VERDICT" not in run.out


def test_no_gate_with_a_gate_file_that_is_a_directory_is_no_crash(run_gate, pytester):
    (pytester.path / "somedir").mkdir()
    run = run_gate({"test_shop.py": "def test_ok():\n    pass\n"}, "--no-gate", "--gate-file=somedir")

    assert run.ret == 0, run.log
    assert "gonogo is off: no verdict" in run.out and "INTERNALERROR" not in run.out + run.err
    assert (pytester.path / "somedir").is_dir()


# -- 5. an exception is no judgement --------------------------------------------------------------

ERRORS = """
import pytest

@pytest.mark.severity("blocker")
def test_payment():
    raise ConnectionError("psp.internal:443 refused the connection")

@pytest.mark.severity("warning")
def test_latency():
    raise KeyError("p95")

def test_login():
    assert False, "login page answered 502"
"""


def test_an_exception_in_a_check_body_is_an_error_not_a_failure(run_gate):
    profile = '[environment]\nrelease = "1.4.2"\n[gate]\nrequired = ["shop.latency"]\n'
    run = run_gate({"test_shop.py": ERRORS}, profile=profile)

    assert run.ret == 1, run.log
    gate = run.gate
    assert run.ids("errored") == ["shop.payment", "shop.latency"]
    assert run.ids("failed") == ["shop.login"]
    assert gate["errored"][0]["reason"] == "ConnectionError: psp.internal:443 refused the connection"
    assert "blocker check errored: shop.payment" in gate["reasons"]
    # a required warning that errored could not be judged: a NO-GO whatever its severity
    assert "required check errored (it could not be judged): shop.latency" in gate["reasons"]


# -- 6. waivers accept failures, and name checks --------------------------------------------------


def test_a_waiver_does_not_cover_an_errored_required_blocker(run_gate):
    profile = """
        [environment]
        release = "1.4.2"
        [gate]
        required = ["shop.payment"]
        waivers = [{check = "shop.payment", reason = "PSP down", until = 2999-01-01}]
    """
    run = run_gate({"test_shop.py": ERRORS}, profile=profile)

    assert run.ret == 1, run.log
    gate = run.gate
    assert gate["verdict"] == "NO-GO"
    assert gate["waived"] == []
    assert run.ids("errored")[0] == "shop.payment"
    assert gate["unused_waivers"] == [{"check": "shop.payment", "reason": "PSP down", "until": "2999-01-01"}]


@pytest.mark.parametrize("pattern", ["*", "*.*", "*[*]", "?*"])
def test_a_waiver_for_everything_is_a_usage_error(run_gate, pattern):
    profile = f"""
        [environment]
        release = "1.4.2"
        [gate]
        waivers = [{{check = "{pattern}", reason = "ship it", until = 2999-01-01}}]
    """
    run = run_gate({"test_shop.py": ERRORS}, profile=profile)

    line = run.error_line()
    assert "environments/dev.toml" in line and "[gate.waivers #1] check" in line, line
    assert "must name the checks it accepts" in line
    assert run.gate["verdict"] == "NO-GO" and run.gate["exit_code"] == 4


# -- 7. a dead worker, an interrupt: no pass ------------------------------------------------------


def test_a_check_whose_worker_dies_or_is_interrupted_did_not_pass(run_gate):
    run = run_gate({
        "test_a.py": """
            import os
            import pytest

            @pytest.mark.severity("blocker")
            def test_exits():
                os._exit(0)
        """,
        "test_b.py": """
            import pytest

            @pytest.mark.severity("blocker")
            def test_interrupted():
                raise KeyboardInterrupt
        """,
        "test_c.py": "def test_fine():\n    pass\n",
    }, "-n", "2")

    gate = run.gate
    assert gate["verdict"] == "NO-GO", run.log
    assert run.ret != 0
    judged = {e["id"]: e for e in gate["failed"] + gate["errored"] + gate["not_run"]}
    assert "a.exits" in judged, run.log
    assert "b.interrupted" in judged, run.log
    assert judged["a.exits"]["status"] == "errored" and "crashed" in judged["a.exits"]["reason"]
    assert "blocker check errored: a.exits" in gate["reasons"]
    assert gate["counts"]["passed"] <= 1


# -- 8, 9. health: optional sub-checks, latency and bodies, side by side ---------------------------


def health_profile(server, entries: str, required: str = '["health"]') -> str:
    return f"""
        [environment]
        release = "1.4.2"

        {entries}

        [gate]
        required = {required}
    """


def test_health_without_latency_budgets_is_go_when_required(run_gate, stub_server, health_module):
    stub_server.routes["/health/ready/"] = (200, '{"status": "ok", "components": {"db": {"status": "ok"}}}')
    entries = f"""
        [[health]]
        name = "ready"
        url = "{stub_server.url('/health/ready/')}"
        json = {{ status = "ok" }}
        components_key = "components"
    """
    run = run_gate(health_module, profile=health_profile(stub_server, entries))

    assert run.ret == 0, run.log
    gate = run.gate
    assert gate["verdict"] == "GO", gate["reasons"]
    assert gate["missing"] == []
    [latency] = gate["skipped"]
    assert (latency["id"], latency["status"]) == ("health.endpoint_fast[not-applicable]", "not-applicable")
    assert latency["reason"].startswith("not applicable: no entry of [[health]] with max_ms")


def test_health_latency_never_passes_a_wrong_status(run_gate, stub_server, health_module):
    """A fast 404 is no latency pass: the latency check is dependent on the status check, which fails."""
    entries = f"""
        [[health]]
        name = "api"
        url = "{stub_server.url('/api/health')}"
        max_ms = 2000
        severity = "warning"
    """
    run = run_gate(health_module, profile=health_profile(stub_server, entries, "[]"))  # answers 404, fast

    assert run.ids("failed") == ["health.endpoint_healthy[api]"], run.log
    assert [(e["id"], e["status"]) for e in run.gate["skipped"]] == [("health.endpoint_fast[api]", "dependent")]
    assert run.gate["passed"] == [] and run.gate["verdict"] == "GO-WITH-WARNINGS", run.log


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param("true", "the body is JSON but not an object (true): its keys cannot be checked (json_value compares a whole "
                 "value of any type)", id="json-not-object"),
    pytest.param('{"status": "error", "error": "database unreachable: timeout after 2 s"}',
                 "status: 'error' (expected 'ok'); the body says error='database unreachable: timeout after 2 s'",
                 id="body-explains"),
])
def test_health_body_failures_explain_themselves(run_gate, stub_server, health_module, body, expected):
    stub_server.routes["/health"] = (200, body)
    entries = f"""
        [[health]]
        name = "api"
        url = "{stub_server.url('/health')}"
        json = {{ status = "ok" }}
    """
    run = run_gate(health_module, profile=health_profile(stub_server, entries))

    assert run.gate["verdict"] == "NO-GO", run.log
    [failed] = run.gate["failed"]
    assert failed["id"] == "health.endpoint_healthy[api]"
    assert failed["reason"] == f"api body: expected a body that says healthy, got status 200 but {expected}"
    assert f"look at: {stub_server.url('/health')}" in run.out


def test_endpoints_converge_side_by_side(run_gate, stub_server, health_module):
    """Two endpoints that never get ready are waited for at the same time, not one after the other."""
    stub_server.routes["/a/"] = stub_server.routes["/b/"] = (503, '{"status": "starting"}')
    entries = "\n".join(f"""
        [[health]]
        name = "{name}"
        url = "{stub_server.url(f'/{name}/')}"
        json = {{ status = "ok" }}
        ready_within_s = 2
    """ for name in ("a", "b"))
    run = run_gate(health_module, profile=health_profile(stub_server, entries))

    assert run.gate["verdict"] == "NO-GO", run.log
    assert sorted(run.ids("failed")) == ["health.endpoint_healthy[a]", "health.endpoint_healthy[b]"]
    times = {path: [t for p, t in stub_server.log if p == path] for path in ("/a/", "/b/")}
    assert len(times["/a/"]) >= 2 and len(times["/b/"]) >= 2, times
    # b was already being polled while a was still waiting: their polls interleave
    assert min(times["/b/"]) < max(times["/a/"]) and min(times["/a/"]) < max(times["/b/"]), json.dumps(times)
    attachments = " ".join(p.read_text() for p in run.allure_dir.glob("*-attachment*"))
    assert "a healthy: did not converge" in attachments and "b healthy: did not converge" in attachments
