"""Choosing and loading the environment profile, with one clear line for every bad input.

The environment comes from ``--env``, then ``GONOGO_ENV``, then the ini key ``gonogo_env``;
the profile is ``<environments dir>/<name>.toml``. Values may use ``${VAR}`` and
``${VAR:-default}``, read from the process environment and from the profile's env file.
"""

from __future__ import annotations

import difflib
import io
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import BaseModel, ValidationError

from gonogo import skips
from gonogo.interpolation import SUPPORTED, Interpolated, MissingVariable, UnsupportedReference, interpolate
from gonogo import files
from gonogo.files import too_deep
from gonogo.profile import Profile
from gonogo.secrets import is_secret_key, masker

#: the largest profile gonogo reads: a profile is a page of TOML, anything bigger is the wrong file
MAX_PROFILE_BYTES = 1_000_000
#: how deep a profile's tables and lists may nest: a real profile needs a few levels (``[smoke.data]``'s values)
MAX_PROFILE_DEPTH = 20
#: the most variables an env file may hold: a real one has tens, a large one a few hundred; each is a secret
#: to mask, so more is a wrong file (its size is bounded too, by files.DEFAULT_LIMIT: 1 MB)
MAX_ENV_FILE_VALUES = 1000
#: the most env files ``[environment] env_file`` may list: a Compose service reads a few (each is bounded as above)
MAX_ENV_FILES = 20
#: files of the profile that configure gonogo itself, not the stack it judges: checked when the profile loads
#: (table, key, used when): a wrong one is bad input (exit 4), not a failure of the stack
GATE_FILES = (("environment", "ca_file", lambda _: True),
              ("docker", "ssh_key", lambda docker: docker.host.startswith("ssh://")),
              ("docker", "ssh_known_hosts", lambda docker: docker.host.startswith("ssh://")))


class ProfileError(Exception):
    """Bad input about the environment: the message is the one line the user sees (a line break a quoted key or
    value brings in is shown as ``\\n``)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(text: str) -> str:
    """``text`` with its line breaks written ``\\n`` and ``\\r``: one line whatever a user's value holds."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


@dataclass(frozen=True)
class LoadedEnvironment:
    """The chosen environment: its name, where the choice came from and its validated profile."""

    name: str
    source: str
    path: Path
    display_path: str
    profile: Profile
    #: the env files of ``[environment] env_file``, in the order they are read
    env_files: tuple[Path, ...] = ()
    #: their variables, a later file's value winning (secrets: never print them)
    env_file_values: dict[str, str] = field(default_factory=dict, repr=False)
    #: the suite's folder (pytest's rootdir): where the files that ship with the suite are
    rootdir: Path | None = None

    @property
    def env_file(self) -> Path | None:
        """The first env file, or None."""
        return self.env_files[0] if self.env_files else None

    def resolve_path(self, path: Path) -> Path:
        """A path written in the profile, made absolute relative to the profile's folder."""
        return path if path.is_absolute() else (self.path.parent / path).resolve()

    def suite_path(self, path: Path) -> Path:
        """A file that ships with the suite (``fixtures/smoke.toml``), relative to the rootdir."""
        return path if path.is_absolute() else ((self.rootdir or Path.cwd()) / path).resolve()

    @property
    def ca_path(self) -> Path | None:
        """The CA bundle to verify the stack's TLS with ([environment] ca_file), or None: the system's."""
        ca_file = self.profile.environment.ca_file
        return self.resolve_path(ca_file) if ca_file else None


def not_configured(env: LoadedEnvironment, key: str) -> str:
    """The skip reason for a check whose subject is absent from the profile."""
    return f"not configured in {env.display_path} ({key})"


def section(env: LoadedEnvironment, name: str) -> Any:
    """The profile section ``name``, or skip the calling check as not configured."""
    value = getattr(env.profile, name)
    if value is None or value == []:
        skips.not_configured(not_configured(env, f"[{name}]"))
    return value


def choose(option: str | None, environ: dict[str, str], ini: str | None) -> tuple[str, str] | None:
    """The environment name and where it came from, or None when nothing chose one."""
    if option:
        return option, "--env"
    if environ.get("GONOGO_ENV"):
        return environ["GONOGO_ENV"], "GONOGO_ENV"
    if ini:
        return ini, "ini gonogo_env"
    return None


