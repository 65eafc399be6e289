"""The single-file report in a real browser: Debian's Chromium, headless, with no network at all.

A real run (the real checks/test_health.py against a real loopback HTTP server whose ready endpoint
answers 503) is rendered by the real Allure Report 3; Playwright drives /usr/bin/chromium (never a
downloaded browser) on the single file, refuses every request that would leave the file, and reads
what a release manager sees: the verdict on the first screen, then a failed check and its evidence.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from gonogo import report

CHROMIUM = Path("/usr/bin/chromium")


def test_single_file_report_shows_verdict_and_evidence_offline(run_gate, allure_tools, stub_server, health_module, tmp_path):
    assert CHROMIUM.exists(), "Debian's chromium is missing: ./run setup installs it"
    stub_server.routes["/health/ready/"] = (503, '{"status": "error", "error": "database unreachable"}')
    profile = f"""
        [environment]
        release = "2.0.1"

        [[health]]
        name = "ready"
        url = "{stub_server.url('/health/ready/')}"
        json = {{ status = "ok" }}
        severity = "blocker"
    """
    run = run_gate(health_module, profile=profile)
    assert run.gate["verdict"] == "NO-GO", run.log
    _, single = report.build(allure_tools, run.reports, [run.allure_dir], run.reports / "gate.json")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            tried = report.open_offline(page, single)
            page.get_by_text("NO-GO · dev · release 2.0.1").first.wait_for(timeout=30_000)  # the first screen
            assert page.get_by_text("decided.by.blocking.checks").is_visible()
            page.get_by_text("The health endpoint answers the expected status", exact=False).first.click()
            page.get_by_text("ready status: expected 200, got 503").first.wait_for(timeout=10_000)
            url = stub_server.url("/health/ready/")
            page.get_by_text(f"GET {url}", exact=True).first.click()  # the evidence: the HTTP exchange, attached
            page.get_by_text("status: 503").first.wait_for(timeout=10_000)
            assert page.get_by_text('"error": "database unreachable"', exact=False).first.is_visible()
        finally:
            browser.close()
    assert tried == [], f"the report tried to reach the network: {tried}"

    shot = report.screenshot(single, tmp_path / "first-screen.png")  # what ./run demo keeps
    assert shot.stat().st_size > 10_000
