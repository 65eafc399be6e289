"""Configuration probe: the stack's env files and compose file (``[env_file_rules]``:
:mod:`gonogo.sections.config`).

``stack.config`` is a :class:`ConfigProbe`: it reads the env files of ``[environment] env_file`` (one, or a
list read in order as Compose reads a service's ``env_file`` list: a later file's value wins), and, for
``must_differ_from``, another environment's; and the compose file of ``[docker] compose_file``
(:mod:`gonogo.probes.compose`). Facts only: a missing, unreadable or odd file is an ``error`` of the
fact. The values of an env file are secrets: facts never show them (only the variables in
``public_variables``, and values such as ``true`` that carry no information), and secrets are
compared by digest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import fnmatch
import hashlib
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from gonogo.environment import ProfileError, env_files_of, file_problem
from gonogo.probes.compose import ComposeFact, read_compose
from gonogo.fact import Observed, Stopwatch
from gonogo.memo import memoised
from gonogo.files import read_text
from gonogo.secrets import NO_INFORMATION, is_secret_key, masker

if TYPE_CHECKING:
    from gonogo.stack import Stack

#: what separates the words of a value (a URL's password is one of its words)
_WORDS = re.compile(r"[\s,;:/@?&=#]+")
#: ``must_differ_from`` written as a bare name is an environment (its profile's env file), else a path
ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9_-]+")


def placeholder_in(value: str, patterns: list[str]) -> str | None:
    """The placeholder pattern the value (or one of its words: a URL's password...) matches, or None."""
    candidates = [value.strip(), *(w for w in _WORDS.split(value) if w)]
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(word.lower(), pattern.lower()) for word in candidates):
            return pattern
    return None


def looks_secret(name: str, value: str) -> bool:
    """A variable compared by default: its name says secret (password, token, key...) or it is a URL with a password."""
    if is_secret_key(name):
        return True
    try:
        return "://" in value and urlsplit(value).password is not None
    except ValueError:
        return False


class EnvFileFact(Observed):
    """An env file's variables (never shown: secrets), or why it could not be read."""

    EVIDENCE_NAME = "{role} {path}"

    path: Path
    elapsed_ms: float
    error: str | None = None
    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: variables whose values may be shown (``[environment] public_variables``)
    public: frozenset[str] = field(default_factory=frozenset, repr=False)
    #: what the file is to the profile ("env file", "env file of staging")
    role: str = "env file"

    @property
    def read(self) -> bool:
        return self.error is None

    def shown(self, name: str) -> str:
        """The value as a message may quote it: public ones and empty-of-information ones, never a secret."""
        value = self.values.get(name)
        if value is None:
            return "not set"
        if name in self.public or value.strip().lower() in NO_INFORMATION | {"0", "1"}:
            return repr(value)
        return "a secret value"

    def digest(self, name: str) -> bytes | None:
        """The SHA-256 of a value (how secrets are compared), or None when unset."""
        value = self.values.get(name)
        return None if value is None else hashlib.sha256(value.encode("utf-8")).digest()

    @property
    def summary(self) -> str:
        """``<path>: 12 variables``, or the error (which names the path)."""
        return self.error or f"{self.path}: {len(self.values)} variables"

    def evidence(self) -> str:
        if self.error:
            return masker.mask(f"{self.path}: {self.error}")
        lines = [f"{self.path}: {len(self.values)} variables (values of secrets are not shown)"]
        for name in sorted(self.values):
            value = self.values[name]
            state = self.shown(name) if name in self.public else ("set" if value.strip() else "empty")
            lines.append(f"{name}: {state}")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if self.error:
            return f"<{self.role} {self.path}: {self.error}>"
        return f"<{self.role} {self.path}: {len(self.values)} variables>"


class EnvFilesFact(Observed):
    """Env files read in order, as Compose reads a service's ``env_file`` list: a later file's value wins.
    One file reads as it always did; with several, each value says which file it came from."""

    EVIDENCE_NAME = "{role} {where}"

    files: tuple[EnvFileFact, ...]

    @property
    def read(self) -> bool:
        return all(file.read for file in self.files)

    @property
    def error(self) -> str | None:
        return "; ".join(file.error for file in self.files if file.error) or None

    @property
    def role(self) -> str:
        """What the files are to the profile ("env file", "env files of staging")."""
        role = self.files[0].role
        return role.replace("env file", "env files", 1) if len(self.files) > 1 else role

    @property
    def public(self) -> frozenset[str]:
        return self.files[0].public

    @cached_property
    def values(self) -> dict[str, str]:
        """Every variable, a later file's value winning."""
        return {name: value for file in self.files for name, value in file.values.items()}

    def source(self, name: str) -> EnvFileFact | None:
        """The file whose value of ``name`` is the one read (the last that sets it), or None."""
        return next((file for file in reversed(self.files) if name in file.values), None)

    def occurrences(self) -> list[tuple[EnvFileFact, str, str]]:
        """Every variable of every file, one a later file overrides too: (file, name, value)."""
        return [(file, name, value) for file in self.files for name, value in file.values.items()]

    def label(self, file: EnvFileFact) -> str:
        """How a message names one of the files: its name, or its path where two files share a name."""
        names = [f.path.name for f in self.files]
        return file.path.name if names.count(file.path.name) == 1 else str(file.path)

    def named(self, name: str, file: EnvFileFact | None = None) -> str:
        """``name``, with the file its value came from where there are several (``DEBUG in .django``)."""
        file = file or self.source(name)
        return f"{name} in {self.label(file)}" if len(self.files) > 1 and file is not None else name

    def shown(self, name: str) -> str:
        file = self.source(name)
        return file.shown(name) if file is not None else "not set"

    def digest(self, name: str) -> bytes | None:
        file = self.source(name)
        return file.digest(name) if file is not None else None

    @property
    def where(self) -> str:
        return ", ".join(str(file.path) for file in self.files)

    def where_of(self, name: str) -> str:
        """The file to look at for ``name``: the one its value came from, else every file."""
        file = self.source(name)
        return str(file.path) if file is not None else self.where

    def evidence(self) -> str:
        if len(self.files) == 1:
            return self.files[0].evidence()
        lines = [f"{len(self.files)} env files, read in order (a later file's value wins; values of secrets are not "
                 "shown):", *(f"{i}. {file.summary}" for i, file in enumerate(self.files, 1))]
        for name in sorted(self.values):
            holders = [self.label(f) for f in self.files if name in f.values]
            value = self.values[name]
            state = self.shown(name) if name in self.public else ("set" if value.strip() else "empty")
            over = f"; overrides {', '.join(holders[:-1])}" if len(holders) > 1 else ""
            lines.append(f"{name}: {state} ({holders[-1]}{over})")
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        if len(self.files) == 1:
            return self.files[0].one_line()
        return f"<{self.role} {', '.join(file.summary for file in self.files)}>"


