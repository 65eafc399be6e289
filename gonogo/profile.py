"""The typed model of an environment profile (``environments/<name>.toml``).

Each subject's table is declared in its section module (``gonogo/sections/<subject>.py``, e.g.
:class:`~gonogo.sections.docker.DockerSection`), apart from its probe, and :data:`Profile` is assembled
here from the registry of subjects (:data:`gonogo.subjects.SUBJECTS`), between ``[environment]`` and
``[gate]``; the rules that span tables are :class:`ProfileRules`'. Loading a profile imports no probe and
no client library (``tests/core/test_structure.py``). Every table forbids unknown
keys, so a typo is an error that names the key. Secret fields (DSNs, passwords, cookies) are
``SecretStr``: their repr is masked by construction, and code that needs the text asks for it with
``.get_secret_value()`` (the masker still hides it wherever it is printed). Sections other than
``[environment]`` and ``[gate]`` are optional: a check whose subject is absent is skipped as
"not configured", and the gate treats a required one that did not run as a NO-GO.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, create_model, field_validator, model_validator

from gonogo import hosts, subjects
from gonogo.model import Section
from gonogo.sections.tls import TlsEndpoint

if TYPE_CHECKING:
    from gonogo.subjects import Tables
else:
    Tables = object


class EnvironmentSection(Section):
    """Who the stack is: its name, domain, release and where its env file lives."""

    name: str | None = None
    description: str = ""
    public_domain: str | None = None
    #: the stack's other public hosts (an API and a dashboard...), or ``.example.org``: that domain and its subdomains
    public_hosts: list[str] = Field(default_factory=list)
    #: the release being deployed (the target version), e.g. a 7-character git SHA
    release: str | None = None
    #: the release to roll back to
    previous_release: str | None = None
    #: the stack's env file, or its env files read in order (a later file's value wins, as with Compose);
    #: their variables also serve ${VAR} in this profile (relative to the profile)
    env_file: list[Path] | Path | None = None
    #: host -> address, like curl --resolve: probes connect there, keeping Host and SNI
    resolve: dict[str, str] = Field(default_factory=dict)
    #: a CA bundle to verify the stack's TLS certificates with (relative to the profile)
    ca_file: Path | None = None
    #: variables that are not secrets (ports, release ids): shown instead of masked
    public_variables: list[str] = Field(default_factory=list)

    @field_validator("public_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [hosts.pattern(item) for item in value]

    @field_validator("env_file")
    @classmethod
    def _some_file(cls, value: list[Path] | Path | None) -> list[Path] | Path | None:
        if value == []:
            raise ValueError("an empty list names no env file: name one or more, or remove the key")
        return value

    @property
    def hosts(self) -> list[str]:
        """The stack's public hosts: ``public_domain`` and ``public_hosts``, lowercased, each once."""
        domain = [self.public_domain.lower()] if self.public_domain else []
        return list(dict.fromkeys([*domain, *self.public_hosts]))


def matches_every_check(pattern: str) -> bool:
    """A check pattern of wildcards and separators alone (``*``, ``*.*``, ``[?]``): it names no check."""
    return not pattern.translate(str.maketrans("", "", "*?.[] "))


class Waiver(Section):
    """Accept a known failure of named checks until a date (never an error or a missing check)."""

    check: str
    reason: str
    until: dt.date

    @field_validator("check")
    @classmethod
    def _names_checks(cls, value: str) -> str:
        if matches_every_check(value):
            raise ValueError(f"'{value}' matches every check: a waiver must name the checks it accepts "
                             "(a subject, a check id, or a pattern with a name in it)")
        return value


#: the fewest words a [[gate.not_applicable]] reason says (why the check cannot apply to this stack)
DECISION_REASON_WORDS = 3


