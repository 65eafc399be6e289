"""The smoke subject's probe pieces against real components: a PDF rendered by the real Chromium and read
with pypdf (empty, HTML, truncated); Chromium found or not at a real path; the defaults file merged
with a profile's overrides (a missing file, an unknown key, a bad value are errors that name them)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from gonogo.probes.host import bounded
from gonogo.probes.smoke import SmokeConfigError, chromium_path, chromium_problem, load_config, read_pdf
from gonogo.sections.smoke import DEFAULT_CHROMIUM, SmokeSection

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = REPO / "fixtures" / "smoke.toml"


def _section(**more: object) -> SmokeSection:
    return SmokeSection.model_validate({"base_url": "https://shop.example.test/", "user": "demo", "password": "pw", **more})


@pytest.fixture(scope="module")
def invoice_pdf() -> bytes:
    """A real PDF: an invoice page printed by Debian's Chromium."""
    if chromium_problem(Path(DEFAULT_CHROMIUM), "the default"):
        pytest.fail(f"{DEFAULT_CHROMIUM} is missing: ./run setup installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=DEFAULT_CHROMIUM)
        page = browser.new_page()
        page.set_content("<h1>Invoice INV-000042</h1><p>Total 61.50</p>")
        body = page.pdf()
        browser.close()
    return body


def test_a_real_pdf_parses_with_its_text(invoice_pdf: bytes) -> None:
    fact = read_pdf("https://shop/sales/42/invoice.pdf", 200, "application/pdf", invoice_pdf)
    assert fact.parsed and fact.pages == 1, fact
    assert "INV-000042" in fact.text and "61.50" in fact.text
    assert "1 page(s)" in repr(fact) and "INV-000042" in fact.evidence()


@pytest.mark.parametrize(("body", "error"), [
    (b"", "empty body"),
    (b"<html><p>The PDF is still being generated.</p></html>", "does not start with %PDF-"),
], ids=["empty", "html"])
def test_what_is_not_a_pdf_is_a_fact_with_an_error(body: bytes, error: str) -> None:
    fact = read_pdf("https://shop/x.pdf", 200, "application/pdf", body)
    assert not fact.parsed and error in (fact.error or ""), fact
    assert "not a PDF" in repr(fact)


def test_a_truncated_pdf_is_an_error_in_bounded_time(invoice_pdf: bytes) -> None:
    started = time.monotonic()
    fact = read_pdf("https://shop/x.pdf", 200, "application/pdf", invoice_pdf[: len(invoice_pdf) // 3])
    assert not fact.parsed and "pypdf cannot read it" in (fact.error or ""), fact
    assert time.monotonic() - started < 5


def test_chromium_comes_from_the_profile_then_the_environment_then_the_default(tmp_path: Path) -> None:
    mine = tmp_path / "chrome"
    assert chromium_path(_section(chromium=str(mine)), {"CHROMIUM_PATH": "/opt/c"}) == (mine, "[smoke] chromium")
    assert chromium_path(_section(), {"CHROMIUM_PATH": "/opt/c"}) == (Path("/opt/c"), "CHROMIUM_PATH")
    assert chromium_path(_section(), {}) == (Path(DEFAULT_CHROMIUM), "the default")


def test_a_missing_or_unexecutable_chromium_is_named(tmp_path: Path) -> None:
    assert chromium_problem(Path(DEFAULT_CHROMIUM), "the default") is None  # Debian's, installed by ./run setup
    missing = chromium_problem(tmp_path / "none", "CHROMIUM_PATH")
    assert missing and "not found" in missing and "CHROMIUM_PATH" in missing and "apt-get install chromium" in missing
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\n")
    assert "not executable" in (chromium_problem(plain, "[smoke] chromium") or "")


def test_the_profile_overrides_single_keys_of_the_defaults() -> None:
    section = _section(selectors={"sale_total": "total-amount"}, data={"payment": "cash", "paid_label": "Cash"})
    config = load_config(section, DEFAULTS, {"shop.example.test": "127.0.0.1"}, None, {})
    assert config.testid("sale_total") == "total-amount" and config.testid("sale_number") == "sale-number"
    assert config.data.payment == "cash" and len(config.data.sale_lines) >= 2
    assert config.testid("sale_line_product", row=1) == "sale-line-product-1"
    assert config.url("/accounts/login/") == "https://shop.example.test/accounts/login/"


def test_an_unknown_override_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="unknown key.*sale_totl"):
        _section(selectors={"sale_totl": "x"})


def test_a_missing_defaults_file_or_a_bad_value_is_an_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(SmokeConfigError, match="cannot read it"):
        load_config(_section(), tmp_path / "none.toml", {}, None, {})
    with pytest.raises(SmokeConfigError, match="sale_lines"):  # a sale needs at least two products
        load_config(_section(data={"sale_lines": [{"product": "TSH-001"}]}), DEFAULTS, {}, None, {})


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(os.mkfifo, "it is a FIFO, not a regular file", id="fifo-never-waited-on"),
    pytest.param(lambda p: p.symlink_to("/dev/zero"), "it is a character device", id="dev-zero-never-read"),
    pytest.param(lambda p: p.write_text("x = " + "[" * 50_000 + "]" * 50_000), "RecursionError", id="deeply-nested"),
    pytest.param(lambda p: p.write_text("x = " + "9" * 5000), "4300 digits", id="huge-number"),
    pytest.param(lambda p: p.write_text("selectors = 1\n"), "selectors must be a table", id="not-a-table"),
])
def test_a_defaults_file_that_is_no_toml_file_is_an_error_at_once(tmp_path: Path, make, expected: str) -> None:  # type: ignore[no-untyped-def]
    defaults = tmp_path / "smoke.toml"
    make(defaults)

    with pytest.raises(SmokeConfigError) as caught:
        bounded(lambda: load_config(_section(), defaults, {}, None, {}), 5)  # a FIFO would block: TimeoutError

    assert str(caught.value).startswith(f"[smoke] defaults {defaults}: ") and expected in str(caught.value)


