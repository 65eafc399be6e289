"""Masking of secrets: every interpolated value, every env-file value and every value under a
secret-looking key, unless its variable is listed public.

One masker per process. The controller and each xdist worker load the same profile, so they
register the same values. Everything gonogo writes or prints passes through :func:`mask`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus, urlsplit

from ahocorasick_rs import AhoCorasick

from gonogo.encodings import forms

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
_TOUCHING = re.compile(r"[\w.:/+-]")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
#: A query-string value that is a setting ('require', 'verify-full'), not a token.
_SETTING_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


class Masker:
    """Replaces every registered secret value in a text with ``***``.

    One Aho-Corasick automaton finds every form of every secret in one pass over the text, whatever their
    number; overlapping matches are masked as one.
    """

    def __init__(self) -> None:
        #: each form of a secret, and whether it is masked only where it stands alone
        self._values: dict[str, bool] = {}
        self._automaton: AhoCorasick | None = None
        self._alone: list[bool] = []

    def add(self, value: object) -> None:
        """Register one secret value: every form a writer gives it (:mod:`gonogo.encodings`), each line of a
        multi-line value, and the secret parts of a URL (the password, the query values). Ignored when too
        short or empty of information."""
        text = str(value) if value is not None else ""
        if len(text) < MIN_MASKED_LENGTH or text.lower() in NO_INFORMATION or not text.strip():
            return
        alone = len(text) < MIN_FREE_LENGTH or bool(_NUMBER.fullmatch(text))
        for form in forms(text):
            self._register(form, alone)
        lines = text.splitlines()
        for part in (lines if lines != [text] else []) + url_secrets(text):
            self.add(part)

    def _register(self, form: str, alone: bool) -> None:
        known = self._values.get(form)
        wanted = alone if known is None else known and alone  # masked anywhere wins
        if wanted is not known:
            self._values[form] = wanted
            self._automaton = None

    def add_all(self, values: Iterable[object]) -> None:
        for value in values:
            self.add(value)

    def clear(self) -> None:
        self._values.clear()
        self._automaton = None

    @property
    def active(self) -> bool:
        return bool(self._values)

    def mask(self, text: str) -> str:
        """Return ``text`` with every registered secret replaced by ``***`` (overlapping ones by one)."""
        if not self._values or not text:
            return text
        automaton, alone = self._automaton, self._alone
        if automaton is None:
            alone = list(self._values.values())
            automaton = AhoCorasick(list(self._values))
            self._automaton, self._alone = automaton, alone
        spans = sorted((start, end) for index, start, end in automaton.find_matches_as_indexes(text, overlapping=True)
                       if not alone[index] or _stands_alone(text, start, end))
        pieces, done = [], 0
        for start, end in spans:
            if start < done:  # overlaps the part just masked: extend it
                done = max(done, end)
                continue
            pieces += [text[done:start], MASK]
            done = end
        return "".join(pieces) + text[done:] if pieces else text

    def mask_data(self, data: object) -> object:
        """Mask every string inside JSON-like data (dicts, lists, strings)."""
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, dict):
            return {self.mask(str(k)): self.mask_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.mask_data(v) for v in data]
        return data


def _stands_alone(text: str, start: int, end: int) -> bool:
    """Nothing that could continue the value touches it: a letter, a digit or one of ``-._:/+``."""
    return not ((start > 0 and _TOUCHING.match(text, start - 1)) or (end < len(text) and _TOUCHING.match(text, end)))


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
