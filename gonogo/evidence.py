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
