"""Direct tests of the pure parts: interpolation, selectors, the gate's decision, the masker."""

from __future__ import annotations

import datetime as dt

import pytest

from gonogo.checks import CheckInfo, selector_matches
from gonogo.gate import GO, GO_WITH_WARNINGS, NO_GO, Outcome, SessionFacts, decide
from gonogo.interpolation import MissingVariable, interpolate
from gonogo.profile import GateSection, Waiver
from gonogo.secrets import Masker, is_secret_key

# -- interpolation ------------------------------------------------------------------------------


def test_interpolation_expands_nested_values_and_records_what_it_used():
    data = {"database": {"dsn": "postgresql://app:${PW}@${HOST:-db}:5432/x"}, "health": [{"url": "https://${HOST:-db}/"}]}
    result = interpolate(data, {"PW": "s3cret"})

    assert result.data == {"database": {"dsn": "postgresql://app:s3cret@db:5432/x"}, "health": [{"url": "https://db/"}]}
    assert result.values == {"PW": "s3cret"}  # defaults are not variables' values
    assert result.used_by == {"database.dsn": ["PW"]}


def test_interpolation_prefers_a_set_variable_over_the_default_even_when_empty():
    assert interpolate("${A:-x}/${B:-y}", {"A": ""}).data == "/y"


def test_double_dollar_is_a_literal_dollar():
    assert interpolate("pa$$word ${A}$$", {"A": "1"}).data == "pa$word 1$"


def test_non_strings_are_kept():
    assert interpolate({"n": 3, "on": True, "l": [1.5]}, {}).data == {"n": 3, "on": True, "l": [1.5]}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"database": {"dsn": "${NOPE}"}}, "database.dsn"),
        ({"health": [{"url": "ok"}, {"url": "https://x:${NOPE}/"}]}, "health[1].url"),
    ],
)
def test_missing_variable_names_the_variable_and_the_key(data, key):
    with pytest.raises(MissingVariable) as caught:
        interpolate(data, {"OTHER": "1"})
    assert (caught.value.name, caught.value.key) == ("NOPE", key)


# -- selectors ----------------------------------------------------------------------------------

READY = CheckInfo(nodeid="checks/test_health.py::test_endpoint[ready]", check_id="endpoint[ready]", subject="health",
                  title="t", phases=["postdeploy"], severity="blocker", runbook=[])


@pytest.mark.parametrize(
    "selector",
    ["health", "endpoint[ready]", "endpoint", "health.endpoint[ready]", "health.endpoint", "health[ready]",
     "checks/test_health.py::test_endpoint[ready]", "health.*", "*[ready]", "health.endpoint[r?ady]", "heal*"],
)
def test_selector_matches(selector):
    assert selector_matches(selector, READY)


@pytest.mark.parametrize(
    "selector", ["healt", "endpoint[live]", "health.endpoint[live]", "ready", "backups", "*[live]", "health.end", ""]
)
def test_selector_does_not_match(selector):
    assert not selector_matches(selector, READY)


def test_brackets_in_a_wildcard_selector_are_literal():
    assert not selector_matches("health.endpoint[rd]*", READY)  # not the character class [rd]


# -- the gate -----------------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 10)


def check(name: str, subject: str = "shop", severity: str = "critical", phases: list[str] | None = None) -> CheckInfo:
    return CheckInfo(nodeid=f"test_{subject}.py::test_{name}", check_id=name, subject=subject, title=name,
                     phases=phases or [], severity=severity, runbook=[])


def facts(*results: tuple[CheckInfo, str | None], deselected=(), required=(), waivers=(), phases=None, **kw):
    return SessionFacts(
        checks={c.nodeid: c for c, _ in results},
        deselected={c.nodeid for c in deselected},
        outcomes={c.nodeid: Outcome(status, "reason" if status != "passed" else "") for c, status in results if status},
        collection_errors=kw.pop("collection_errors", []),
        phases=phases or ["predeploy", "postdeploy", "rollback", "smoke"],
        gate=GateSection(required=list(required), waivers=list(waivers)),
        today=TODAY,
        **kw,
    )


