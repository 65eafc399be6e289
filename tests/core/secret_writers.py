"""The oracle of the secrets tests: real writers (and a model of the JSON writers of other languages) paired
with the reader that undoes each, written apart from gonogo/encodings.py.

A secret is masked in a writer's output when reading the masked output back gives text without the secret.
:func:`forms` gives the forms themselves, to search the files of a run for them.
"""

from __future__ import annotations

import ast
import html
import json
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus
from xml.sax.saxutils import escape as xml_escape

from _pytest.junitxml import bin_xml_escape

#: a marker every writer leaves as it is
ANCHOR = "QxAnchor9"
#: characters XML 1.0 cannot hold (ElementTree writes them, and cannot read them back)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _literal(text: str) -> Any:
    """A Python literal read back (a mask beside a backslash, ``\\***``, is no escape Python knows: no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        return ast.literal_eval(text)


def _json_model(text: str, escape: str = "", upper: bool = False, ascii: bool = True) -> str:
    """A JSON string as another language's writer makes it: the characters in ``escape`` as \\uXXXX (in upper-
    or lowercase hex), the rest as Python's json writes them."""
    def one(c: str) -> str:
        if c in escape:
            return f"\\u{ord(c):04X}" if upper else f"\\u{ord(c):04x}"
        return json.dumps(c, ensure_ascii=ascii)[1:-1]

    return '"' + "".join(one(c) for c in text) + '"'


def _upper_escapes(text: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m[1].upper(), text)


def _lower_percent(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), text)


def _et_attribute(text: str) -> str:
    return ET.tostring(ET.Element("p", v=text), encoding="unicode")


def _et_text(text: str) -> str:
    element = ET.Element("p")
    element.text = text
    return ET.tostring(element, encoding="unicode")


#: name -> (write, read): each writer as a program writes a string, and its reader
WRITERS: dict[str, tuple[Callable[[str], str], Callable[[str], str]]] = {
    "raw": (lambda t: t, lambda t: t),
    "repr": (repr, _literal),
    "repr of a repr": (lambda t: repr(repr(t)), lambda t: _literal(_literal(t))),
    "bytes repr": (lambda t: repr(t.encode("utf-8", "surrogatepass")),
                   lambda t: _literal(t).decode("utf-8", "surrogatepass")),
    "repr (beside both quotes)": (lambda t: repr("'\"" + t), lambda t: _literal(t)[2:]),
    "json (Python)": (json.dumps, json.loads),
    "json (Python, UTF-8)": (lambda t: json.dumps(t, ensure_ascii=False), json.loads),
    "json (PHP: \\/ and \\uxxxx)": (lambda t: json.dumps(t).replace("/", "\\/"), json.loads),
    "json (PHP JSON_HEX_*: \\u003C)": (lambda t: _json_model(t, "<>&'\"", upper=True).replace("/", "\\/"), json.loads),
    "json (Go: \\u0026)": (lambda t: _json_model(t, "<>&\u2028\u2029", ascii=False), json.loads),
    "json (Gson: \\u003d)": (lambda t: _json_model(t, "<>&='", ascii=False), json.loads),
    "json (uppercase \\uXXXX)": (lambda t: _upper_escapes(json.dumps(t)), json.loads),
    "json of a repr": (lambda t: json.dumps(repr(t)), lambda t: _literal(json.loads(t))),
    "repr of json": (lambda t: repr(json.dumps(t)), lambda t: json.loads(_literal(t))),
    "url (path)": (quote, unquote),
    "url (component)": (lambda t: quote(t, safe=""), unquote),
    "url (encodeURIComponent)": (lambda t: quote(t, safe="!'()*~"), unquote),
    "url (form)": (quote_plus, unquote_plus),
    "url (lowercase hex)": (lambda t: _lower_percent(quote(t, safe="")), unquote),
    "html": (html.escape, html.unescape),
    "html (text)": (lambda t: html.escape(t, quote=False), html.unescape),
    "xml (saxutils)": (xml_escape, html.unescape),
    "html (ASCII)": (lambda t: html.escape(t).encode("ascii", "xmlcharrefreplace").decode(), html.unescape),
    "xml attribute (ElementTree)": (_et_attribute, lambda t: ET.fromstring(t).get("v") or ""),
    "xml text (ElementTree)": (_et_text, lambda t: ET.fromstring(t).text or ""),
}
#: writers that cannot write (or read back) every string: ElementTree and characters XML cannot hold
XML_ONLY = {"xml attribute (ElementTree)", "xml text (ElementTree)"}


def writers_for(secret: str) -> dict[str, tuple[Callable[[str], str], Callable[[str], str]]]:
    """The writers that can carry ``secret`` (ElementTree only when XML can hold every character)."""
    return {name: pair for name, pair in WRITERS.items() if name not in XML_ONLY or not NOT_XML.search(secret)}


def forms(secret: str) -> set[str]:
    """The secret as each writer writes it (found between two markers no writer changes), and as pytest's
    JUnit XML writes it (a character XML cannot hold as ``#x07``)."""
    found = {secret, bin_xml_escape(secret), html.escape(bin_xml_escape(secret))}
    for write, _ in writers_for(secret).values():
        found.add(write(f"{ANCHOR}{secret}{ANCHOR}").split(ANCHOR)[1])
    return found
