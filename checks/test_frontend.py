"""The frontend answers through the proxy, serves every asset its pages reference, and its server's
configuration passes its own test.

Runbook steps: RCY-4.3 (the frontend answers through Traefik), RBK-3.3 (and again after a rollback),
BTQ-3.4 (static files collected and served: after a deploy or a rollback, each release's pages name
its own content-hashed files), SMK-9 (``nginx -t``: the proxy configuration is valid). Each page of
``[frontend] pages`` is one check of each kind (``frontend.page_served[home]``); the assets check is
dependent on the page. Assets on another host than the page's (a public CDN) are fetched only when
``[frontend] asset_hosts`` names that host: the others are listed in the evidence, never asked.
"""

from __future__ import annotations

import mimetypes

import pytest

from gonogo import dependent, evidence, judge, served, skips
from gonogo.probes.frontend import AssetFact
from gonogo.sections.frontend import FrontendPage
from gonogo.probes.http import HttpFact
from gonogo.stack import Stack

#: the media types browsers run as JavaScript (text/javascript is the standard one, RFC 9239)
JAVASCRIPT = frozenset({"text/javascript", "application/javascript", "application/x-javascript",
                        "application/ecmascript", "text/ecmascript"})
#: what each kind of reference needs when its URL's extension says nothing
BY_KIND = {"stylesheet": "text/css", "script": "text/javascript", "image": "image/*"}
#: Python's own table (not the system's /etc/mime.types): the same answer on every machine
_TYPES = mimetypes.MimeTypes()
#: how a page's failing proof is said
PROOF = served.Wording(header="{name}: {value!r} does not match {pattern!r}",
                       body="no match for {pattern!r} in the body ({shown!r})", shown_chars=120)


def proof_problems(page: FrontendPage, fact: HttpFact) -> list[str]:
    """What in the answer fails to prove who served it (the headers and body marker the profile names)."""
    return served.unproven(fact, page.headers, page.body, PROOF)


def expected_type(asset: AssetFact) -> str:
    """The media type an asset must have: its URL's extension says, else how the page uses it; any
    JavaScript type is ``text/javascript``, any image type ``image/*``."""
    guessed, _ = _TYPES.guess_type(asset.url.split("?", 1)[0], strict=False)
    expected = guessed or BY_KIND[asset.kind]
    if expected in JAVASCRIPT:
        return "text/javascript"
    return "image/*" if expected.startswith("image/") else expected


def type_fits(expected: str, actual: str | None) -> bool:
    if actual is None:
        return False
    if expected == "text/javascript":
        return actual in JAVASCRIPT
    if expected == "image/*":
        return actual.startswith("image/")
    return actual == expected


def asset_problem(asset: AssetFact) -> str | None:
    """Why an asset would not work in a browser: not 200, a content type that does not fit, empty."""
    if asset.status != 200:
        return asset.status_text
    expected = expected_type(asset)
    if not type_fits(expected, asset.media_type):
        return f"200 but {asset.content_type or 'no content type'} (a {asset.kind} needs {expected})"
    if asset.size == 0:
        return "200 but empty"
    return None


@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-4.3", "RBK-3.3")
@pytest.mark.each("frontend.pages", "page")
def test_page_served(page: FrontendPage, stack: Stack) -> None:
    """The page answers its expected status through the proxy, with what proves who served it (headers, body marker)."""
    fact = stack.frontend.page(page)
    judge(f"{page.name} status", fact.status == page.status, expected=page.status, actual=fact.status_text,
          where=page.url, fact=fact)
    problems = proof_problems(page, fact)
    judge(f"{page.name} origin", not problems, expected="the headers and body marker [frontend] pages names",
          actual="; ".join(problems), where=page.url, fact=fact)


@pytest.mark.postdeploy
@pytest.mark.rollback
@pytest.mark.severity("critical")
@pytest.mark.runbook("BTQ-3.4")
@pytest.mark.each("frontend.pages", "page")
def test_assets_served(page: FrontendPage, stack: Stack) -> None:
    """Every stylesheet, script and image the page references on its own host (and ``asset_hosts``) answers 200
    with a content type that fits it."""
    fact = stack.frontend.page(page)
    if fact.status != page.status:
        dependent(f"frontend.page_served[{page.name}]", f"{page.url} answered {fact.status_text}")
    assets = stack.frontend.assets(page, fact)
    others = ", ".join(assets.other_hosts)
    elsewhere = f" ({len(assets.elsewhere)} on {others}, not fetched)" if assets.elsewhere else ""
    if assets.elsewhere and not assets.assets:
        evidence.attach_fact(assets)
        skips.not_applicable(f"not applicable: every asset {page.url} references is on another host{elsewhere}: "
                             "[frontend] asset_hosts names the hosts whose assets are fetched")
    problems = [f"{asset.url}: {problem}" for asset in assets.assets if (problem := asset_problem(asset))]
    judge(f"{page.name} assets", not problems,
          expected=f"200 and a fitting content type for each of the {len(assets.assets)} asset(s) the page "
                   f"references{elsewhere}",
          actual=f"{len(problems)} failing: " + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else ""),
          where=page.url, fact=assets)


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("SMK-9")
def test_config_valid(stack: Stack) -> None:
    """The frontend server's configuration passes its own test (``nginx -t``) in its running container."""
    section = stack.section("frontend")
    if section.service is None:
        skips.not_applicable("no [frontend] service: no container to run the configuration test in")
    fact = stack.frontend.config_test()
    judge("configuration test ran", fact.finished,
          expected=f"`{fact.command}` to end within {section.config_timeout_s:g} s", actual=fact.status_text,
          where=fact.where, fact=fact)
    judge("configuration test", fact.exit_code == 0, expected=f"`{fact.command}` to pass (exit code 0)",
          actual=f"{fact.status_text}: {fact.last_words}", where=fact.where, fact=fact)
