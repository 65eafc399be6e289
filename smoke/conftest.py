"""The smoke flows' fixtures, in Playwright's conventions: a session ``playwright``, the
``browser_type_launch_args`` override point (``--headed``, ``--slowmo``), a browser, a context per flow.

- ``browser_type_launch_args`` gets the Chromium of ``[smoke] chromium`` / ``CHROMIUM_PATH`` /
  /usr/bin/chromium as ``executable_path`` and the profile's resolve map as host resolver rules;
  a missing Chromium is an error that says so (nothing downloads a browser).
- ``smoke_browser`` launches it once per session; ``smoke_context_args`` are every context's options.
- ``smoke_run`` (module): the run's tagged data, removed at the end, also after a failure.
- ``flow`` (each check): its browser contexts; on failure the screenshot, HTML and trace of each
  are attached to the check's Allure result.

pytest-playwright is not used: it parametrises every test with an argument named ``page``,
``browser`` or ``context`` by browser name (a check's id ``frontend.page_served[home]`` became
``[chromium-home]``) and deletes ./test-results in every run.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Browser, Playwright, sync_playwright

from gonogo import evidence, skips
from gonogo.environment import LoadedEnvironment
from gonogo.probes.smoke import SmokeConfig, chromium_problem
from gonogo.stack import Stack
from smoke.session import Flow, SmokeRun


@pytest.fixture(scope="session")
def smoke_config(stack: Stack, gonogo_env: LoadedEnvironment) -> SmokeConfig:
    """The ``[smoke]`` settings; the flows are not run where ``[smoke] allowed`` is not true."""
    config = stack.smoke
    if not config.section.allowed:
        skips.not_configured(f"not run: [smoke] allowed = false in {gonogo_env.display_path}: the smoke flows write "
                             "(a customer, sales, a payment) and this environment does not allow them")
    return config


def _spki_hashes(config: SmokeConfig) -> list[str]:
    """Base64 SHA-256 of the public key of each certificate of ``[environment] ca_file``."""
    if config.ca_file is None:
        return []
    certificates = x509.load_pem_x509_certificates(config.ca_file.read_bytes())
    keys = (c.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) for c in certificates)
    return [base64.b64encode(hashlib.sha256(key).digest()).decode() for key in keys]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, for the session."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser_type_launch_args(smoke_config: SmokeConfig, pytestconfig: pytest.Config) -> dict[str, Any]:
    """Chromium's launch options (override to add some): Debian's Chromium, headless unless ``--headed``,
    ``--slowmo``, the profile's resolve map and CA."""
    problem = chromium_problem(smoke_config.chromium, smoke_config.chromium_source)
    if problem:
        pytest.fail(problem, pytrace=False)
    args: list[str] = []
    if smoke_config.resolve:
        args.append("--host-resolver-rules=" + ", ".join(f"MAP {host} {address}"
                                                          for host, address in smoke_config.resolve.items()))
    spki = _spki_hashes(smoke_config)
    if spki:  # the shop's certificate chains to the profile's CA: accept that CA's key, nothing else
        args.append("--ignore-certificate-errors-spki-list=" + ",".join(spki))
    return {"executable_path": str(smoke_config.chromium), "args": args,
            "headless": not pytestconfig.getoption("headed"), "slow_mo": pytestconfig.getoption("slowmo") or 0}


@pytest.fixture(scope="session")
def smoke_browser(playwright: Playwright, browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    """Chromium, launched once for the session's flows."""
    browser = playwright.chromium.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def smoke_context_args(smoke_config: SmokeConfig) -> dict[str, Any]:
    """The options of every browser context of the flows (override to add a device, a locale...)."""
    return {"base_url": smoke_config.base_url}


@pytest.fixture(scope="module")
def smoke_run(smoke_config: SmokeConfig, smoke_browser: Browser, smoke_context_args: dict[str, Any]) -> Iterator[SmokeRun]:
    """The flows' shared run; at its end what it created is removed (also when a flow failed halfway)."""
    run = SmokeRun(smoke_config, smoke_browser, smoke_context_args)
    yield run
    answer = run.cleanup()
    evidence.attach(f"smoke cleanup: tag {run.customer_name}", answer, "json")


@pytest.fixture
def flow(smoke_run: SmokeRun) -> Iterator[Flow]:
    """This check's browser contexts (closed at its end)."""
    current = Flow(smoke_run.browser, smoke_run.context_args, smoke_run.config)
    yield current
    current.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """A flow that failed gets its screenshots, HTML and traces in its own result (not its teardown)."""
    report = yield
    current = getattr(item, "funcargs", {}).get("flow")
    if report.when == "call" and report.failed and isinstance(current, Flow):
        current.attach_evidence()
    return report
