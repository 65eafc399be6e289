"""Checks that do not apply (issue 22, items 2 and 3).

Item 2: a check that judges its own subject through another subject's table (the compose file of ``config``,
the daemon of ``host``: both ``[docker]``) says "not applicable: needs [docker]" when the profile has none, so
``[gate] required = ["config", "host"]`` can be met on a stack the gate reaches without Docker; a required
subject none of whose checks judged anything is still a NO-GO. Tested on the suite's own check modules
(checks/test_config.py, checks/test_host.py) copied into a throwaway project and run for real (DNS through a
real dnsmasq).

Item 3: ``[[gate.not_applicable]]``, a reasoned, permanent decision that a check does not apply to the stack:
the check is not run, not weighed, and listed in gate.json, the terminal and the report's first page; refused
for a catch-all, a typo, a required check (exit 4) and a blocker (NO-GO).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gonogo.checks import CheckInfo
from gonogo.gate import GO, NO_GO, SessionFacts, decide, decision_problem, inventory_checks
from gonogo.inventory import Entry
from gonogo.outcomes import FAILED, NOT_APPLICABLE, PASSED, Outcome
from gonogo.profile import GateSection, NotApplicableDecision

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ item 2: "not applicable: needs [docker]"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def nameserver(dnsmasq: Callable[..., int]) -> int:
    """A real dnsmasq (no upstream) answering shop.example.test with 127.0.0.1; its port."""
    return dnsmasq({"shop.example.test": ["127.0.0.1"]})


SUITE = {  # the suite's own modules: the checks under test are the real ones
    "pytest.ini": "[pytest]\ntestpaths = checks\n",
    "checks/test_config.py": (ROOT / "checks" / "test_config.py").read_text(encoding="utf-8"),
    "checks/test_host.py": (ROOT / "checks" / "test_host.py").read_text(encoding="utf-8"),
}

ENV_FILE = """\
SECRET_KEY=7f3c9a1e5b2d8f604c1a9e7b3d5f2a8c
DEBUG=False
ALLOWED_HOSTS=shop.example.test
"""


def _profile(required: str, host: bool = True, env_file: bool = True, port: int = 53, free: int = 1) -> str:
    text = '[environment]\nrelease = "1.4.2"\npublic_domain = "shop.example.test"\n'
    if env_file:
        text += ('env_file = "shop.env"\n\n[env_file_rules]\nrequired = ["SECRET_KEY"]\nno_debug = ["DEBUG"]\n'
                 'public_domain_in = ["ALLOWED_HOSTS"]\nrules = { DEBUG = "False" }\n')
    if host:
        text += (f'\n[host]\nmin_free_disk_gb = 0.001\ndisk_paths = [{{ name = "root", path = "/" }}]\n'
                 f'ports = [{{ name = "spare", port = {free}, host = "127.0.0.1", expect = "free" }}]\n'
                 f'nameservers = ["127.0.0.1:{port}"]\ndns = {{ "shop.example.test" = "127.0.0.1" }}\n'
                 'artefacts = ["release-1.4.2.tar.gz"]\n')
    return text + f"\n[gate]\nrequired = {required}\n"


def _project(run_gate, pytester) -> None:
    (pytester.path / "environments").mkdir(exist_ok=True)
    (pytester.path / "environments" / "shop.env").write_text(ENV_FILE, encoding="utf-8")
    (pytester.path / "environments" / "release-1.4.2.tar.gz").write_bytes(b"the release's artefact")


def _statuses(gate: dict, subject: str) -> dict[str, tuple[str, str]]:
    entries = [e for key in ("skipped", "not_run", "failed", "errored") for e in gate[key] if e["subject"] == subject]
    return {e["id"]: (e["status"], e["reason"]) for e in entries}


def test_required_config_and_host_without_docker_is_go(run_gate, pytester, nameserver):
    """The operator's case: required = ["config", "host"], no [docker]. Before: NO-GO forever (the compose checks
    and the daemon check "not configured", so both subjects "missing")."""
    _project(run_gate, pytester)
    profile = _profile('["config", "host"]', port=nameserver, free=_free_port())
    run = run_gate(SUITE, "-m", "predeploy", profile={"shop": profile}, env="shop")

    assert (run.ret, run.gate["verdict"]) == (0, GO), run.log
    assert run.gate["missing"] == [] and run.gate["failed"] == [], run.gate["reasons"]
    config = _statuses(run.gate, "config")
    compose = {i: s for i, s in config.items() if i.startswith("config.compose_")}
    assert sorted(compose) == ["config.compose_healthchecks", "config.compose_images_pinned", "config.compose_services",
                               "config.compose_valid"], config
    for status, reason in compose.values():
        assert status == NOT_APPLICABLE and reason.startswith("not applicable: needs [docker] (the compose file is "
                                                              "[docker] compose_file; environments/shop.toml has no [docker])"), reason
    [(status, reason)] = [s for i, s in _statuses(run.gate, "host").items() if i == "host.docker_daemon_reachable"]
    assert status == NOT_APPLICABLE and reason.startswith("not applicable: needs [docker]"), reason
    judged = {i.split("[")[0] for i in run.gate["passed"]}
    assert {"config.env_file_readable", "config.required_variables", "config.debug_off", "config.variable_rule",
            "config.public_domain_allowed", "host.free_disk", "host.port_as_expected", "host.dns_resolves",
            "host.artefact_ready"} <= judged, run.gate["passed"]


@pytest.mark.parametrize(("required", "host", "env_file", "missing"), [
    # the subject's own table is absent: only "needs [docker]" and "not configured" checks: nothing judged
    pytest.param('["host"]', False, True, "host", id="host-without-its-table"),
    pytest.param('["config"]', True, False, "config", id="config-without-its-env-file"),
    # a required entry that names only a check that cannot apply
    pytest.param('["host.docker_daemon_reachable"]', True, True, "host.docker_daemon_reachable", id="the-docker-check"),
    pytest.param('["config.compose_*"]', True, True, "config.compose_*", id="the-compose-checks"),
])
def test_a_required_subject_that_judged_nothing_is_still_no_go(run_gate, pytester, nameserver, required, host,
                                                               env_file, missing):
    _project(run_gate, pytester)
    profile = _profile(required, host=host, env_file=env_file, port=nameserver, free=_free_port())
    run = run_gate(SUITE, "-m", "predeploy", profile={"shop": profile}, env="shop")

    assert (run.ret, run.gate["verdict"]) == (1, NO_GO), run.log
    assert {m["required"] for m in run.gate["missing"]} == {missing}, run.gate["missing"]


# ------------------------------------------------------------------ item 3: [[gate.not_applicable]]

PROXY = {
    "pytest.ini": "[pytest]\ntestpaths = checks\n",
    "checks/test_proxy.py": """
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("blocker")
        def test_routes():
            '''Every router answers.'''

        @pytest.mark.postdeploy
        @pytest.mark.severity("warning")
        def test_service_health_checked():
            '''Every service behind the proxy has a health check.'''
            assert False, "the services web and api have no health check"
    """,
    "checks/test_shop.py": """
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("critical")
        def test_home():
            '''The home page answers.'''
    """,
}

BASE = '[environment]\nrelease = "1.4.2"\npublic_domain = "shop.example.test"\n'
REASON = "our services have no health check by design: the proxy retries on the next instance"


def _decision(check: str, reason: str = REASON, required: str = "[]") -> str:
    return BASE + f'\n[gate]\nrequired = {required}\n\n[[gate.not_applicable]]\ncheck = "{check}"\nreason = "{reason}"\n'


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_warning_decided_not_applicable_gives_go_and_is_listed_everywhere(run_gate, workers):
    before = run_gate(PROXY, "-m", "postdeploy", *workers, profile=BASE)
    assert before.gate["verdict"] == "GO-WITH-WARNINGS", before.log  # what the team lived with

    run = run_gate(None, "-m", "postdeploy", *workers, profile=_decision("proxy.service_health_checked",
                                                                         required='["proxy"]'))

    assert (run.ret, run.gate["verdict"]) == (0, GO), run.log
    [entry] = run.gate["decided_not_applicable"]
    assert (entry["id"], entry["severity"], entry["status"]) == ("proxy.service_health_checked", "warning", NOT_APPLICABLE)
    assert entry["decision"] == {"check": "proxy.service_health_checked", "reason": REASON}
    assert run.gate["counts"]["decided_not_applicable"] == 1 and run.gate["failed"] == [] and run.gate["missing"] == []
    assert run.gate["passed"] == ["proxy.routes", "shop.home"]
    # not run: its body never judged (its Allure result is a skip saying why)
    [result] = [r for r in run.allure_results() if r["fullName"].endswith("test_service_health_checked")]
    assert result["status"] == "skipped" and REASON in result["statusDetails"]["message"], result
    assert (f"DECIDED NOT APPLICABLE warning proxy.service_health_checked: {REASON} "
            "([gate.not_applicable] check = 'proxy.service_health_checked')") in run.out, run.out
    properties = (run.allure_dir / "environment.properties").read_text(encoding="utf-8")
    assert f"decided.not.applicable=proxy.service_health_checked ({REASON})" in properties.splitlines(), properties


def test_a_required_subject_whose_every_applicable_check_is_decided_away_is_no_go(run_gate):
    suite = {**PROXY, "checks/test_hints.py": """
        import pytest

        @pytest.mark.postdeploy
        @pytest.mark.severity("warning")
        def test_cache_headers():
            '''Static files carry cache headers.'''
    """}
    run = run_gate(suite, "-m", "postdeploy", profile=_decision("hints.cache_headers", required='["hints", "proxy.routes"]'))

    assert (run.ret, run.gate["verdict"]) == (1, NO_GO), run.log
    assert [m["required"] for m in run.gate["missing"]] == ["hints"], run.gate["missing"]


def test_a_blocker_cannot_be_decided_not_applicable(run_gate):
    run = run_gate(PROXY, "-m", "postdeploy", profile=_decision("proxy.routes"))

    assert (run.ret, run.gate["verdict"]) == (1, NO_GO), run.log
    assert ("environments/dev.toml: [gate.not_applicable #1] check = 'proxy.routes' names the blocker check "
            "proxy.routes: a blocker cannot be decided not applicable") in " ".join(run.gate["reasons"]), run.gate["reasons"]
    assert "proxy.routes" in run.gate["passed"] and run.gate["decided_not_applicable"] == []  # it ran and was weighed


@pytest.mark.parametrize(("entry", "expected"), [
    pytest.param('check = "*"', "'*' matches every check", id="only-wildcards"),
    pytest.param('check = "*.*"', "'*.*' matches every check", id="wildcards-and-dots"),
    pytest.param('check = "*o*"', "[gate.not_applicable #1] check = '*o*' matches checks of 2 subjects (proxy, shop)",
                 id="several-subjects"),
    pytest.param('check = "proxy.service_health_chekced"',
                 "[gate.not_applicable #1] check = 'proxy.service_health_chekced' matches no check of the suite",
                 id="a-typo"),
    pytest.param('check = "proxy.service_health_checked"\nreason = "by design"', "'by design' does not say why",
                 id="a-reason-of-two-words"),
    pytest.param('check = "proxy.service_health_checked"\nreason = " "', "does not say why", id="a-blank-reason"),
    pytest.param('check = "proxy.service_health_checked"', "[gate.not_applicable #1] is missing the required key 'reason'",
                 id="no-reason"),
])
def test_a_catch_all_a_typo_or_no_reason_is_bad_input(run_gate, entry, expected):
    text = BASE + "\n[gate]\n\n[[gate.not_applicable]]\n" + entry + "\n"
    if "reason" not in entry and "missing" not in expected:
        text += f'reason = "{REASON}"\n'
    run = run_gate(PROXY, "-m", "postdeploy", profile=text)

    line = run.error_line()
    assert "environments/dev.toml" in line and expected in line, line
    assert run.gate["verdict"] == "NO-GO" and run.gate["exit_code"] == 4


def test_a_check_required_by_its_id_cannot_be_decided_not_applicable(run_gate):
    run = run_gate(PROXY, "-m", "postdeploy", profile=_decision("proxy.service_health_checked",
                                                                required='["proxy.service_health_checked"]'))

    line = run.error_line()
    assert ("environments/dev.toml: [gate.not_applicable #1] check = 'proxy.service_health_checked' names "
            "proxy.service_health_checked, which [gate] required names too ('proxy.service_health_checked')") in line


# ------------------------------------------------------------------ the rules alone (in process)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="*?.[] ", max_size=12), st.text(alphabet="abc_", min_size=1, max_size=6))
def test_a_pattern_of_wildcards_alone_is_refused_and_one_with_a_name_is_not(wildcards, name):
    with pytest.raises(ValidationError, match="matches every check"):
        NotApplicableDecision(check=wildcards, reason=REASON)
    assert NotApplicableDecision(check=wildcards + name, reason=REASON).check == wildcards + name


WORD = st.text(alphabet="abcxyz", min_size=2, max_size=6)
NOISE = st.text(alphabet="-/.:!0123456789a", max_size=3).filter(lambda w: sum(c.isalpha() for c in w) < 2)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORD, max_size=5), st.lists(NOISE, max_size=4), st.randoms())
def test_a_reason_says_why_in_at_least_three_words(words, noise, random):
    tokens = [*words, *[n for n in noise if n]]
    random.shuffle(tokens)
    reason = " ".join(tokens)
    if len(words) >= 3:
        assert NotApplicableDecision(check="proxy.x", reason=reason).reason == reason.strip()
    else:
        with pytest.raises(ValidationError, match="does not say why"):
            NotApplicableDecision(check="proxy.x", reason=reason)


INVENTORY = {f"checks/test_{s}.py::test_{f}": Entry(s, ("postdeploy",)) for s in ("proxy", "shop", "db")
             for f in ("ready", "routes", "headers")}
NAMES = [f"{s}.{f}" for s in ("proxy", "shop", "db") for f in ("ready", "routes", "headers")]
PATTERNS = NAMES + ["proxy", "shop.*", "*.ready", "*s*", "proxy.read?", "proxy.ready[api]", "proxy.nothing",
                    "checks/test_db.py::test_ready", "db.*[p1]"]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(st.sampled_from(NAMES + ["proxy", "db", "shop.*"]), max_size=2))
def test_a_decision_names_checks_of_one_subject_of_the_suite_none_of_them_required_by_id(pattern, required):
    known = inventory_checks(INVENTORY)
    problem = decision_problem(0, NotApplicableDecision(check=pattern, reason=REASON), known, required, "p.toml")

    # the oracle: which functions of the inventory the pattern names, a parameter standing for any
    import fnmatch

    base = pattern.split("[", 1)[0]
    def names(function: str) -> set[str]:
        subject, name = INVENTORY[function].subject, function.rpartition("::test_")[2]
        return {subject, name, f"{subject}.{name}", function}
    def hit(selector: str, function: str) -> bool:
        selector = selector.split("[", 1)[0] if selector.endswith("]") else selector
        if "*" in selector or "?" in selector:
            return any(fnmatch.fnmatchcase(n, selector.replace("[", "[[]")) for n in names(function))
        return selector in names(function)
    named = [f for f in INVENTORY if hit(pattern if not pattern.endswith("]") else base, f)]
    subjects = {INVENTORY[f].subject for f in named}
    clash = [r for r in required for f in named if r != INVENTORY[f].subject and hit(r, f)]
    if len(subjects) != 1 or clash:
        assert problem is not None and problem.startswith("p.toml: [gate.not_applicable #1]"), (named, clash)
    else:
        assert problem is None, problem


def _facts(outcomes: dict[str, str], decisions: list[NotApplicableDecision], required=()) -> SessionFacts:
    checks = {f"t.py::test_{n}": CheckInfo(nodeid=f"t.py::test_{n}", check_id=n, subject="proxy", title=n,
                                           phases=[], severity=sev, runbook=[])
              for n, sev in (("routes", "blocker"), ("health", "warning"), ("metrics", "critical"))}
    return SessionFacts(checks=checks, deselected=set(),
                        outcomes={f"t.py::test_{n}": Outcome(s) for n, s in outcomes.items()}, collection_errors=[],
                        phases=["postdeploy"], gate=GateSection(required=list(required), not_applicable=decisions),
                        today=__import__("datetime").date(2026, 12, 7))


def test_a_decided_check_is_not_weighed_whatever_it_ended_with():
    decisions = [NotApplicableDecision(check="proxy.health", reason=REASON)]
    for status in (NOT_APPLICABLE, FAILED):
        verdict = decide(_facts({"routes": PASSED, "health": status, "metrics": PASSED}, decisions, ["proxy"]))
        assert verdict.verdict == GO, verdict.reasons
        assert [e["id"] for e in verdict.decided_not_applicable] == ["proxy.health"]
    # every check of a required entry decided away: nothing of it judged
    verdict = decide(_facts({"routes": PASSED, "health": NOT_APPLICABLE, "metrics": PASSED}, decisions, ["proxy.he*"]))
    assert verdict.verdict == NO_GO and [m["required"] for m in verdict.missing] == ["proxy.he*"]
