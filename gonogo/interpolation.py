"""``${VAR}`` and ``${VAR:-default}`` in profile values, read from the process and an env file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: what gonogo expands, for the messages about what it does not
SUPPORTED = "${VAR}, ${VAR:-default} and $$ for a literal $"
_REFERENCE = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>(?:[^}$]|\$(?!\{))*))?\}"
    r"|(?P<unsupported>\$\{)"
)
#: the longest unsupported reference a message quotes
_SHOWN = 60


class MissingVariable(LookupError):
    """``${VAR}`` references without default whose variable is set nowhere: the first one (``name``,
    ``key``) and all of them (``missing``: (name, key) pairs, in the order of the profile)."""

    def __init__(self, name: str, key: str, missing: list[tuple[str, str]] | None = None) -> None:
        super().__init__(name)
        self.name = name
        self.key = key
        self.missing = missing or [(name, key)]


class UnsupportedReference(ValueError):
    """A ``${`` that is not ``${VAR}`` or ``${VAR:-default}`` (``${A-b}``, ``${A:?x}``, nested, unclosed)."""

    def __init__(self, text: str, key: str) -> None:
        super().__init__(text)
        self.text = text
        self.key = key


@dataclass
class Interpolated:
    """The profile data after interpolation, and what was substituted where."""

    data: Any
    #: values that came from variables (the secrets, unless declared public)
    values: dict[str, str] = field(default_factory=dict)
    #: dotted key -> names of the variables it used
    used_by: dict[str, list[str]] = field(default_factory=dict)
    #: (variable, dotted key) of every reference whose variable is set nowhere
    missing: list[tuple[str, str]] = field(default_factory=list)


def interpolate(data: Any, variables: Mapping[str, str], key: str = "") -> Interpolated:
    """Expand every ``${VAR}`` in the strings of ``data`` (nested dicts and lists).

    ``$$`` stands for a literal ``$``. Missing variables without a default raise
    :class:`MissingVariable` once every string was seen (naming each one and its key), any other
    ``${`` :class:`UnsupportedReference` at once, naming the key.
    """
    result = Interpolated(data=None)
    result.data = _walk(data, variables, key, result)
    if result.missing:
        name, where = result.missing[0]
        raise MissingVariable(name, where, result.missing)
    return result


def _walk(data: Any, variables: Mapping[str, str], key: str, out: Interpolated) -> Any:
    if isinstance(data, str):
        return _expand(data, variables, key, out)
    if isinstance(data, dict):
        return {k: _walk(v, variables, f"{key}.{k}" if key else str(k), out) for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(v, variables, f"{key}[{i}]", out) for i, v in enumerate(data)]
    return data


def _expand(text: str, variables: Mapping[str, str], key: str, out: Interpolated) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("unsupported"):
            raise UnsupportedReference(_reference_at(text, match.start()), key)
        name = match.group("name")
        if name in variables:
            value = variables[name]
            out.values[name] = value
        elif match.group("default") is not None:
            return match.group("default")
        else:
            out.missing.append((name, key))
            return ""
        out.used_by.setdefault(key, []).append(name)
        return value

    return _REFERENCE.sub(substitute, text)


def _reference_at(text: str, start: int) -> str:
    """The reference opening at ``start``, up to its matching ``}`` (or the end), shortened for a message."""
    depth, end = 0, len(text)
    for i in range(start + 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            end = i + 1
            break
    reference = text[start:end]
    return reference if len(reference) <= _SHOWN else reference[:_SHOWN] + "..."