def test_all_passed_is_go():
    verdict = decide(facts((check("a"), "passed"), (check("b", severity="warning"), "passed")))
    assert (verdict.verdict, verdict.reasons, verdict.counts["passed"]) == (GO, [], 2)


def test_nothing_selected_is_no_go():
    verdict = decide(facts())
    assert (verdict.verdict, verdict.reasons) == (NO_GO, ["no checks ran"])


def test_everything_not_configured_is_no_go():
    verdict = decide(facts((check("a"), "not-configured")))
    assert verdict.verdict == NO_GO
    assert verdict.reasons == ["no checks ran (1 selected, none ran to a judgement)"]


@pytest.mark.parametrize(("severity", "status", "expected"), [
    ("warning", "failed", GO_WITH_WARNINGS), ("warning", "errored", GO_WITH_WARNINGS),
    ("critical", "failed", NO_GO), ("critical", "errored", NO_GO), ("blocker", "failed", NO_GO),
])
def test_severity_decides(severity, status, expected):
    verdict = decide(facts((check("a", severity=severity), status), (check("b"), "passed")))
    assert verdict.verdict == expected
    assert verdict.reasons == [f"{severity} check {status}: shop.a"]


@pytest.mark.parametrize(("until", "waived"), [(TODAY, True), (TODAY + dt.timedelta(days=1), True),
                                               (TODAY - dt.timedelta(days=1), False)])
def test_waiver_is_active_until_its_last_day(until, waived):
    waiver = Waiver(check="shop.a", reason="known", until=until)
    verdict = decide(facts((check("a", severity="blocker"), "failed"), waivers=[waiver]))

    assert verdict.verdict == (GO_WITH_WARNINGS if waived else NO_GO)
    assert len(verdict.waived) == int(waived)
    assert len(verdict.expired_waivers) == int(not waived)


def test_required_not_run_deselected_or_unmatched_is_no_go():
    a, b = check("a"), check("b", subject="backups")
    verdict = decide(facts((a, "passed"), (b, None), deselected=[b], required=["backups", "tls"]))

    assert verdict.verdict == NO_GO
    assert [(m["required"], m["status"]) for m in verdict.missing] == [("backups", "deselected"), ("tls", "no-match")]


def test_required_of_another_phase_is_not_missing():
    a, rollback = check("a", phases=["postdeploy"]), check("restore", subject="backups", phases=["rollback"])
    verdict = decide(facts((a, "passed"), (rollback, None), deselected=[rollback], required=["backups"],
                           phases=["postdeploy"]))

    assert verdict.verdict == GO
    assert verdict.missing == []
    assert verdict.not_in_phase == ["backups"]


def test_required_warning_failure_is_judged_by_its_severity():
    """Required means 'must run to a judgement'; a failed warning stays a warning."""
    verdict = decide(facts((check("a", severity="warning"), "failed"), required=["shop.a"]))
    assert verdict.verdict == GO_WITH_WARNINGS
    assert verdict.missing == []


def test_required_warning_error_blocks():
    """An error is no judgement: a required check that errored is a NO-GO whatever its severity."""
    verdict = decide(facts((check("a", severity="warning"), "errored"), required=["shop.a"]))
    assert verdict.verdict == NO_GO
    assert "required check errored (it could not be judged): shop.a" in verdict.reasons


def test_interrupted_run_is_no_go():
    a, b = check("a"), check("b")
    verdict = decide(facts((a, "passed"), (b, None), interrupted="interrupted by the user"))

    assert verdict.verdict == NO_GO
    assert verdict.reasons == ["run interrupted: interrupted by the user",
                               "1 selected check(s) did not run before the interruption"]


def test_collection_error_is_no_go():
    verdict = decide(facts((check("a"), "passed"), collection_errors=[("test_x.py", "boom")]))
    assert verdict.verdict == NO_GO
    assert verdict.reasons == ["collection error in test_x.py: boom"]


# -- masking ------------------------------------------------------------------------------------


