"""The regular expressions a profile writes (``expect_body``, ``log_allow``, a page's ``headers``...): one validator
for every key that holds them.

A key's type says it: ``Annotated[str | None, regex()]`` for one, the same on a ``list[str]`` or a ``dict[str, str]``
(each value a regular expression). The first one that Python's ``re`` cannot compile refuses the profile, in the
key's own words (``said``: a template of ``{pattern}``, ``{error}``, ``{key}`` and ``{data[...]}``, the keys of the
table validated before it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

#: how a key says that one of its values is not a regular expression, unless it says otherwise
SAID = "{pattern!r} is not a regular expression: {error}"


class _Data(dict[str, Any]):
    """The table's keys validated so far (a key that failed or comes later reads as None)."""

    def __missing__(self, key: str) -> None:
        return None


def _patterns(value: Any) -> Iterable[str]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value.values() if isinstance(value, dict) else value


def compiled(pattern: str, said: str = SAID, key: str | None = None, data: dict[str, Any] | None = None) -> str:
    """``pattern`` when Python's ``re`` compiles it; else ValueError in ``said``'s words."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(said.format(pattern=pattern, error=exc, key=key, data=_Data(data or {}))) from None
    return pattern


def regex(said: str = SAID) -> AfterValidator:
    """The validator of a key holding regular expressions (one, a list, or a table's values; None passes)."""

    def check(value: Any, info: ValidationInfo) -> Any:
        for pattern in _patterns(value):
            compiled(pattern, said, info.field_name, info.data)
        return value

    return AfterValidator(check)


#: one regular expression (``re.search``), refused in the usual words
Regex = Annotated[str, regex()]
