"""The forms a secret takes on its way out, generated from the writers that put it there.

Each writer escapes a value one character at a time, so each is a map of one character: Python's str and
bytes literals (either quote); JSON as the common writers escape it (Python and JavaScript, PHP's ``\\/``,
Go's, Gson's and PHP's ``\\u0026`` for ``<>&'"=``, ``\\uXXXX`` for non-ASCII or control characters, in lower-
or uppercase hex); URL-encoding (RFC 3986 with or without ``/``, JavaScript's encodeURIComponent, forms'
``+``, in lower- or uppercase hex); HTML and XML escaping (named or numeric entities for the quotes,
attribute whitespace as ``&#10;``, non-ASCII as ``&#233;``, pytest's JUnit ``#x07`` for a character XML
cannot hold). A string literal inside another is a form too (the repr of a repr, JSON of a repr, a repr
of JSON). So is the value with its line breaks as text mode reads them.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from functools import cache
from urllib.parse import quote, quote_plus

#: a character one writer turns into its escaped form
Writer = Callable[[str], str]
#: characters no writer escapes: a value made of them alone has one form
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")
#: characters XML 1.0 cannot hold (pytest's JUnit XML writes ``#x07``)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _python(escape_quote: bool, as_bytes: bool) -> Writer:
    """A character inside a str (or, UTF-8 encoded, a bytes) literal; ``'`` escaped as in a single-quoted one."""
    def write(c: str) -> str:
        if c == "'" and not escape_quote:
            return c
        return repr(c.encode("utf-8", "surrogatepass") + b'"')[2:-2] if as_bytes else repr(c + '"')[1:-2]
    return write


#: what PHP's JSON_HEX_* flags escape, in uppercase hex (``\\u003C``) where other escapes are lowercase
_PHP_HEX = "<>&'\""
#: which characters a JSON writer writes as \uXXXX beyond those JSON requires
_JSON_ESCAPES: tuple[Callable[[str], bool], ...] = (
    lambda c: False,  # JavaScript, Python's ensure_ascii=False
    lambda c: ord(c) > 126,  # Python (DEL too)
    lambda c: ord(c) > 127,  # PHP
    lambda c: ord(c) > 126 or ord(c) < 32,  # every character but printable ASCII
    lambda c: c in "<>&\u2028\u2029",  # Go, Rails
    lambda c: c in "<>&='",  # Gson
    lambda c: c in _PHP_HEX,  # PHP's JSON_HEX_TAG, _AMP, _APOS and _QUOT
    lambda c: ord(c) > 126 or c in _PHP_HEX,
    lambda c: ord(c) > 127 or c in _PHP_HEX,
)


def _unicode_escape(c: str) -> str:
    """pytest's ids (``ascii_escaped``): unicode_escape, then ``\\x..`` for what is left unprintable."""
    text = c.encode("unicode_escape").decode("ascii")
    return f"\\x{ord(text):02x}" if len(text) == 1 and not 32 <= ord(text) < 127 else text


def _json(escaped: Callable[[str], bool], case: str, slash: bool) -> Writer:
    """A character in a JSON string; ``case`` of the hex digits: lower, upper, or PHP's (upper for its HEX flags)."""
    def write(c: str) -> str:
        if slash and c == "/":
            return "\\/"
        text = json.dumps(c, ensure_ascii=False)[1:-1]  # what JSON requires: \" \\ \n \u0007
        if escaped(c):
            units = c.encode("utf-16-be", "surrogatepass")
            text = "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
        upper = case == "upper" or (case == "php" and c in _PHP_HEX)
        return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m[1].upper(), text) if upper else text
    return write


def _url(safe: str, plus: bool, lower: bool) -> Writer:
    def write(c: str) -> str:
        text = (quote_plus if plus else quote)(c, safe=safe, errors="surrogatepass")
        return text.lower() if lower and text.startswith("%") else text
    return write


def _xml(quot: str, apos: str, whitespace: bool, ascii: bool, junit: bool) -> Writer:
    """A character in HTML or XML: ``&<>`` always, the quotes as ``quot``/``apos`` (or as they are)."""
    entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': quot, "'": apos}
    if whitespace:  # inside an attribute (ElementTree)
        entities |= {"\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}

    def write(c: str) -> str:
        if junit and _NOT_XML.fullmatch(c):
            return _junit(c)
        return entities.get(c) or (f"&#{ord(c)};" if ascii and ord(c) > 127 else c)
    return write


def _junit(c: str) -> str:
    """pytest's JUnit XML: a character XML cannot hold is written ``#x07``."""
    if not _NOT_XML.fullmatch(c):
        return c
    return f"#x{ord(c):02X}" if ord(c) <= 0xFF else f"#x{ord(c):04X}"


#: the writers that make a string literal, nested once in one another (the first of :data:`WRITERS`)
STRING_WRITERS: tuple[Writer, ...] = (_python(True, False), _python(False, False), _json(_JSON_ESCAPES[0], "lower", False),
                                      _json(_JSON_ESCAPES[1], "lower", False))
WRITERS: tuple[Writer, ...] = (
    *STRING_WRITERS,
    _python(True, True), _python(False, True), _unicode_escape,
    *(_json(*options) for options in itertools.product(_JSON_ESCAPES, ("lower", "upper", "php"), (False, True))),
    *(_url(*options) for options in itertools.product(("", "/", "!'()*~"), (False,), (False, True))),
    _url("", True, False), _url("", True, True),
    *(_xml(*options) for options in itertools.product(("", "&quot;", "&#34;"), ("", "&#x27;", "&#39;", "&apos;"),
                                                      (False, True), (False, True), (False, True))),
    _junit,
)


def forms(text: str) -> set[str]:
    """``text`` and every form a writer gives it (each writer once, and string literals nested twice), also
    with its line breaks as a file read in text mode gives them (``\\r\\n`` as ``\\n``)."""
    if _PLAIN.fullmatch(text):
        return {text}
    found = set()
    for base in {text, text.replace("\r\n", "\n").replace("\r", "\n")}:
        found |= {base} | _written(base, len(WRITERS))
        found |= {form for inner in _written(base, len(STRING_WRITERS)) for form in _written(inner, len(STRING_WRITERS))}
    return found


def _written(text: str, writers: int) -> set[str]:
    """``text`` as each of the first ``writers`` writers writes it (only its special characters change)."""
    special = sorted(set(_PLAIN.sub("", text)))
    rows = set(zip(*(_column(c)[:writers] for c in special)))  # writers that agree on these characters: once
    return {text.translate(dict(zip(map(ord, special), row))) for row in rows}


@cache
def _column(c: str) -> tuple[str, ...]:
    """``c`` as each writer writes it."""
    return tuple(writer(c) for writer in WRITERS)
