"""The smoke flows against the sandbox shop, as a user runs them (``pytest -m smoke --env sandbox``):

- data safety: after a run, healthy or failing halfway (``credit-broken``: the credit sale is recorded,
  the payment against it silently dropped), the shop's figures of untagged data are what they were
  and nothing tagged is left (read in the sandbox's PostgreSQL, not through gonogo);
- evidence: the failed flow's Allure result holds a screenshot, the page's HTML and a Playwright trace
  that opens as a zip; no attachment, the trace's contents included, holds the smoke user's password.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Sandbox

REPO = Path(__file__).resolve().parents[2]
TAG = "gonogo-smoke"  # environments/sandbox.toml leaves [smoke] tag at its default

#: the shop's figures that no smoke run may change: untagged sales and payments, customers, stock
UNTAGGED = f"""
WITH untagged_sale AS (
    SELECT s.* FROM shop_sale s LEFT JOIN shop_customer c ON c.id = s.customer_id
    WHERE c.id IS NULL OR NOT starts_with(c.name, '{TAG}')),
untagged_payment AS (
    SELECT p.* FROM shop_creditpayment p JOIN shop_customer c ON c.id = p.customer_id WHERE NOT starts_with(c.name, '{TAG}'))
SELECT (SELECT count(*) FROM untagged_sale), (SELECT coalesce(sum(total), 0) FROM untagged_sale),
       (SELECT count(*) FROM shop_saleline WHERE sale_id IN (SELECT id FROM untagged_sale)),
       (SELECT count(*) FROM untagged_payment), (SELECT coalesce(sum(amount), 0) FROM untagged_payment),
       (SELECT count(*) FROM shop_customer WHERE NOT starts_with(name, '{TAG}')),
       (SELECT sum(stock) FROM shop_product)
"""
TAGGED = f"""
SELECT (SELECT count(*) FROM shop_customer WHERE starts_with(name, '{TAG}')),
       (SELECT count(*) FROM shop_sale s JOIN shop_customer c ON c.id = s.customer_id WHERE starts_with(c.name, '{TAG}'))
"""


def run_smoke(sb: "Sandbox", tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    gate_file = tmp_path / "gate.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "smoke", "--env", "sandbox", "-p", "no:cacheprovider",
         f"--gate-file={gate_file}", f"--alluredir={tmp_path / 'allure'}"],
        cwd=REPO, env=sb.env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert gate_file.is_file(), proc.stdout + proc.stderr
    return proc, json.loads(gate_file.read_text())


@pytest.mark.parametrize("fault", ["", "credit-broken"], ids=["healthy", "credit-broken"])
def test_a_smoke_run_leaves_the_shops_untagged_figures_unchanged(sandbox: "Sandbox", faults: Any, tmp_path: Path,
                                                                 fault: str) -> None:
    faults((fault,) if fault else ())
    before = sandbox.sql(UNTAGGED)
    proc, gate = run_smoke(sandbox, tmp_path)
    failed = {entry["id"] for entry in gate["failed"] + gate["errored"]}
    if fault:
        assert gate["verdict"] == "NO-GO" and failed == {"smoke.credit"}, proc.stdout[-3000:]
    else:
        assert gate["verdict"] == "GO", proc.stdout[-3000:]
        assert gate["counts"]["passed"] == 5 and gate["duration_s"] < 60, gate["counts"]
    assert sandbox.sql(UNTAGGED) == before
    assert sandbox.sql(TAGGED) == [(0, 0)], "the run's tagged customer or sales are still in the shop"


def _result(allure_dir: Path, title_start: str) -> dict[str, Any]:
    for path in allure_dir.glob("*-result.json"):
        result = json.loads(path.read_text())
        if result["name"].startswith(title_start):
            return result
    raise AssertionError(f"no Allure result titled {title_start!r} in {allure_dir}")


def test_a_failed_flow_holds_its_screenshot_html_and_trace(sandbox: "Sandbox", faults: Any, tmp_path: Path) -> None:
    faults(("credit-broken",))
    proc, gate = run_smoke(sandbox, tmp_path)
    assert gate["verdict"] == "NO-GO", proc.stdout[-3000:]
    allure_dir = tmp_path / "allure"
    result = _result(allure_dir, "A sale on credit raises")
    assert result["status"] == "failed" and "balance after the payment" in result["statusDetails"]["message"]
    assert [step["name"] for step in result["steps"]][-1] == "read the balance after the payment"
    kinds = {attachment["type"]: attachment for attachment in result["attachments"]}
    assert {"image/png", "text/html", "application/zip"} <= set(kinds), result["attachments"]
    assert (allure_dir / kinds["image/png"]["source"]).read_bytes().startswith(b"\x89PNG")
    assert "data-testid" in (allure_dir / kinds["text/html"]["source"]).read_text()
    with zipfile.ZipFile(allure_dir / kinds["application/zip"]["source"]) as trace:
        names = trace.namelist()
        assert any(name.endswith(".trace") for name in names), names
        contents = b"".join(trace.read(name) for name in names)
    password = sandbox.values["DEMO_PASSWORD"].encode()
    assert password not in contents, "the trace holds the smoke user's password"
    for path in allure_dir.iterdir():
        assert password not in path.read_bytes(), f"{path.name} holds the smoke user's password"
    passed = _result(allure_dir, "A sale of two products")
    assert passed["status"] == "passed"
    assert not any(a["type"] == "application/zip" for a in passed.get("attachments", [])), "a passing flow keeps no trace"
