"""The release's configuration: its env file and its compose file, before the deploy.

Runbook steps: RCY-0.2 (the env file exists, every critical variable is set), BTQ-1.1 (no
``CHANGE_ME_*`` value left), RCY-0.3 (allowed hosts and CORS/CSRF origins name the public domain),
NPR-5 (its env part: values valid, debug off, secrets not shared with another environment),
RCY-0.1 (the compose file is valid, names the services, health checks and pinned image tags).

The env file is ``[environment] env_file`` (or its env files, read in order: a later file's value wins, as
Compose reads them), judged by ``[env_file_rules]``; the compose file is ``[docker] compose_file``, judged
against ``[docker] services`` and ``one_shot``. Values of the env file are secrets: a failure names the
file and the variables, never a value (except those listed in ``public_variables``); secrets are compared
by digest. URLs and hosts are judged against the stack's public hosts (``[environment] public_domain`` and
``public_hosts``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from gonogo import hosts, judge, skips
from gonogo.environment import not_configured
from gonogo.probes.compose import ComposeFact, ServiceFact
from gonogo.probes.config import EnvFilesFact, looks_secret, placeholder_in
from gonogo.sections.config import EnvFileRules, VariableRule
from gonogo.sections.docker import DockerSection
from gonogo.stack import Stack

#: values that say a debug flag is off
OFF = ("false", "0", "no", "off")
_LIST = re.compile(r"[\s,]+")


# ---- what each check reads (or why it does not run)


def _env_file(stack: Stack) -> EnvFilesFact:
    if not stack.config.env_file_paths:
        skips.not_configured(not_configured(stack.env, "[environment] env_file"))
    return stack.config.env_file()


def _rules_and_file(stack: Stack) -> tuple[EnvFileRules, EnvFilesFact]:
    """The rules and the env file they judge; dependent when the file could not be read."""
    rules: EnvFileRules = stack.section("env_file_rules")
    fact = _env_file(stack)
    if not fact.read:
        skips.dependent("config.env_file_readable", fact.error or "unreadable")
    return rules, fact


def _compose(stack: Stack) -> tuple[DockerSection, ComposeFact]:
    docker: DockerSection = stack.needs("docker", "the compose file is [docker] compose_file")
    if docker.compose_file is None:
        skips.not_configured(not_configured(stack.env, "[docker] compose_file"))
    return docker, stack.config.compose()


def _read_compose(stack: Stack) -> tuple[DockerSection, ComposeFact]:
    """The compose file's services to judge; dependent when the file could not be read as YAML."""
    docker, fact = _compose(stack)
    if not fact.read:
        skips.dependent("config.compose_valid", fact.error or "unreadable")
    return docker, fact


def _listed(rules: EnvFileRules, key: str) -> list[str]:
    """The variables ``[env_file_rules] key`` lists; with none, the calling check applies to nothing."""
    names: list[str] = getattr(rules, key)
    if not names:
        skips.not_applicable(f"not applicable: [env_file_rules] {key} lists no variable")
    return names


def _names(names: list[str]) -> str:
    return ", ".join(names)