def read_env_file(path: Path, public: Iterable[str] = (), role: str = "env file") -> EnvFileFact:
    """Read an env file (``KEY=VALUE`` lines, as python-dotenv parses them, read literally); never raises."""
    watch = Stopwatch()
    read = read_text(path)
    if read.error is not None:
        return EnvFileFact(path, watch.ms(), error=f"{path} {read.error}", role=role)
    parsed = dotenv_values(stream=io.StringIO(read.text or ""), interpolate=False)
    values = {name: value or "" for name, value in parsed.items()}  # "KEY" alone: declared, empty
    return EnvFileFact(path, watch.ms(), values=values, public=frozenset(public), role=role)


class ConfigProbe:
    """The stack's configuration files (``stack.config``): its env files and its compose file, each read once."""

    def __init__(self, *, env_files: Sequence[Path], compose_file: Path | None, public: Iterable[str],
                 profile_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.env_file_paths = tuple(env_files)
        self.compose_file_path = compose_file
        self.public = frozenset(public)
        self.profile_dir = profile_dir
        self.environ = dict(os.environ if environ is None else environ)

    def __repr__(self) -> str:
        files = ", ".join(map(str, self.env_file_paths)) or None
        return masker.mask(f"<config probe {files} {self.compose_file_path}>")

    def env_file(self) -> EnvFilesFact:
        """The env files of ``[environment] env_file``, each read (once per session)."""
        return self._env_file

    @memoised
    def _env_file(self) -> EnvFilesFact:
        if not self.env_file_paths:
            raise ValueError("no env file: [environment] env_file is not set")
        return EnvFilesFact(tuple(read_env_file(path, self.public) for path in self.env_file_paths))

    def compose(self) -> ComposeFact:
        """The compose file of ``[docker] compose_file``, interpolated from the env file and the process
        environment (the process wins, as with Compose); read once per session."""
        return self._compose

    @memoised
    def _compose(self) -> ComposeFact:
        if self.compose_file_path is None:
            raise ValueError("no compose file: [docker] compose_file is not set")
        values = dict(self.env_file().values) if self.env_file_paths else {}
        return read_compose(self.compose_file_path, {**values, **self.environ})

    def other_env_file(self, target: str) -> EnvFilesFact:
        """The env files ``must_differ_from`` names: an environment's (``staging``: its one or several) or a path."""
        role = f"env file of {target}"
        if ENVIRONMENT_NAME.fullmatch(target):
            paths, error = self._env_files_of_environment(target)
            if not paths:
                return EnvFilesFact((EnvFileFact(self.profile_dir / f"{target}.toml", 0.0, error=error, role=role),))
        else:
            paths = [Path(target) if Path(target).is_absolute() else (self.profile_dir / target).resolve()]
        fact = EnvFilesFact(tuple(read_env_file(path, role=role) for path in paths))
        # the other files' secrets are masked like ours (not their plain settings: "staging" must stay readable)
        masker.add_all(v for _, k, v in fact.occurrences() if looks_secret(k, v))
        return fact

    def _env_files_of_environment(self, name: str) -> tuple[list[Path], str]:
        profile = self.profile_dir / f"{name}.toml"
        problem = file_problem(profile)
        if problem:
            return [], f"the profile of environment '{name}' ({profile}) {problem}"
        try:
            paths = env_files_of(profile, self.environ)
        except ProfileError as exc:
            return [], str(exc)
        if not paths:
            return [], f"{profile} names no env file ([environment] env_file)"
        return paths, ""



def from_stack(stack: Stack) -> ConfigProbe:
    """``stack.config``: the stack's configuration files: the env files of ``[environment] env_file`` and the
    compose file of ``[docker] compose_file`` (interpolated from those env files and this process's environment)."""
    profile = stack.env.profile
    compose_file = profile.docker.compose_file if profile.docker else None
    return ConfigProbe(env_files=stack.env.env_files,
                       compose_file=stack.env.resolve_path(compose_file) if compose_file else None,
                       public=profile.environment.public_variables, profile_dir=stack.env.path.parent,
                       environ=os.environ)