# ---- where the defaults are (issue 22, item 9): the suite's own, wherever the profile lives

SMOKE_PROFILE = """
[environment]
release = "1.4.2"

[smoke]
base_url = "https://shop.example.test"
user = "demo"
password = "pw-smoke-7781"
selectors = { sale_total = "total-amount" }
"""


def test_a_profile_outside_the_repository_finds_the_suite_defaults(tmp_path: Path) -> None:
    """A profile in /etc/gonogo (here a tmp dir, chosen with --environments-dir) loaded as a run loads it, with
    the repository as the rootdir: the defaults are the suite's fixtures/smoke.toml, the profile's overrides on top."""
    import tomllib

    from gonogo.environment import load
    from gonogo.stack import Stack

    outside = tmp_path / "etc" / "gonogo"
    outside.mkdir(parents=True)
    (outside / "prod.toml").write_text(SMOKE_PROFILE)
    assert not (tmp_path / "etc" / "fixtures").exists()  # where the defaults were looked for (beside the profile)

    config = Stack(load("prod", "--env", outside, REPO, {})).smoke

    defaults = tomllib.loads(DEFAULTS.read_text())
    assert config.testid("sale_total") == "total-amount"
    assert config.testid("sale_number") == defaults["selectors"]["sale_number"]
    assert config.data.payment == defaults["data"]["payment"]


def test_defaults_set_in_the_profile_are_relative_to_the_profile(tmp_path: Path) -> None:
    from gonogo.environment import load
    from gonogo.stack import Stack

    outside = tmp_path / "etc" / "gonogo"
    outside.mkdir(parents=True)
    team = DEFAULTS.read_text().replace('sale_number = "sale-number"', 'sale_number = "team-sale-number"')
    assert team != DEFAULTS.read_text()
    (outside / "team-smoke.toml").write_text(team)
    (outside / "prod.toml").write_text(SMOKE_PROFILE.replace("[smoke]\n", '[smoke]\ndefaults = "team-smoke.toml"\n'))

    config = Stack(load("prod", "--env", outside, REPO, {})).smoke

    assert config.testid("sale_number") == "team-sale-number" and config.testid("sale_total") == "total-amount"
    missing = SMOKE_PROFILE.replace("[smoke]\n", '[smoke]\ndefaults = "none.toml"\n')
    (outside / "prod.toml").write_text(missing)
    with pytest.raises(SmokeConfigError, match=f"defaults {outside / 'none.toml'}: cannot read it"):
        Stack(load("prod", "--env", outside, REPO, {})).smoke