def test_masker_masks_longest_first_and_skips_short_values():
    masker = Masker()
    masker.add_all(["abc", "secret", "secret-and-more", None])

    assert masker.mask("x secret-and-more y secret z abc") == "x *** y *** z abc"
    assert masker.mask_data({"k secret": ["secret", 1, ("secret",)]}) == {"k ***": ["***", 1, ["***"]]}


def test_inactive_masker_changes_nothing():
    assert Masker().mask("secret") == "secret"


@pytest.mark.parametrize("key", ["password", "db_password", "PASSWD", "api_key", "apikey", "secret_key", "token", "dsn",
                                 "credentials", "keys", "cookie"])
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["url", "monkey", "keyboard", "user", "compose_project", "name", "components_key"])
def test_not_secret_keys(key):
    assert not is_secret_key(key)


# -- the gate: what did not judge -----------------------------------------------------------------


def test_a_run_time_skip_of_a_blocker_is_no_go_and_of_a_warning_a_warning():
    blocker, warning = check("a", severity="blocker"), check("b", severity="warning")
    verdict = decide(facts((blocker, "skipped"), (warning, "passed")))
    assert verdict.verdict == NO_GO
    assert verdict.reasons == ["blocker check did not run: shop.a (skipped: reason)"]
    assert [e["id"] for e in verdict.not_run] == ["shop.a"]

    verdict = decide(facts((blocker, "passed"), (warning, "skipped")))
    assert (verdict.verdict, verdict.reasons) == (GO_WITH_WARNINGS, ["warning check did not run: shop.b (skipped: reason)"])


def test_a_dependent_skip_needs_something_that_failed():
    status, body = check("status", severity="blocker"), check("body", severity="blocker")
    verdict = decide(facts((status, "failed"), (body, "dependent")))
    assert verdict.reasons == ["blocker check failed: shop.status"]  # the body adds no second reason

    verdict = decide(facts((status, "passed"), (body, "dependent")))
    assert verdict.verdict == NO_GO
    assert verdict.reasons == ["blocker check did not run: shop.body (dependent: reason, but no check failed)"]


def test_a_not_applicable_optional_sub_check_never_makes_its_subject_missing():
    healthy, latency = check("healthy", subject="health"), check("fast", subject="health", severity="warning")
    verdict = decide(facts((healthy, "passed"), (latency, "not-applicable"), required=["health"]))
    assert (verdict.verdict, verdict.missing) == (GO, [])
    assert verdict.counts["not_applicable"] == 1

    # but a required entry that only names a sub-check which applies to nothing was never judged
    verdict = decide(facts((healthy, "passed"), (latency, "not-applicable"), required=["health.fast"]))
    assert verdict.verdict == NO_GO
    assert [(m["required"], m["status"]) for m in verdict.missing] == [("health.fast", "not-configured")]


def test_partial_runs():
    from gonogo.selection import LeftOut

    a, b = check("a", severity="blocker"), check("b", severity="blocker")
    left = LeftOut(checks=[b.nodeid])
    verdict = decide(facts((a, "passed"), (b, None), deselected=[b], left_out=left))
    assert verdict.verdict == NO_GO and not verdict.partial
    assert verdict.reasons[0].startswith("partial run: 1 check(s) of the phase deselected")

    verdict = decide(facts((a, "passed"), (b, None), deselected=[b], left_out=left, partial_allowed=True,
                           required=["shop.b"]))
    assert (verdict.verdict, verdict.partial, verdict.missing) == (GO, True, [])  # covers the selection only


def test_waivers_never_cover_errors():
    waiver = Waiver(check="shop.a", reason="known", until=TODAY)
    verdict = decide(facts((check("a", severity="blocker"), "errored"), waivers=[waiver]))
    assert verdict.verdict == NO_GO
    assert verdict.waived == [] and [w["check"] for w in verdict.unused_waivers] == ["shop.a"]


@pytest.mark.parametrize("pattern", ["*", "*.*", "?", "[*]"])
def test_a_waiver_must_name_checks(pattern):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="a waiver must name the checks it accepts"):
        Waiver(check=pattern, reason="x", until=TODAY)
