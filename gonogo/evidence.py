"""Evidence for the report: attachments that explain a check, masked before they are written."""

from __future__ import annotations

import json
from typing import Any

import allure

from gonogo.secrets import masker

_TYPES = {
    "text": allure.attachment_type.TEXT,
    "json": allure.attachment_type.JSON,
    "html": allure.attachment_type.HTML,
    "png": allure.attachment_type.PNG,
}


def attach(name: str, body: Any, kind: str = "text") -> None:
    """Attach evidence (a response, router JSON, a log excerpt, a screenshot) to the current check.

    Text and JSON are masked; ``kind`` is one of text, json, html, png. Outside a test with
    allure enabled this does nothing.
    """
    if kind == "json" and not isinstance(body, (str, bytes)):
        body = json.dumps(masker.mask_data(body), indent=2, default=str)
    if isinstance(body, str):
        body = masker.mask(body)
    allure.attach(body, name=masker.mask(name), attachment_type=_TYPES[kind])


_attached: list[Any] = []  # the facts themselves: an id() could be reused once a fact is freed


def attach_fact(fact: Any) -> None:
    """Attach a probe's fact (its ``evidence()``, named ``evidence_name``) once per check."""
    if any(seen is fact for seen in _attached):
        return
    _attached.append(fact)
    attach(fact.evidence_name, fact.evidence())


def new_check() -> None:
    """Forget what was attached: called by the plugin as each check starts."""
    _attached.clear()
