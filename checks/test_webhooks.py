"""Webhooks: their secrets are set, and the endpoints refuse events that carry no valid signature.

Runbook step: NPR-4 (Stripe webhook secrets set; the webhook endpoint verifies signatures). Each
``[[webhook]]`` entry is checked three ways: the secrets it names are set in the env file, not
empty and not placeholders (before and after the deploy); and, after the deploy, the endpoint of
the deployed release refuses an event without a signature and one signed with a wrong secret.
Before the deploy the endpoint that answers is the release being replaced: judging it then would
block the very release that fixes it, so the endpoint checks run after the deploy only.

The events sent carry no valid signature (gonogo never uses the endpoint's secret), so an
endpoint that verifies changes nothing; a refusal proves only that such events are refused (that a
genuine event is accepted is for the payment flows to prove).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gonogo import dependent, judge
from gonogo.memo import Memo
from gonogo.probes.config import EnvFilesFact, placeholder_in
from gonogo.sections.config import DEFAULT_PLACEHOLDERS
from gonogo.probes.webhooks import Attempt, WebhookFact
from gonogo.sections.webhooks import WebhookEndpoint
from gonogo.profile import Profile
from gonogo.stack import Stack

pytestmark = pytest.mark.runbook("NPR-4")

Send = Callable[[WebhookEndpoint, Attempt], WebhookFact]


def _secret_problems(endpoint: WebhookEndpoint, fact: EnvFilesFact, placeholders: list[str]) -> list[str]:
    problems = []
    for name in endpoint.variables:
        value = fact.values.get(name)
        pattern = placeholder_in(value, placeholders) if value else None
        if value is None:
            problems.append(f"{name} not set")
        elif not value.strip():
            problems.append(f"{fact.named(name)} empty")
        elif pattern:
            problems.append(f"{fact.named(name)} is a placeholder (matches {pattern!r})")
    return problems


def _names_variables(endpoint: WebhookEndpoint) -> bool:
    return bool(endpoint.variables)


@pytest.mark.predeploy
@pytest.mark.postdeploy
@pytest.mark.each("webhook", "endpoint", where=_names_variables, optional=True, what="variables")
def test_secrets_set(endpoint: WebhookEndpoint, stack: Stack, profile: Profile) -> None:
    """The webhook's secrets are set in the env file, not empty and not placeholders."""
    fact = stack.config.env_file()
    rules = profile.env_file_rules
    problems = [fact.error or "unreadable"] if not fact.read else _secret_problems(
        endpoint, fact, rules.placeholders if rules else DEFAULT_PLACEHOLDERS)
    judge(f"{endpoint.name} secrets", not problems, expected=f"set, not empty, not placeholders: {', '.join(endpoint.variables)}",
          actual="; ".join(problems), where=f"{fact.where}: the signing secret the provider shows for {endpoint.url}",
          fact=fact)


@pytest.fixture(scope="session")
def sent(stack: Stack) -> Send:
    """What each endpoint answered to each event gonogo sends it (once per session)."""
    seen: Memo[tuple[str, str], WebhookFact] = Memo()

    def send(endpoint: WebhookEndpoint, attempt: Attempt) -> WebhookFact:
        return seen.get((endpoint.name, attempt), lambda: stack.webhooks.send(endpoint, attempt))

    return send


def _judge_refused(endpoint: WebhookEndpoint, fact: WebhookFact) -> None:
    status = fact.status
    if status is not None and 200 <= status < 300:
        why = "accepted: the endpoint does not verify signatures"
    elif status == 404:
        why = "no such route: is the webhook deployed at this URL?"
    elif status is not None and 300 <= status < 400:
        why = f"a redirect to {fact.response.header('Location')}: providers do not follow it"
    elif status is not None and status >= 500:
        why = "a server error, not a verification"
    else:
        why = ""
    refused = ", ".join(map(str, endpoint.rejects_with))
    judge(f"{endpoint.name} {fact.attempt} event", status in endpoint.rejects_with,
          expected=f"a refusal ({refused}) of an event {fact.sent_as}",
          actual=fact.status_text + (f" ({why})" if why else ""),
          where=f"{endpoint.method} {endpoint.url}: the endpoint's signature verification", fact=fact)


@pytest.mark.postdeploy
@pytest.mark.each("webhook", "endpoint")
def test_rejects_unsigned(endpoint: WebhookEndpoint, sent: Send) -> None:
    """The webhook endpoint refuses an event without a signature (4xx, never 2xx)."""
    _judge_refused(endpoint, sent(endpoint, "unsigned"))


@pytest.mark.postdeploy
@pytest.mark.each("webhook", "endpoint")
def test_rejects_wrong_signature(endpoint: WebhookEndpoint, sent: Send) -> None:
    """The webhook endpoint refuses an event signed with a wrong secret (4xx, never 2xx)."""
    unsigned = sent(endpoint, "unsigned")
    if not unsigned.answered:
        dependent(f"webhooks.rejects_unsigned[{endpoint.name}]", f"the endpoint did not answer ({unsigned.status_text})")
    _judge_refused(endpoint, sent(endpoint, "wrong-signature"))
