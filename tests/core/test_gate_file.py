"""The verdict file: valid against gonogo/data/gate.schema.json, and the same with -n 2 as serially.

Every test of this suite reads gate.json through ``run.gate``, which validates it against the schema: GO,
GO-WITH-WARNINGS, NO-GO, usage errors, collection errors and the mixed run below are all checked that way.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json

import jsonschema
import pytest

#: Checks of two subjects covering every outcome: passed, failed (warning and blocker),
#: errored, skipped, not configured, waived, parametrised, converged after retries.
MIXED = {
    "test_shop.py": """
        import itertools
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        @pytest.mark.runbook("BTQ-4.4")
        def test_sale():
            assert 2 + 2 == 5, "the sale total is wrong"

        @pytest.mark.postdeploy
        @pytest.mark.severity("warning")
        def test_reports_fast():
            assert False, "reports page took 4.2 s"

        @pytest.mark.postdeploy
        @pytest.mark.parametrize("page", ["home", "cart", "checkout"])
        def test_page(page):
            assert page != "cart", "cart answered 500"

        @pytest.mark.postdeploy
        def test_eventually_ready(converge):
            counter = itertools.count(1)
            converge(lambda: next(counter), lambda n: n >= 3, timeout_s=10, interval_s=0.01, what="ready")
    """,
    "test_infra.py": """
        import pytest
        import gonogo

        @pytest.fixture
        def broker():
            raise ConnectionRefusedError("redis:6379 refused")

        @pytest.mark.predeploy
        def test_queue(broker):
            pass

        @pytest.mark.predeploy
        def test_docker(gonogo_env):
            gonogo.section(gonogo_env, "docker")

        @pytest.mark.predeploy
        def test_disk():
            pytest.skip("no disk rules today")

        @pytest.mark.predeploy
        @pytest.mark.severity("warning")
        def test_swap():
            pass
    """,
}


def mixed_profile() -> str:
    today = dt.date.today()
    return f"""
        [environment]
        release = "1.4.2"
        public_domain = "shop.example.test"

        [gate]
        required = ["docker", "shop.sale"]

        [[gate.waivers]]
        check = "shop.page[cart]"
        reason = "cart fixed in 1.4.3"
        until = {(today + dt.timedelta(days=2)).isoformat()}

        [[gate.waivers]]
        check = "infra.queue"
        reason = "old"
        until = {(today - dt.timedelta(days=2)).isoformat()}

        [[gate.waivers]]
        check = "nothing.here"
        reason = "unused"
        until = {(today + dt.timedelta(days=2)).isoformat()}
    """


ALL_CHECKS = {"shop.sale", "shop.reports_fast", "shop.page[home]", "shop.page[cart]", "shop.page[checkout]",
              "shop.eventually_ready", "infra.queue", "infra.docker", "infra.disk", "infra.swap"}


def test_serial_and_xdist_give_the_same_verdict_file_and_allure_results(run_gate):
    serial = run_gate(MIXED, profile=mixed_profile())
    assert serial.allure_stories() == dict.fromkeys(ALL_CHECKS, 1), serial.log
    parallel = run_gate(None, "-n", "2", profile=None)  # the same files again

    assert serial.ret == parallel.ret == 1, serial.log + parallel.log
    assert serial.gate["selection"]["workers"] == 0 and parallel.gate["selection"]["workers"] == 2
    first = serial.comparable()
    # the run really covered every kind of entry, so the comparison means something
    for key in ("failed", "errored", "missing", "waived", "skipped", "expired_waivers", "unused_waivers",
                "converged_after_retries"):
        assert first[key], f"{key} is empty: {serial.log}"
    second = parallel.comparable()
    assert first == second, "\n".join(difflib.unified_diff(
        json.dumps(first, indent=1).splitlines(), json.dumps(second, indent=1).splitlines(), "serial", "-n 2", lineterm=""))

    # Allure under xdist: every check's result, once: none deleted by another worker, none left from the serial run
    assert parallel.allure_stories() == dict.fromkeys(ALL_CHECKS, 1)
    assert (parallel.allure_dir / "environment.properties").is_file()


@pytest.mark.parametrize(
    ("checks", "args", "verdict"),
    [
        pytest.param({"test_ok.py": "def test_ok():\n    pass\n"}, ["-m", "rollback"], "NO-GO", id="nothing-ran"),
    ],
)
def test_verdict_file_follows_the_schema(run_gate, gate_schema_document, checks, args, verdict):
    """Every test reads gate.json through run.gate, which validates it; this says so explicitly."""
    run = run_gate(checks, *args)

    document = json.loads((run.reports / "gate.json").read_text())
    jsonschema.validate(document, gate_schema_document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert document["verdict"] == verdict, run.log
    assert document["schema"] == "gonogo.gate/1"
    assert document["exit_code"] == run.ret


VALID = {
    "schema": "gonogo.gate/1", "verdict": "NO-GO", "reasons": ["blocker check failed: shop.sale"], "exit_code": 1,
    "environment": {"name": "dev", "source": "--env", "profile": "environments/dev.toml", "public_domain": None},
    "target_version": "1.4.2", "phases": ["postdeploy"],
    "selection": {"markexpr": "postdeploy", "keyword": "", "args": [], "workers": 2},
    "partial": False, "left_out": {"checks": [], "uncollected": []},
    "counts": {"collected": 1, "failed": 1},
    "failed": [{"id": "shop.sale", "nodeid": "test_shop.py::test_sale", "title": "sale", "subject": "shop",
                "severity": "blocker", "phases": ["postdeploy"], "runbook": ["BTQ-4.4"], "params": {},
                "status": "failed", "reason": "boom", "duration_s": 0.1}],
    "errored": [], "missing": [], "not_run": [], "waived": [], "skipped": [], "expired_waivers": [], "unused_waivers": [],
    "converged_after_retries": [], "started_at": "2026-03-10T10:00:00+00:00",
    "finished_at": "2026-03-10T10:00:01+00:00", "duration_s": 1.0, "gonogo_version": "0.1.0",
}


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({**VALID, "verdict": "MAYBE"}, id="unknown-verdict"),
        pytest.param({**VALID, "failed": [{**VALID["failed"][0], "severity": "fatal"}]}, id="unknown-severity"),
        pytest.param({**VALID, "failed": [{**VALID["failed"][0], "runbook": ["btq 4"]}]}, id="bad-step-id"),
        pytest.param({k: v for k, v in VALID.items() if k != "reasons"}, id="no-reasons"),
        pytest.param({**VALID, "surprise": 1}, id="unknown-key"),
        pytest.param({**VALID, "environment": {**VALID["environment"], "source": "guess"}}, id="unknown-source"),
    ],
)
def test_the_schema_rejects_a_broken_verdict_file(gate_schema_document, broken):
    jsonschema.validate(VALID, gate_schema_document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(copy.deepcopy(broken), gate_schema_document)