# ---- the env file


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.2")
def test_env_file_readable(stack: Stack) -> None:
    """The environment's env file (each of its env files) exists and is a readable regular file."""
    fact = _env_file(stack)
    judge(fact.role, fact.read, expected=f"a readable {fact.role}", actual=fact.error, where=fact.where, fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.2", "NPR-5")
def test_required_variables(stack: Stack) -> None:
    """Every required variable of the env file is set and not empty."""
    rules, fact = _rules_and_file(stack)
    required = _listed(rules, "required")
    missing = [name for name in required if name not in fact.values]
    empty = [fact.named(name) for name in required if name in fact.values and not fact.values[name].strip()]
    actual = "; ".join(part for part in (f"not set: {_names(missing)}" if missing else "",
                                         f"empty: {_names(empty)}" if empty else "") if part)
    judge("required variables", not (missing or empty), expected=f"set and not empty: {_names(required)}",
          actual=actual, where=fact.where, fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("BTQ-1.1", "NPR-5")
def test_no_placeholders(stack: Stack) -> None:
    """No variable of any env file still holds a placeholder (CHANGE_ME*, <...>, TODO...), one a later file
    overrides included: a file left half-filled is named."""
    rules, fact = _rules_and_file(stack)
    left = [f"{fact.named(name, file)} (matches {pattern!r})" for file, name, value in fact.occurrences()
            if (pattern := placeholder_in(value, rules.placeholders))]
    judge("placeholders", not left, expected=f"no value matching {_names(rules.placeholders)}",
          actual=f"placeholders left in {_names(left)}", where=fact.where, fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("NPR-5")
def test_debug_off(stack: Stack) -> None:
    """The debug flags of the env file are explicitly off."""
    rules, fact = _rules_and_file(stack)
    flags = _listed(rules, "no_debug")
    on = [f"{fact.named(name)} is {fact.shown(name)}" for name in flags
          if fact.values.get(name, "").strip().lower() not in OFF]
    judge("debug flags", not on, expected=f"{_names(flags)} set to one of {', '.join(OFF)}",
          actual="; ".join(on), where=fact.where, fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("NPR-5")
def test_secrets_differ(stack: Stack) -> None:
    """The env file's secrets differ from the other environment's (must_differ_from), compared by digest."""
    rules, fact = _rules_and_file(stack)
    if rules.must_differ_from is None:
        skips.not_applicable("not applicable: [env_file_rules] must_differ_from is not set")
    other = stack.config.other_env_file(rules.must_differ_from)
    judge(f"env file of {rules.must_differ_from}", other.read, expected="a readable env file to compare with",
          actual=other.error, where=other.where, fact=other)
    names = rules.compare if rules.compare is not None else sorted(
        name for name, value in fact.values.items() if name not in fact.public and looks_secret(name, value))
    same = [fact.named(name) for name in names
            if fact.values.get(name, "").strip() and fact.digest(name) == other.digest(name)]
    judge(f"secrets shared with {rules.must_differ_from}", not same,
          expected=f"different values (by SHA-256 digest) for {_names(names) or 'no variable'}",
          actual=f"the same value in both files: {_names(same)}", where=f"{fact.where} and {other.where}", fact=fact)


def _hosts(value: str) -> list[str]:
    """The hosts named by a list of hosts or origins (``a.org,https://b.org:8443`` or a JSON array)."""
    items = [item.strip("[]\"'") for item in _LIST.split(value)]
    hosts = []
    for item in filter(None, items):
        try:
            host = urlsplit(item if "://" in item else f"//{item}").hostname
        except ValueError:
            host = None
        hosts.append((host or item).lower())
    return hosts


def _url_problem(value: str, public: list[str], show: bool) -> str | None:
    """Why a URL (or comma-separated URLs) does not point at a public host, or None."""
    urls = [item for item in _LIST.split(value) if item]
    if not urls or any("://" not in url for url in urls):
        return "is not a URL (scheme://host/...)"
    others = sorted({host for host in _hosts(value) if not hosts.matches_any(host, public)})
    if not others:
        return None
    return f"points at {', '.join(others)}" if show else "points at another host"


def _on(public: list[str]) -> str:
    """The public hosts as a message names them: ``shop.example.org``, ``one of api.example.org, .example.net``."""
    return public[0] if len(public) == 1 else f"one of {', '.join(public)}"


def rule_problems(rule: VariableRule, fact: EnvFilesFact, public: list[str]) -> list[str]:
    """What in the variable's value breaks its rule (the value itself named only when public)."""
    value = fact.values.get(rule.name)
    if value is None:
        return ["not set"]
    problems = []
    if rule.equals is not None and value != rule.equals:
        problems.append(f"is not {rule.equals!r}")
    if rule.one_of is not None and value not in rule.one_of:
        problems.append(f"is not one of {', '.join(map(repr, rule.one_of))}")
    if rule.pattern is not None and not re.fullmatch(rule.pattern, value):
        problems.append(f"does not match {rule.pattern!r}")
    if rule.public_url and public:
        problem = _url_problem(value, public, show=rule.name in fact.public)
        if problem:
            problems.append(problem)
    return problems


def _expectation(rule: VariableRule, public: list[str]) -> str:
    parts = ([f"{rule.equals!r}"] if rule.equals is not None else []) + (
        [f"one of {', '.join(map(repr, rule.one_of))}"] if rule.one_of is not None else []) + (
        [f"matching {rule.pattern!r}"] if rule.pattern is not None else []) + (
        [f"a URL on {_on(public)}"] if rule.public_url else [])
    return " and ".join(parts)


@pytest.mark.predeploy
@pytest.mark.runbook("NPR-5")
@pytest.mark.each("env_file_rules.rules", "rule")
def test_variable_rule(rule: VariableRule, stack: Stack) -> None:
    """The variable's value follows its rule (equals, one of, pattern, a URL on a public host of the stack)."""
    _, fact = _rules_and_file(stack)
    public = stack.env.profile.environment.hosts
    problems = rule_problems(rule, fact, public)
    actual = "not set" if rule.name not in fact.values else f"{fact.shown(rule.name)} ({'; '.join(problems)})"
    judge(fact.named(rule.name), not problems, expected=_expectation(rule, public), actual=actual,
          where=fact.where_of(rule.name), fact=fact)


def _names_host(host: str, listed: str) -> bool:
    """A host of the env file's list names a public host: the same host (or under a listed ``.parent``), or
    Django's ``.domain`` that covers it."""
    if host.startswith("."):
        covered = listed.lstrip(".")
        return covered == host[1:] or covered.endswith(host)
    return hosts.matches(host, listed)


def names_public_host(value: str, public: list[str]) -> bool:
    """A list of hosts or origins names one of the stack's public hosts."""
    return any(_names_host(host, listed) for host in _hosts(value) for listed in public)


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-0.3")
def test_public_domain_allowed(stack: Stack) -> None:
    """The allowed hosts and CORS/CSRF origins of the env file name a public host of the stack."""
    rules, fact = _rules_and_file(stack)
    lists = _listed(rules, "public_domain_in")
    public = stack.env.profile.environment.hosts
    lacking = [f"{fact.named(name)} ({fact.shown(name)})" for name in lists
               if not names_public_host(fact.values.get(name, ""), public)]
    judge("public domain", not lacking, expected=f"{_on(public)} named in {_names(lists)}",
          actual=f"not named in {_names(lacking)}", where=fact.where, fact=fact)


# ---- the compose file


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.1")
def test_compose_valid(stack: Stack) -> None:
    """The compose file interpolates as Compose does and is valid against the Compose Specification."""
    _, fact = _compose(stack)
    problems = fact.problems()
    judge("compose file", not problems, expected="a file Compose accepts (interpolated, valid against its schema)",
          actual="; ".join(problems), where=str(fact.path), fact=fact)


@pytest.mark.predeploy
@pytest.mark.severity("blocker")
@pytest.mark.runbook("RCY-0.1")
def test_compose_services(stack: Stack) -> None:
    """The compose file names every expected service ([docker] services and one_shot)."""
    docker, fact = _read_compose(stack)
    expected = list(dict.fromkeys([*docker.services, *docker.one_shot]))
    if not expected:
        skips.not_applicable("not applicable: [docker] services and one_shot name no service")
    missing = [name for name in expected if fact.service(name) is None]
    judge("compose services", not missing, expected=_names(expected),
          actual=f"missing: {_names(missing)} (the file has {_names([s.name for s in fact.services]) or 'none'})",
          where=str(fact.path), fact=fact)


def long_running(service: ServiceFact, docker: DockerSection) -> bool:
    """Not a one-shot: absent from ``[docker] one_shot``, or restarted by Docker (restart other than "no")."""
    return service.name not in docker.one_shot or service.restart != "no"


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-0.1")
def test_compose_healthchecks(stack: Stack) -> None:
    """Every long-running service of the compose file declares a healthcheck."""
    docker, fact = _read_compose(stack)
    services = [s for s in fact.services if long_running(s, docker)]
    lacking = [f"{s.name} (healthcheck {s.healthcheck})" for s in services if s.healthcheck != "declared"]
    judge("compose healthchecks", not lacking,
          expected=f"a healthcheck with a test for {_names([s.name for s in services]) or 'every long-running service'}",
          actual=_names(lacking), where=str(fact.path), fact=fact)


def unpinned(service: ServiceFact) -> str | None:
    """Why the service's image is not pinned (no image, no tag, ``latest``), or None: a tag or a digest."""
    image = service.image
    if not image:
        return "no image" + (" (built from build:, tagged latest)" if service.builds else "")
    if "@sha256:" in image:
        return None
    name = image.rsplit("/", 1)[-1]
    tag = name.rsplit(":", 1)[1] if ":" in name else None
    if tag is None:
        return f"{image} has no tag (latest)"
    if tag in ("", "latest"):
        return f"{image} is {'an empty tag' if not tag else 'latest'}"
    return None


@pytest.mark.predeploy
@pytest.mark.severity("critical")
@pytest.mark.runbook("RCY-0.1")
def test_compose_images_pinned(stack: Stack) -> None:
    """Every service of the compose file runs an image with a pinned tag or digest (not latest, not tagless)."""
    _, fact = _read_compose(stack)
    loose = [f"{s.name}: {reason}" for s in fact.services if (reason := unpinned(s))]
    judge("compose image tags", not loose, expected="a pinned tag or digest for every service",
          actual="; ".join(loose), where=str(fact.path), fact=fact)
