"""Causes: what several lines of a run have in common, so the summary says each cause once.

A stack with Redis stopped fails several checks with the same refused connection to the same address;
a failed check is followed by the checks skipped as dependent on it; a healthy run has many checks
"not applicable" for the same reason. The terminal summary and the report's first page group them:

- the failures that share one cause (a named target ``host:port`` that refused the connection, did not
  answer or is unreachable, including :mod:`gonogo.probes.silence`'s ``not asked: <target> did not
  answer``; the same missing table) under that cause, and otherwise each failure alone (only identical
  causes are grouped: a reason that names no such cause is its own);
- under each failure, the checks skipped as dependent on it (``and N checks that depend on it``): only the
  legitimate ones, whose dependent skip the gate accepted (one listed under ``not_run`` stays on its own);
- notes by their reason, with their count.

Pure, on gate.json's entries (dicts), so the summary, the report's first page and a merged verdict
read the same groups. Nothing is dropped: gate.json, the verdict result and each check's Allure result
keep every check with its own reason, and ``-v`` prints each in full.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gonogo.checks import CheckInfo, selector_matches

#: the heaviest first
SEVERITIES = ("blocker", "critical", "warning")

_NOT_ASKED = re.compile(r"not asked: (\S+) did not answer")
_REFUSED = re.compile(r"connection refused|econnrefused|\[errno 111\]|error 111\b|refused the connection|actively refused",
                      re.IGNORECASE)
_UNREACHABLE = re.compile(r"no route to host|network is unreachable|host is unreachable|name or service not known|"
                          r"temporary failure in name resolution|nodename nor servname|could not translate host name|"
                          r"getaddrinfo failed|name does not resolve", re.IGNORECASE)
_TIMED_OUT = re.compile(r"timed out|\btimeout(?:error)?\b|connecttimeout|readtimeout", re.IGNORECASE)
_TABLES = (re.compile(r'relation "([^"]+)" does not exist'), re.compile(r"no such table: ?([\w.\"]+)"),
           re.compile(r"\bno table ([\w.\"]+) in\b"), re.compile(r'\btable "?([\w.]+)"? does not exist'))

_URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://(?:[^\s/@]*@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._*-]+)(?::(\d{1,5}))?",
                  re.IGNORECASE)
_UNIX = re.compile(r"\bunix://(/[^\s;,)'\"]+)")
_LIBPQ = re.compile(r'server at "([^"]+)"(?: \([^)]*\))?, port (\d{1,5})')
_HOST_PORT = re.compile(r"(?<![\w./:@-])(\[[0-9a-fA-F:.]+\]|localhost|(?:\d{1,3}\.){3}\d{1,3}|"
                        r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+):(\d{1,5})\b")
_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "redis": 6379, "rediss": 6379, "postgres": 5432,
          "postgresql": 5432, "amqp": 5672, "amqps": 5671, "mysql": 3306}
_DEPENDENT = re.compile(r"^dependent on (.+?): ")


def targets(text: str) -> list[str]:
    """Every ``host:port`` (or ``unix://path``) ``text`` names, each once, in order."""
    found: list[str] = []

    def add(host: str, port: str | int | None) -> None:
        target = host.lower() + (f":{port}" if port else "")
        if target not in found:
            found.append(target)

    for match in _UNIX.finditer(text):
        if f"unix://{match[1]}" not in found:
            found.append(f"unix://{match[1]}")
    for match in _URL.finditer(text):
        scheme = match[1].lower()
        if scheme == "unix":
            continue
        add(match[2], match[3] or _PORTS.get(scheme))
    for match in _LIBPQ.finditer(text):
        add(match[1], match[2])
    for match in _HOST_PORT.finditer(text):
        add(match[1], match[2])
    return found


def cause(reason: str) -> tuple[str, str] | None:
    """The cause a failure's reason names, as (key, words), or None when it names none.

    A target that refused the connection, did not answer or is unreachable, when the reason names
    exactly one target (``host:port``); a table that does not exist. Anything else: None (the reason is
    its own cause, grouped only with identical reasons)."""
    silent = _NOT_ASKED.search(reason)
    if silent:
        return f"silent {silent[1]}", f"{silent[1]} did not answer"
    for pattern in _TABLES:
        table = pattern.search(reason)
        if table:
            name = table[1].strip('"')
            return f"table {name}", f"no table {name}"
    for kind, words, pattern in (("refused", "refused the connection", _REFUSED),
                                 ("unreachable", "is unreachable", _UNREACHABLE),
                                 ("silent", "did not answer", _TIMED_OUT)):
        if pattern.search(reason):
            named = targets(reason)
            if len(named) == 1:
                return f"{kind} {named[0]}", f"{named[0]} {words}"
            return None
    return None


def _check(entry: dict[str, Any]) -> CheckInfo:
    """A gate.json entry as the check it was (for :func:`gonogo.checks.selector_matches`)."""
    subject = str(entry.get("subject") or "")
    qualified = str(entry.get("id") or "")
    check_id = qualified[len(subject) + 1:] if subject and qualified.startswith(subject + ".") else qualified
    return CheckInfo(nodeid=str(entry.get("nodeid") or ""), check_id=check_id, subject=subject,
                     title=str(entry.get("title") or ""), phases=list(entry.get("phases") or []),
                     severity=str(entry.get("severity") or "critical"), runbook=list(entry.get("runbook") or []),
                     params=dict(entry.get("params") or {}))


def depends_on(entry: dict[str, Any]) -> str:
    """The check a dependent skip names (its ``depends_on``, else the start of its reason)."""
    named = entry.get("depends_on")
    if named:
        return str(named)
    match = _DEPENDENT.match(str(entry.get("reason") or ""))
    return match[1] if match else ""


@dataclass
class Group:
    """One cause: the entries it explains, and the checks skipped as dependent on them."""

    #: the cause in words (a shared cause), or the one entry's reason
    words: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    dependents: list[dict[str, Any]] = field(default_factory=list)
    #: a cause the entries share (a target, a table), not merely the same reason
    named: bool = False

    @property
    def severity(self) -> str:
        return min((str(e.get("severity") or "critical") for e in self.entries), key=_weight)

    @property
    def ids(self) -> list[str]:
        return [str(e.get("id") or e.get("required")) for e in self.entries]


def _weight(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 1


def group(entries: Iterable[dict[str, Any]], *, by_status: bool = False) -> list[Group]:
    """``entries`` grouped by cause, in the order each cause first appears."""
    groups: dict[tuple[str, str], Group] = {}
    for entry in entries:
        reason = str(entry.get("reason") or "")
        named = cause(reason)
        status = str(entry.get("status") or "") if by_status else ""
        key = (status, named[0]) if named else (status, "reason " + reason)
        if key not in groups:
            groups[key] = Group(named[1] if named else reason, named=named is not None)
        groups[key].entries.append(entry)
    return list(groups.values())


def attach_dependents(groups: list[Group], skipped: Iterable[dict[str, Any]],
                      not_run: Iterable[dict[str, Any]] = ()) -> set[str]:
    """Put under each group the dependent skips the gate accepted that name one of its checks;
    returns their node ids. A dependent skip the gate did not accept (listed under ``not_run``) stays out."""
    refused = {e.get("nodeid") for e in not_run}
    heads = [(g, _check(e)) for g in groups for e in g.entries]
    placed: set[str] = set()
    for entry in skipped:
        if entry.get("status") != "dependent" or entry.get("nodeid") in refused:
            continue
        on = depends_on(entry)
        head = next((g for g, check in heads if on and selector_matches(on, check)), None)
        if head is not None and entry.get("nodeid") not in placed:
            head.dependents.append(entry)
            placed.add(str(entry.get("nodeid")))
    return placed


def failure_groups(document: dict[str, Any], entries: list[dict[str, Any]] | None = None) -> tuple[list[Group], set[str]]:
    """The failed and errored checks (or ``entries``) grouped by cause, each with its dependents; and the
    node ids of those dependents."""
    chosen = entries if entries is not None else list(document.get("failed") or []) + list(document.get("errored") or [])
    groups = group(chosen)
    placed = attach_dependents(groups, document.get("skipped") or [], document.get("not_run") or [])
    return groups, placed


def depending(count: int, several: bool = False) -> str:
    """``and 2 checks that depend on it``."""
    if not count:
        return ""
    checks = "1 check that depends" if count == 1 else f"{count} checks that depend"
    return f", and {checks} on {'them' if several else 'it'}"


def listing(ids: list[str], most: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 7 more``."""
    if len(ids) <= most:
        return ", ".join(ids)
    return ", ".join(ids[:most]) + f" and {len(ids) - most} more"


def said(group: Group) -> str:
    """One cause in a few words, for the report's first page: ``app.ready and 2 checks that depend on it``,
    ``127.0.0.1:6379 refused the connection: workers.redis_answers, workers.queues_consumed``."""
    after = depending(len(group.dependents), several=len(group.entries) > 1).removeprefix(",")
    if len(group.entries) == 1:
        return group.ids[0] + after
    return f"{group.words}: {', '.join(group.ids)}{after}"