def available(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml") if p.is_file()) if directory.is_dir() else []


def file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file ("does not exist", "is a directory, ...", "is a FIFO, ..."), or None."""
    return files.path_problem(path, limit=None)


def load(name: str, source: str, directory: Path, rootdir: Path, environ: dict[str, str]) -> LoadedEnvironment:
    """Load, interpolate and validate ``directory/name.toml``; raise ProfileError on bad input."""
    path = directory / f"{name}.toml"
    display = _display(path, rootdir)
    problem = file_problem(path)
    if problem == "does not exist":
        names = available(directory)
        listing = ", ".join(names) if names else f"none: {_display(directory, rootdir)} has no .toml file"
        raise ProfileError(f"unknown environment '{name}' (from {source}): no {display}; available: {listing}")
    if problem:
        raise ProfileError(
            f"{display}: {problem}: the profile of environment '{name}' (from {source}) must be a TOML file")
    raw = _parse_profile(path, display)

    env_files = _read_env_files(raw, path, display, environ)
    file_values = {name: value for _, values in env_files for name, value in values.items()}  # a later file wins
    variables = {**file_values, **environ}  # the process environment wins, as with docker compose
    expanded = _interpolate(raw, variables, display, [file for file, _ in env_files])
    _check_env_file_values(expanded, env_files, environ, display)

    # every value of every file (one a later file overrides too), as checks read each file
    _register_variables(set(_public_variables(expanded.data)), expanded.values, *(values for _, values in env_files))
    _register_secret_keys(expanded.data)

    try:
        profile = Profile.model_validate(expanded.data)
    except ValidationError as exc:
        raise ProfileError(f"{display}: {_explain(exc)}") from None
    _check_gate_files(profile, path, display)
    return LoadedEnvironment(
        name=name,
        source=source,
        path=path,
        display_path=display,
        profile=profile,
        env_files=tuple(Path(file) for file, _ in env_files),
        env_file_values=file_values,
        rootdir=rootdir,
    )


def _display(path: Path, rootdir: Path) -> str:
    try:
        return str(path.resolve().relative_to(rootdir.resolve()))
    except ValueError:
        return str(path)


def _parse_profile(path: Path, display: str) -> dict[str, Any]:
    """The TOML of the profile at ``path``: at most MAX_PROFILE_BYTES, nested at most MAX_PROFILE_DEPTH, not empty."""
    read = files.read_text(path, MAX_PROFILE_BYTES)  # bounded, never waits on a FIFO
    if read.text is None:
        if "larger" in str(read.error):
            raise ProfileError(f"{display}: is larger than 1 MB: a profile is a short TOML file; "
                               "check that it is the right one")
        raise ProfileError(f"{display}: cannot read the profile: it {read.error}")
    try:
        raw = tomllib.loads(read.text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        where = f"{display}:{line}" if line else display
        raise ProfileError(f"{where}: TOML syntax error: {getattr(exc, 'msg', exc)}") from None
    except RecursionError:  # tomllib recurses once per level: thousands of [[[ or {{{
        line = _line(read.text, lambda text: text.count("[") + text.count("{"))
        raise ProfileError(f"{display}:{line}: nested more than {MAX_PROFILE_DEPTH} levels deep (tables and lists "
                           "inside each other): a profile needs a few") from None
    except ValueError as exc:  # a number Python will not convert (more than 4300 digits)
        line = _line(read.text, lambda text: max(map(len, re.findall(r"[0-9_]+", text)), default=0))
        raise ProfileError(f"{display}:{line}: a value cannot be read: {str(exc).split(';')[0]}") from None
    if not raw:
        raise ProfileError(f"{display}: is empty (nothing but comments or whitespace): "
                           "write at least an [environment] table with the release being deployed")
    deep = too_deep(raw, MAX_PROFILE_DEPTH)
    if deep is not None:
        raise ProfileError(f"{display}: {_key(deep)}: nested more than {MAX_PROFILE_DEPTH} levels deep "
                           "(tables and lists inside each other): a profile needs a few")
    return raw


def _line(text: str, score: Callable[[str], int]) -> int:
    """The number of the line of ``text`` that scores highest: where a value tomllib could not read sits."""
    lines = text.splitlines() or [""]
    return max(range(len(lines)), key=lambda i: score(lines[i])) + 1


def _check_gate_files(profile: Profile, path: Path, display: str) -> None:
    """Every file of GATE_FILES the profile names is a readable regular file of at most 1 MB (never waited on)."""
    for table, key, used in GATE_FILES:
        section = getattr(profile, table)
        value = getattr(section, key) if section is not None and used(section) else None
        if value is None:
            continue
        file = value if value.is_absolute() else (path.parent / value).resolve()
        problem = files.path_problem(file)
        if problem:
            raise ProfileError(f"{display}: [{table}] {key}: {file} {problem}: point the key at a readable file "
                               "(a relative path starts at the profile's folder) or remove it")


def _interpolate(data: Any, variables: Mapping[str, str], display: str, env_files: list[str],
                 key: str = "") -> Interpolated:
    """:func:`interpolate`, its errors made one line naming the profile and the key."""
    try:
        return interpolate(data, variables, key)
    except MissingVariable as exc:
        where = f" or in the env file{'s' if len(env_files) > 1 else ''} {', '.join(env_files)}" if env_files else ""
        if len(exc.missing) > 1:  # every one of them, in one line: a new profile's whole list at once
            keys: dict[str, list[str]] = {}
            for name, at in exc.missing:
                keys.setdefault(name, []).append(_key(at))
            names = ", ".join(f"{name} ({found[0]}" + (f" and {len(found) - 1} more)" if len(found) > 1 else ")")
                              for name, found in keys.items())
            if len(keys) > 1:
                raise ProfileError(f"{display}: {len(keys)} variables are not set in the process environment"
                                   f"{where}: {names}; set them or write ${{VAR:-default}}") from None
        raise ProfileError(
            f"{display}: {_key(exc.key)} uses ${{{exc.name}}}, which is not set in the process environment"
            f"{where}; set it or write ${{{exc.name}:-default}}"
        ) from None
    except UnsupportedReference as exc:
        raise ProfileError(
            f"{display}: {_key(exc.key)}: cannot expand '{_shown(exc)}': gonogo supports only {SUPPORTED} "
            "(a default is plain text: no nested ${...})"
        ) from None


def _shown(exc: UnsupportedReference) -> str:
    """The unsupported reference as a message may quote it: under a secret key, only its variable name."""
    if not is_secret_key(exc.key.rsplit(".", 1)[-1]):
        return exc.text
    name = re.match(r"\$\{[A-Za-z0-9_]*", exc.text)
    return f"{name.group() if name else '${'}...}}"


def _check_env_file_values(expanded: Interpolated, env_files: list[tuple[str, dict[str, str]]],
                           environ: Mapping[str, str], display: str) -> None:
    """No value the profile took from an env file holds a ``${...}``: env files are read literally."""
    source = {name: (file, value) for file, values in env_files for name, value in values.items()}  # later wins
    for key, names in expanded.used_by.items():
        for name in names:
            if name not in environ and "${" in source.get(name, ("", ""))[1]:
                raise ProfileError(
                    f"{display}: {_key(key)} uses ${{{name}}}, whose value in the env file {source[name][0]} holds a "
                    "${...} reference: gonogo reads env files literally, so write the value out in full there "
                    f"(the profile itself supports {SUPPORTED})"
                )


def env_files_of(profile: Path, environ: Mapping[str, str]) -> list[Path]:
    """The env files another profile names (``[environment] env_file``), maybe none; raises ProfileError."""
    return _env_file_paths(_parse_profile(profile, str(profile)), profile, str(profile), environ)


def _env_file_paths(raw: dict[str, Any], path: Path, display: str, environ: Mapping[str, str]) -> list[Path]:
    """[environment] env_file, a path or a list of paths (each interpolated from the process only), relative to
    the profile."""
    section = raw.get("environment")
    value = section.get("env_file") if isinstance(section, dict) else None
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, str) for item in items):
        got = "an empty list" if not items else type(next(i for i in items if not isinstance(i, str))).__name__
        raise ProfileError(f"{display}: [environment] env_file must be a string (a path) or a list of paths, got {got}")
    if len(items) > MAX_ENV_FILES:
        raise ProfileError(f"{display}: [environment] env_file lists {len(items)} files, more than {MAX_ENV_FILES}: "
                           "a Compose service reads a few; list the stack's")
    expanded = _interpolate(value, environ, display, [], "environment.env_file").data
    return [Path(v) if Path(v).is_absolute() else (path.parent / v).resolve()
            for v in (expanded if isinstance(expanded, list) else [expanded])]


def _env_file_path_missing(raw: dict[str, Any], environ: Mapping[str, str]) -> bool:
    """[environment] env_file uses a variable the process does not set."""
    try:
        interpolate(raw["environment"]["env_file"], environ)
    except MissingVariable:
        return True
    except (UnsupportedReference, KeyError, TypeError):
        return False
    return False


def _read_env_files(raw: dict[str, Any], path: Path, display: str,
                    environ: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The env files named by [environment] env_file, in order, each with its variables (none while a path uses a
    variable that is not set: the profile's interpolation then names that variable with every other missing one)."""
    try:
        paths = _env_file_paths(raw, path, display, environ)
    except ProfileError:
        if _env_file_path_missing(raw, environ):
            return []
        raise
    listed = bool(paths) and isinstance(raw["environment"]["env_file"], list)
    return [(str(file), _read_env_file(file, f"env_file #{i + 1}" if listed else "env_file", display))
            for i, file in enumerate(paths)]


def _read_env_file(file: Path, key: str, display: str) -> dict[str, str]:
    """One env file's variables: a regular file of at most 1 MB and MAX_ENV_FILE_VALUES variables, or ProfileError."""
    read = files.read_text(file)  # at most files.DEFAULT_LIMIT (1 MB), never waits on a FIFO
    if read.text is None:
        raise ProfileError(f"{display}: [environment] {key}: {file} {read.error}: point the key at the stack's "
                           "env file (a relative path starts at the profile's folder) or remove it")
    parsed = dotenv_values(stream=io.StringIO(read.text), interpolate=False)
    if len(parsed) > MAX_ENV_FILE_VALUES:
        raise ProfileError(f"{display}: [environment] {key}: {file} holds {len(parsed)} variables, more than "
                           f"{MAX_ENV_FILE_VALUES}: an env file of a stack holds tens; point the key at the stack's")
    return {k: v for k, v in parsed.items() if v is not None}


def _public_variables(data: Any) -> list[str]:
    section = data.get("environment", {}) if isinstance(data, dict) else {}
    names = section.get("public_variables", []) if isinstance(section, dict) else []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _register_variables(public: set[str], *sources: dict[str, str]) -> None:
    """Mask the value of every variable the profile used and of every variable of the env file
    (checks read them all), except the public ones."""
    for variables in sources:
        masker.add_all(value for name, value in variables.items() if name not in public)


def _register_secret_keys(data: Any, key: str = "") -> None:
    """Mask every value under a key that names a password, secret, token, key or DSN."""
    if isinstance(data, dict):
        for k, v in data.items():
            if is_secret_key(str(k)):
                _register_all(v)
            else:
                _register_secret_keys(v, str(k))
    elif isinstance(data, list):
        for v in data:
            _register_secret_keys(v, key)


def _register_all(value: Any) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _register_all(v)
    elif isinstance(value, list):
        for v in value:
            _register_all(v)
    elif isinstance(value, str):
        masker.add(value)


def _key(dotted: str) -> str:
    """``database.dsn`` -> ``[database] dsn``; ``health[0].url`` -> ``[[health]] #1 url``."""
    parts = dotted.split(".")
    if len(parts) == 1:
        return f"key '{parts[0]}'"
    head, rest = parts[0], ".".join(parts[1:])
    if "[" in head:
        name, index = head.rstrip("]").split("[")
        return f"[[{name}]] #{int(index) + 1} {rest}"
    return f"[{head}] {rest}"


def _location(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """The table and key of a pydantic error location, written as in TOML."""
    parts = list(loc)
    item = ""
    if len(parts) > 1 and isinstance(parts[-1], int):  # an item of a list value: "phases #1"
        item = f" #{int(parts.pop()) + 1}"
    table: list[str] = []
    key = ""
    for i, part in enumerate(parts):
        if isinstance(part, int):
            table[-1] = f"{table[-1]} #{part + 1}"
        elif i == len(parts) - 1:
            key = str(part) + item
        else:
            table.append(str(part))
    return (f"[{'.'.join(table)}]" if table else "top level"), key


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the table at ``loc`` (for 'did you mean')."""
    model: Any = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if info is None:
            break
        model = inner_model(info.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def inner_model(annotation: Any) -> Any:
    """The pydantic model inside an annotation (``list[X] | None`` -> ``X``), or None."""
    for arg in getattr(annotation, "__args__", ()) or ():
        found = inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _explain(exc: ValidationError) -> str:
    """One line for the first validation error, with a suggestion for an unknown key."""
    errors = exc.errors()
    # an unknown key first: a typo'd key also makes its right spelling "missing", which would hide the typo
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    table, key = _location(loc)
    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        message = f"unknown key '{key}' in {table}{hint}"
    elif kind == "missing":
        message = f"{table} is missing the required key '{key}'"
    elif kind == "value_error":  # a validator's own sentence; one that names its table ("[...] ...") stands alone
        said = first["msg"].removeprefix("Value error, ")
        message = said if said.startswith("[") else f"{table} {key}: {said}"
    else:
        shown = "***" if is_secret_key(key) else masker.mask(repr(first.get("input")))
        message = f"{table} {key}: {first['msg'].lower()} (got {shown})"
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return message + more
