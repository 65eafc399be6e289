"""Masking of secrets: every interpolated value, every env-file value and every value under a
secret-looking key, unless its variable is listed public.

One masker per process. The controller and each xdist worker load the same profile, so they
register the same values. Everything gonogo writes or prints passes through :func:`mask`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit

MASK = "***"
#: Keys whose values are secrets whatever they hold (password, secret, token, key, DSN, cookie).
SECRET_KEY_PATTERN = re.compile(r"(pass(word|wd)?|secret|token|(^|_)key(s)?($|_)|api_?key|dsn|credential|cookie)", re.I)
#: gonogo's own keys that name something else (a key of a JSON body), not a secret.
NOT_SECRET_KEYS = frozenset({"components_key"})
#: Shorter values are not masked inside free text (masking "1" everywhere would blind the report);
#: they are still masked wherever gonogo prints the key that holds them.
MIN_MASKED_LENGTH = 4
#: Shorter values, and numbers, are masked only where they stand alone (a port 2026 must not
#: turn a date into ``***-11-23``).
MIN_FREE_LENGTH = 6
#: Values that carry no information: never registered (case-insensitive).
NO_INFORMATION = frozenset({"", "true", "false", "yes", "no", "on", "off", "none", "null"})
#: What a standalone value may not touch: letters, digits and ``-._:/+``.
_TOUCHING = r"[\w.:/+-]"
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
#: A query-string value that is a setting ('require', 'verify-full'), not a token.
_SETTING_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


class Masker:
    """Replaces every registered secret value in a text with ``***``."""

    def __init__(self) -> None:
        #: each form of a secret, and whether it is masked only where it stands alone
        self._values: dict[str, bool] = {}
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: object) -> None:
        """Register one secret value: its raw, repr-escaped and JSON-escaped forms, and the
        secret parts of a URL (the password, the query values). Ignored when too short or empty
        of information."""
        text = str(value) if value is not None else ""
        if len(text) < MIN_MASKED_LENGTH or text.lower() in NO_INFORMATION:
            return
        alone = len(text) < MIN_FREE_LENGTH or bool(_NUMBER.fullmatch(text))
        for form in escaped_forms(text):
            self._register(form, alone)
        for part in url_secrets(text):
            self.add(part)

    def _register(self, form: str, alone: bool) -> None:
        known = self._values.get(form)
        wanted = alone if known is None else known and alone  # masked anywhere wins
        if wanted is not known:
            self._values[form] = wanted
            self._pattern = None

    def add_all(self, values: Iterable[object]) -> None:
        for value in values:
            self.add(value)

    def clear(self) -> None:
        self._values.clear()
        self._pattern = None

    @property
    def active(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        """Return ``text`` with every registered secret replaced by ``***``."""
        if not self._values or not text:
            return text
        if self._pattern is None:
            self._pattern = self._compile()
        return self._pattern.sub(MASK, text)

    def _compile(self) -> re.Pattern[str]:
        """One regex: values masked anywhere first, then standalone ones; longest first in each."""
        def alternation(alone: bool) -> str:
            values = sorted((v for v, a in self._values.items() if a is alone), key=len, reverse=True)
            return "|".join(re.escape(v) for v in values)

        anywhere, standalone = alternation(False), alternation(True)
        branches = [anywhere] if anywhere else []
        if standalone:
            branches.append(f"(?<!{_TOUCHING})(?:{standalone})(?!{_TOUCHING})")
        return re.compile("|".join(branches))

    def mask_data(self, data: object) -> object:
        """Mask every string inside JSON-like data (dicts, lists, strings)."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, dict):
            return {self.mask(str(k)): self.mask_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(v) for v in data]
        return data


def escaped_forms(text: str) -> set[str]:
    """A value as written raw, inside a Python repr and inside a JSON string."""
    return {text, repr(text)[1:-1], json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}


def url_secrets(text: str) -> list[str]:
    """The secret parts of a URL: its password and its query values (tokens), raw and decoded.

    A query value that is a lowercase word (``sslmode=require``) is a setting, not a token,
    unless its key looks secret.
    """
    if "://" not in text:
        return []
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return []
    found = [password, unquote(password)] if password else []
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if value and (is_secret_key(unquote_plus(key)) or not _SETTING_WORD.fullmatch(value)):
            found += [value, unquote_plus(value)]
    return found


#: The process-wide masker.
masker = Masker()


def mask(text: str) -> str:
    """Mask secrets in ``text`` with the process-wide masker."""
    return masker.mask(text)


def is_secret_key(key: str) -> bool:
    """True when a profile key's name says its value is a secret."""
    return key.lower() not in NOT_SECRET_KEYS and bool(SECRET_KEY_PATTERN.search(key))
