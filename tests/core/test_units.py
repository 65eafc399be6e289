"""Direct tests of the pure parts: interpolation, selectors, the gate's decision, the masker."""

from __future__ import annotations

import datetime as dt

import pytest

from gonogo.checks import CheckInfo, selector_matches
from gonogo.gate import GO, GO_WITH_WARNINGS, NO_GO, Outcome, SessionFacts, decide
from gonogo.interpolation import MissingVariable, interpolate
from gonogo.inventory import Entry
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


def facts(*results: tuple[CheckInfo, str | None], deselected=(), required=(), waivers=(), phases=None,
          depends: dict[str, str] | None = None, **kw):
    """The facts of a run of ``results`` (check, status or None); ``depends``: check name -> the id it depends on."""
    depends = depends or {}
    return SessionFacts(
        checks={c.nodeid: c for c, _ in results},
        deselected={c.nodeid for c in deselected},
        outcomes={c.nodeid: Outcome(status, "reason" if status != "passed" else "", depends_on=depends.get(c.check_id, ""))
                  for c, status in results if status},
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


def test_a_dependent_skip_needs_the_check_it_names_to_have_failed():
    status, body = check("status", severity="blocker"), check("body", severity="blocker")
    other = check("other", severity="warning")
    on = {"body": "shop.status"}
    verdict = decide(facts((status, "failed"), (body, "dependent"), depends=on))
    assert verdict.reasons == ["blocker check failed: shop.status"]  # the body adds no second reason
    assert verdict.dependent_ok == ["shop.body"]

    verdict = decide(facts((status, "passed"), (body, "dependent"), depends=on))
    assert verdict.verdict == NO_GO
    assert verdict.reasons == ["blocker check did not run: shop.body (dependent: reason, but shop.status did not fail)"]

    # something else failing is no excuse: the check it names passed
    verdict = decide(facts((status, "passed"), (body, "dependent"), (other, "failed"), depends=on))
    assert verdict.verdict == NO_GO
    assert "blocker check did not run: shop.body (dependent: reason, but shop.status did not fail)" in verdict.reasons

    # a skip that names nothing, or a check that is not in the run
    assert decide(facts((status, "failed"), (body, "dependent"))).verdict == NO_GO
    verdict = decide(facts((status, "failed"), (body, "dependent"), depends={"body": "shop.nothing"}))
    assert "blocker check did not run: shop.body (dependent: reason, but shop.nothing is not a check of this run)" \
        in verdict.reasons


def test_a_waived_failure_excuses_no_dependent_check():
    trusted, names = check("trusted", subject="tls", severity="blocker"), check("names", subject="tls", severity="blocker")
    waiver = Waiver(check="tls.trusted", reason="renewal under way", until=TODAY)
    verdict = decide(facts((trusted, "failed"), (names, "dependent"), waivers=[waiver], depends={"names": "tls.trusted"}))
    assert verdict.verdict == NO_GO
    assert [e["id"] for e in verdict.waived] == ["tls.trusted"]
    assert verdict.reasons == ["blocker check did not run: tls.names (dependent: reason, but the failure of tls.trusted "
                               "was waived (a waiver accepts the failure it names, not the checks after it))"]


def test_a_failed_warning_excuses_no_dependent_blocker():
    page, assets = check("page", severity="warning"), check("assets", severity="blocker")
    verdict = decide(facts((page, "failed"), (assets, "dependent"), depends={"assets": "shop.page"}))
    assert verdict.verdict == NO_GO
    assert "blocker check did not run: shop.assets (dependent: reason, but shop.page is a warning (its failure cannot " \
        "excuse a blocker that never judged))" in verdict.reasons
    # a dependent warning after a failed warning is fine
    hint = check("hint", severity="warning")
    verdict = decide(facts((page, "failed"), (hint, "dependent"), depends={"hint": "shop.page"}))
    assert verdict.verdict == GO_WITH_WARNINGS and verdict.dependent_ok == ["shop.hint"]


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
    a, b = check("a", severity="blocker"), check("b", severity="blocker")
    verdict = decide(facts((a, "passed"), (b, None), deselected=[b]))
    assert verdict.verdict == NO_GO and not verdict.partial
    assert verdict.reasons[0].startswith("partial run: 1 check(s) of the phase deselected")

    verdict = decide(facts((a, "passed"), (b, None), deselected=[b], partial_allowed=True))
    assert (verdict.verdict, verdict.partial) == (GO, True)  # covers the selection only
    # but --partial never turns a required check it left out into a GO
    verdict = decide(facts((a, "passed"), (b, None), deselected=[b], partial_allowed=True, required=["shop.b"]))
    assert verdict.verdict == NO_GO and verdict.partial
    assert [(m["id"], m["status"]) for m in verdict.missing] == [("shop.b", "deselected")]


def test_a_check_of_the_inventory_the_run_never_collected_makes_it_partial():
    a = check("a", severity="blocker", phases=["postdeploy"])
    inventory = {"test_shop.py::test_a": Entry("shop", ("postdeploy",)), "test_db.py::test_b": Entry("db", ("postdeploy",)),
                 "test_db.py::test_c": Entry("db", ("predeploy",))}
    seen = {"test_shop.py::test_a": Entry("shop", ("postdeploy",))}
    verdict = decide(facts((a, "passed"), phases=["postdeploy"], inventory=inventory, seen=seen))
    assert verdict.verdict == NO_GO
    assert verdict.left_out.uncollected == ["test_db.py::test_b"]  # test_c is of another phase
    assert verdict.reasons == ["partial run: 1 check(s) of the phase not collected (test_db.py::test_b); a verdict covers "
                               "the whole of each selected phase (pass --partial to judge only the selection)"]
    verdict = decide(facts((a, "passed"), phases=["postdeploy"], inventory=inventory, seen=seen, partial_allowed=True))
    assert (verdict.verdict, verdict.partial) == (GO, True)


def test_a_collected_check_the_inventory_does_not_list_is_no_go_even_partial():
    a = check("a", severity="blocker", phases=["postdeploy"])
    seen = {"test_shop.py::test_a": Entry("shop", ("postdeploy",))}
    for inventory in ({}, {"test_shop.py::test_a": Entry("shop", ("predeploy",))}):
        verdict = decide(facts((a, "passed"), phases=["postdeploy"], inventory=inventory, seen=seen, partial_allowed=True))
        assert verdict.verdict == NO_GO
        [reason] = verdict.reasons
        assert reason.startswith("inventory.toml is out of date (1 difference(s); ")
        assert "run `python -m gonogo.inventory` and commit it" in reason


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