class NotApplicableDecision(Section):
    """``[[gate.not_applicable]]``: a reasoned, permanent decision that named checks do not apply to this stack.

    The checks are not run and their results not weighed; gate.json, the report's first page and the terminal
    list each with its reason. Refused: a pattern of wildcards alone, a reason of fewer than three words (at load);
    a pattern that matches the checks of several subjects or no check of the suite, or a check ``[gate] required``
    names by its id (when the inventory is read: exit 4); a blocker check (by the gate: NO-GO).
    """

    check: str
    reason: str

    @field_validator("check")
    @classmethod
    def _names_checks(cls, value: str) -> str:
        if matches_every_check(value):
            raise ValueError(f"'{value}' matches every check: a decision that a check does not apply names that check "
                             "(a check id, e.g. 'traefik.service_health_checked')")
        return value

    @field_validator("reason")
    @classmethod
    def _says_why(cls, value: str) -> str:
        words = [w for w in value.split() if sum(ch.isalpha() for ch in w) >= 2]
        if len(words) < DECISION_REASON_WORDS:
            raise ValueError(f"{value.strip()!r} does not say why the check cannot apply to this stack: write the "
                             f"reason in at least {DECISION_REASON_WORDS} words (e.g. 'the services have no health "
                             "check by design')")
        return value.strip()


class GateSection(Section):
    #: subjects or check ids that must run and pass; anything else is a NO-GO
    required: list[str] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)
    #: ``[[gate.not_applicable]]``: checks decided, with a reason, not to apply to this stack
    not_applicable: list[NotApplicableDecision] = Field(default_factory=list)


class ProfileRules(Section, Tables):
    """The rules across a profile's tables; :data:`Profile` is this model with the tables themselves as fields."""

    if TYPE_CHECKING:  # fields of Profile, declared for type checkers
        environment: EnvironmentSection
        gate: GateSection

    @model_validator(mode="after")
    def _tls_default_endpoint(self) -> ProfileRules:
        """``[tls]`` without endpoints checks the public domain on 443."""
        if self.tls is not None and not self.tls.endpoints and self.environment.public_domain:
            endpoints = [TlsEndpoint(host=self.environment.public_domain)]
            return self.model_copy(update={"tls": self.tls.model_copy(update={"endpoints": endpoints})})
        return self

    @model_validator(mode="after")
    def _traefik_routes_have_a_host(self) -> ProfileRules:
        """Requests through Traefik go to a router's ``rule_host``, else to the public domain."""
        if self.traefik is not None and not self.environment.public_domain:
            hostless = [r.name for r in self.traefik.routers if not r.rule_host]
            if hostless:
                raise ValueError(f"[traefik] routers {', '.join(hostless)} have no rule_host and there is no "
                                 "[environment] public_domain: requests through Traefik need a host")
        return self

    @model_validator(mode="after")
    def _watch_names_health_entries(self) -> ProfileRules:
        """``[watch] health`` names ``[[health]]`` entries: a typo would silently watch nothing."""
        if self.watch is not None:
            unknown = [n for n in self.watch.health if n not in {e.name for e in self.health}]
            if unknown:
                raise ValueError(f"[watch] health names no [[health]] entry: {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _env_file_rules_have_what_they_need(self) -> ProfileRules:
        rules = self.env_file_rules
        if rules is not None and self.environment.env_file is None:
            raise ValueError("[env_file_rules] needs the env file it is about: set [environment] env_file")
        if rules is not None and rules.uses_public_domain and not self.environment.hosts:
            raise ValueError("[env_file_rules] public_domain_in and public_url rules compare with the stack's public "
                             "hosts: set [environment] public_domain or public_hosts")
        if any(w.variables for w in self.webhook) and self.environment.env_file is None:
            raise ValueError("[[webhook]] variables are read from the stack's env file: set [environment] env_file")
        return self


if TYPE_CHECKING:
    Profile = ProfileRules
else:
    #: one environment profile: [environment], the table of each subject of gonogo.subjects.SUBJECTS (in the
    #: table's order), and [gate]
    Profile = create_model("Profile", __base__=ProfileRules, __module__=__name__, __doc__="One environment profile.",
                           environment=(EnvironmentSection, Field(default_factory=EnvironmentSection)),
                           **subjects.profile_fields(),
                           gate=(GateSection, Field(default_factory=GateSection)))
