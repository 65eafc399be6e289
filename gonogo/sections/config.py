"""``[env_file_rules]``: what the stack's env files must hold (the config subject).

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.config`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from gonogo.model import Section
from gonogo.sections.patterns import regex

#: values an operator left to fill in (globs, case-insensitive, on the whole value or one word of it)
DEFAULT_PLACEHOLDERS = ["CHANGE_ME*", "CHANGEME*", "REPLACE_ME*", "<*>", "TODO", "TODO[: ]*", "FIXME*"]
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class VariableRule(Section):
    """A rule on one variable of the env file (``[env_file_rules.rules] NAME = {...}``): each key given must hold."""

    #: the variable (the key of the rule in ``[env_file_rules.rules]``)
    name: str
    #: the exact value (``ENVIRONMENT = "production"`` is short for ``{ equals = "production" }``)
    equals: str | None = None
    #: the allowed values
    one_of: list[str] | None = None
    #: a regular expression the whole value must match
    pattern: Annotated[str | None, regex("[env_file_rules.rules] {data[name]}: pattern {pattern!r} is not a valid "
                                         "regular expression ({error})")] = None
    #: the value is a URL, or a comma-separated list of URLs, on a public host (``[environment] public_domain``,
    #: ``public_hosts``)
    public_url: bool = False
    severity: Literal["blocker", "critical", "warning"] = "critical"

    @model_validator(mode="after")
    def _says_something(self) -> VariableRule:
        if self.equals is None and self.one_of is None and self.pattern is None and not self.public_url:
            raise ValueError(f"[env_file_rules.rules] {self.name}: give at least one of equals, one_of, pattern, "
                             "public_url = true")
        return self


class EnvFileRules(Section):
    """What the stack's env file (``[environment] env_file``) must hold."""

    #: variables that must be set and not empty
    required: list[str] = Field(default_factory=list)
    #: values left to fill in: globs matched (case-insensitive) on the whole value and on each of its words
    placeholders: list[str] = Field(default_factory=lambda: list(DEFAULT_PLACEHOLDERS))
    #: debug flags that must be explicitly off (false, 0, no, off)
    no_debug: list[str] = Field(default_factory=list)
    #: another environment ("staging": its profile's env file) or an env file path (relative to the profile)
    #: whose secrets must not be the same
    must_differ_from: str | None = None
    #: the variables compared with must_differ_from (default: every secret-looking one)
    compare: list[str] | None = None
    #: a rule per variable: ``[env_file_rules.rules] ENVIRONMENT = "production"``, ``FRONTEND_URL = { public_url = true }``
    rules: list[VariableRule] = Field(default_factory=list)
    #: lists of hosts or origins (ALLOWED_HOSTS, CORS and CSRF origins) that must name a public host of the stack
    public_domain_in: list[str] = Field(default_factory=list)

    @field_validator("rules", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """``{VAR = {...}}`` (or ``{VAR = "value"}``) becomes one named rule per variable."""
        if isinstance(value, dict):
            return [{"name": name, **rule} if isinstance(rule, dict) else {"name": name, "equals": rule}
                    for name, rule in value.items()]
        return value

    @field_validator("required", "no_debug", "compare", "public_domain_in")
    @classmethod
    def _variable_names(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        for name in names or []:
            if not VARIABLE.fullmatch(name):
                raise ValueError(f"[env_file_rules] {info.field_name}: {name!r} is not a variable name")
        return names

    @model_validator(mode="after")
    def _compare_needs_a_target(self) -> EnvFileRules:
        if self.compare is not None and self.must_differ_from is None:
            raise ValueError("[env_file_rules] compare lists the variables to compare with must_differ_from, "
                             "which is not set")
        for rule in self.rules:
            if not VARIABLE.fullmatch(rule.name):
                raise ValueError(f"[env_file_rules.rules] {rule.name!r} is not a variable name")
        return self

    @property
    def uses_public_domain(self) -> bool:
        """Some rule needs the stack's public hosts (``[environment] public_domain`` or ``public_hosts``)."""
        return bool(self.public_domain_in) or any(rule.public_url for rule in self.rules)
