"""Compose file probe: the file read as Docker Compose reads it, interpolated, and checked against the
Compose Specification's JSON schema.

- YAML 1.2 (``restart: no`` is the string ``no``, a duplicate key is an error), as Compose parses it.
- Interpolation as Compose does it (``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
  ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alternative}``, ``${VAR+alternative}``, nested
  defaults, ``$$`` for a literal ``$``) from the given variables: a required variable that is missing
  or an invalid reference is a finding of the fact, never an exception.
- The schema is the Compose Specification vendored by the PyPI package ``check-jsonschema``
  (``check_jsonschema/builtin_schemas/vendor/compose-spec.json``), kept current by its maintainers.

Everything is a :class:`ComposeFact`; an unreadable file or a file that is not YAML is its ``error``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from gonogo.fact import Observed, Stopwatch
from gonogo.files import read_text, too_deep
from gonogo.secrets import masker

#: how deep a compose file may nest (a real one: services.web.deploy.resources.limits, 5 levels)
MAX_DEPTH = 32
_TOO_DEEP = f"nests mappings and lists more than {MAX_DEPTH} levels deep: not a compose file"
SCHEMA_PACKAGE = "check_jsonschema"
SCHEMA_RESOURCE = "builtin_schemas/vendor/compose-spec.json"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<word>.*))?", re.S)


class InterpolationError(ValueError):
    """A reference Compose refuses: a required variable without a value, or an invalid ``$`` form."""


# ---- interpolation, as Compose does it


@dataclass
class Interpolation:
    """Compose data after interpolation: what could not be expanded, and the variables set nowhere."""

    data: Any
    #: (path, "required variable RELEASE is missing a value: ...") where Compose stops (the value left as written)
    problems: list[tuple[tuple[Any, ...], str]] = field(default_factory=list)
    #: variables used without a default and set nowhere (Compose substitutes an empty string and warns)
    unset: set[str] = field(default_factory=set)


def interpolate(data: Any, variables: Mapping[str, str]) -> Interpolation:
    """Expand every string value of ``data`` (not the keys) as Compose does."""
    result = Interpolation(data=None)
    result.data = _walk(data, variables, (), result)
    return result


def _walk(data: Any, variables: Mapping[str, str], path: tuple[Any, ...], out: Interpolation) -> Any:
    if isinstance(data, dict):
        return {k: _walk(v, variables, (*path, k), out) for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(v, variables, (*path, i), out) for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        try:
            return substitute(data, variables, out.unset)
        except InterpolationError as exc:
            out.problems.append((path, str(exc)))
    return data


def substitute(text: str, variables: Mapping[str, str], unset: set[str] | None = None) -> str:
    """``text`` with every reference expanded; raises :class:`InterpolationError` where Compose stops."""
    unset = set() if unset is None else unset
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("$", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        following = text[start + 1:start + 2]
        name = _NAME.match(text, start + 1)
        if following == "$":
            out.append("$")
            i = start + 2
        elif name:
            out.append(_plain(name.group(), variables, unset))
            i = name.end()
        elif following == "{":
            end = _closing_brace(text, start)
            if end < 0:
                raise InterpolationError(f"invalid interpolation: '{text[start:start + 40]}' is not closed")
            out.append(_braced(text[start + 2:end], variables, unset))
            i = end + 1
        else:
            raise InterpolationError(f"invalid interpolation: a '$' not followed by a name at character {start + 1} "
                                     "(write $$ for a literal $)")
    return "".join(out)


def _plain(name: str, variables: Mapping[str, str], unset: set[str]) -> str:
    if name not in variables:
        unset.add(name)
        return ""
    return variables[name]


def _braced(body: str, variables: Mapping[str, str], unset: set[str]) -> str:
    match = _BRACED.fullmatch(body)
    if not match:
        raise InterpolationError(f"invalid interpolation: '${{{body[:40]}}}'")
    name, op, word = match.group("name"), match.group("op"), match.group("word")
    if op is None:
        return _plain(name, variables, unset)
    value = variables.get(name)
    holds = bool(value) if op.startswith(":") else value is not None
    kind = op[-1]
    if kind == "-":
        return value if holds and value is not None else substitute(word, variables, unset)
    if kind == "+":
        return substitute(word, variables, unset) if holds else ""
    if not holds:  # ? and :?
        message = substitute(word, variables, unset)
        raise InterpolationError(f"required variable {name} is missing a value" + (f": {message}" if message else ""))
    return value or ""


def _closing_brace(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` at ``start`` (nested ``${...}`` count), or -1."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


# ---- the schema


@cache
def compose_schema() -> tuple[dict[str, Any], str]:
    """The Compose Specification schema vendored by check-jsonschema, and where it came from."""
    text = (importlib.resources.files(SCHEMA_PACKAGE) / SCHEMA_RESOURCE).read_text(encoding="utf-8")
    version = importlib.metadata.version("check-jsonschema")
    return json.loads(text), f"compose-spec.json from check-jsonschema {version}"


def schema_errors(data: Any, tree: Any = None) -> list[str]:
    """Where ``data`` breaks the Compose schema, one line each: ``line 12: services.web.ports: must be ...``."""
    schema, _ = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted((_cause(e) for e in validator.iter_errors(data)), key=lambda e: [str(p) for p in e.absolute_path])
    paths = [tuple(e.absolute_path) for e in errors]
    lines = []
    for error, path in zip(errors, paths):
        # an object whose member is invalid also reports its members "unevaluated": the member's error says it
        if error.validator == "unevaluatedProperties" and any(len(p) > len(path) and p[:len(path)] == path
                                                               for p in paths):
            continue
        lines.append(_at(tree, path, _describe(error)))
    return lines


def _cause(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For ``oneOf``/``anyOf``: the error inside the alternative that fits the value's shape (it went deeper)."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        deeper = [c for c in error.context if len(c.relative_path) > 0]
        if not deeper:
            break
        error = max(deeper, key=lambda c: len(c.absolute_path))
    return error


def _at(tree: Any, path: tuple[Any, ...], text: str) -> str:
    """``line 12: services.web.ports: <text>``."""
    line = _line(tree, path)
    return (f"line {line}: " if line else "") + f"{_dotted(path)}: {text}"


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text or "top level"


def _describe(error: jsonschema.ValidationError) -> str:
    """The error without the offending value (it may hold a secret), but with its type."""
    got = f"got {_type_name(error.instance)}"
    if error.validator == "type":
        return f"must be {_types(error.validator_value)} ({got})"
    if error.validator in ("oneOf", "anyOf"):
        wanted = [c.validator_value for c in error.context or () if c.validator == "type"]
        if wanted:
            return f"must be {' or '.join(dict.fromkeys(_types(w) for w in wanted))} ({got})"
    if error.validator in ("unevaluatedProperties", "additionalProperties"):
        keys = re.findall(r"'([^']*)'", error.message.split("(", 1)[-1])
        return f"unknown key{'s' if len(keys) > 1 else ''} {', '.join(repr(k) for k in keys)}"
    if error.validator == "enum":
        return f"must be one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "pattern":
        return f"does not match the pattern {error.validator_value!r}"
    if error.validator == "required":
        return error.message
    text, shown = error.message, repr(error.instance)
    text = "the value" + text[len(shown):] if text.startswith(shown) else text
    return f"{text[:200]} ({got})"


def _types(value: Any) -> str:
    names = value if isinstance(value, list) else [value]
    return " or ".join(f"{'an' if str(n)[0] in 'aeiou' else 'a'} {n}" for n in names)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    for kind, name in ((str, "a string"), (dict, "an object"), (list, "an array")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _line(tree: Any, path: tuple[Any, ...]) -> int | None:
    """The 1-based line of ``path`` in the YAML tree (the closest one found, for keys merged with ``<<``)."""
    node, line = tree, _own_line(tree)
    for part in path:
        key_line = _key_line(node, part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        line = key_line or _own_line(node) or line
    return line


def _key_line(node: Any, part: Any) -> int | None:
    try:
        found = node.lc.key(part) if isinstance(part, str) else node.lc.item(part)
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    return int(found[0]) + 1


def _own_line(node: Any) -> int | None:
    line = getattr(getattr(node, "lc", None), "line", None)
    return int(line) + 1 if line is not None else None


# ---- the fact


class ServiceFact(Observed):
    """One service of the compose file, as interpolated: what a release gate asks of it."""

    name: str
    image: str | None
    builds: bool
    #: the ``restart`` policy as written ("no" when absent, Compose's default)
    restart: str
    #: "declared", "disabled" (``disable: true`` or ``test: ["NONE"]``), "without a test" or "absent"
    healthcheck: str
    line: int | None = None

    def one_line(self) -> str:
        return f"<service {self.name}: image {self.image}, restart {self.restart}, healthcheck {self.healthcheck}>"


class ComposeFact(Observed):
    """A compose file read, interpolated and validated like Compose does, or why it could not be read."""

    EVIDENCE_NAME = "compose file {path}"

    path: Path
    elapsed_ms: float
    error: str | None = None
    services: tuple[ServiceFact, ...] = ()
    #: references Compose refuses (a missing required variable, an invalid ``$``)
    interpolation_problems: tuple[str, ...] = ()
    #: variables used without a default and set nowhere (Compose would substitute "")
    unset: tuple[str, ...] = ()
    schema_errors: tuple[str, ...] = ()
    schema: str = ""

    @property
    def read(self) -> bool:
        """The file was read and is a YAML mapping (its services can be judged)."""
        return self.error is None

    def problems(self) -> list[str]:
        """Everything that keeps Compose from taking the file as it is."""
        unset = [f"{name} is set nowhere (Compose would use an empty string)" for name in self.unset]
        return [*([self.error] if self.error else []), *self.interpolation_problems, *unset, *self.schema_errors]

    def service(self, name: str) -> ServiceFact | None:
        return next((s for s in self.services if s.name == name), None)

    def evidence(self) -> str:
        lines = [f"{self.path} ({self.schema})" if self.schema else str(self.path)]
        lines += [f"problem: {p}" for p in self.problems()]
        lines += [f"service {s.name}: image {s.image or '(none)'}{' (built here)' if s.builds else ''}, "
                  f"restart {s.restart}, healthcheck {s.healthcheck}"
                  + (f" (line {s.line})" if s.line else "") for s in self.services]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if self.error:
            return f"<compose file {self.path}: {self.error}>"
        found = len(self.problems())
        return f"<compose file {self.path}: {len(self.services)} services, {found or 'no'} problem{'' if found == 1 else 's'}>"


def read_compose(path: Path, variables: Mapping[str, str]) -> ComposeFact:
    """Read, interpolate (with ``variables``) and validate the compose file at ``path``; never raises."""
    watch = Stopwatch()
    read = read_text(path)
    if read.error is not None:
        return ComposeFact(path, watch.ms(), error=f"{path} {read.error}")
    try:
        tree = YAML(typ="rt", pure=True).load(read.text or "")
    except (YAMLError, MarkedYAMLError) as exc:
        return ComposeFact(path, watch.ms(), error=f"{path} is not valid YAML: {_yaml_reason(exc)}")
    except RecursionError:  # the YAML reader recurses once per level: thousands of [[[
        return ComposeFact(path, watch.ms(), error=f"{path} {_TOO_DEEP}")
    deep = too_deep(tree, MAX_DEPTH)
    if deep is not None:
        return ComposeFact(path, watch.ms(), error=f"{path} {_TOO_DEEP} (under {deep or 'the top'})")
    if not isinstance(tree, dict):
        shape = "empty" if tree is None else f"{_type_name(_plain_data(tree))}, not a mapping"
        return ComposeFact(path, watch.ms(), error=f"{path} is {shape}: a compose file is a mapping with services")
    expanded = interpolate(_plain_data(tree), variables)
    _, source = compose_schema()
    return ComposeFact(
        path, watch.ms(),
        services=_services(expanded.data, tree),
        interpolation_problems=tuple(_at(tree, path, text) for path, text in expanded.problems),
        unset=tuple(sorted(expanded.unset)),
        schema_errors=tuple(schema_errors(expanded.data, tree)),
        schema=source,
    )


def _services(data: dict[str, Any], tree: Any) -> tuple[ServiceFact, ...]:
    services = data.get("services")
    if not isinstance(services, dict):
        return ()
    facts = []
    for name, spec in services.items():
        spec = spec if isinstance(spec, dict) else {}
        image = spec.get("image")
        facts.append(ServiceFact(
            name=str(name),
            image=image if isinstance(image, str) else None,
            builds="build" in spec,
            restart=str(spec.get("restart", "no")),
            healthcheck=_healthcheck(spec.get("healthcheck")),
            line=_line(tree, ("services", name)),
        ))
    return tuple(facts)


def _healthcheck(spec: Any) -> str:
    if not isinstance(spec, dict):
        return "absent"
    test = spec.get("test")
    if spec.get("disable") is True or test == ["NONE"] or test == "NONE":
        return "disabled"
    return "declared" if test else "without a test"


def _plain_data(node: Any) -> Any:
    """ruamel's round-trip objects as plain dicts, lists, strings, numbers and booleans."""
    if isinstance(node, dict):
        return {str(k): _plain_data(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain_data(v) for v in node]
    if isinstance(node, (bool, ScalarBoolean)) or node is None:
        return None if node is None else bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node) if isinstance(node, str) else node


def _yaml_reason(exc: BaseException) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    problem = re.sub(r" with value .*", "", str(problem))  # a duplicate key's values may be secrets
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)

