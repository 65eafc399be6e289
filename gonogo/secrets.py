"""Masking of secrets: every interpolated value and every value under a secret-looking key.

One masker per process. The controller and each xdist worker load the same profile, so they
register the same values. Everything gonogo writes or prints passes through :func:`mask`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
#: Keys whose values are secrets whatever they hold (password, secret, token, key, DSN, cookie).
SECRET_KEY_PATTERN = re.compile(r"(pass(word|wd)?|secret|token|(^|_)key(s)?($|_)|api_?key|dsn|credential|cookie)", re.I)
#: gonogo's own keys that name something else (a key of a JSON body), not a secret.
NOT_SECRET_KEYS = frozenset({"components_key"})
#: Shorter values are not masked inside free text (masking "1" everywhere would blind the report);
#: they are still masked wherever gonogo prints the key that holds them.
MIN_MASKED_LENGTH = 4


class Masker:
    """Replaces every registered secret value in a text with ``***``."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: object) -> None:
        """Register one secret value (ignored when too short to mask safely)."""
        text = str(value) if value is not None else ""
        if len(text) >= MIN_MASKED_LENGTH and text not in self._values:
            self._values.add(text)
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
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(MASK, text)

    def mask_data(self, data: object) -> object:
        """Mask every string inside JSON-like data (dicts, lists, strings)."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, dict):
            return {self.mask(str(k)): self.mask_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(v) for v in data]
        return data


#: The process-wide masker.
masker = Masker()


def mask(text: str) -> str:
    """Mask secrets in ``text`` with the process-wide masker."""
    return masker.mask(text)


def is_secret_key(key: str) -> bool:
    """True when a profile key's name says its value is a secret."""
    return key.lower() not in NOT_SECRET_KEYS and bool(SECRET_KEY_PATTERN.search(key))
