"""Before and after: a snapshot of the stack taken at predeploy (the baseline), compared at postdeploy.

A :class:`Snapshot` holds what no single run can judge alone (RBK-2, RBK-5.3, and "nothing lost"):

- the latency of each ``[[health]]`` endpoint (the median of ``[diff] latency_samples`` requests),
- the row count of each table of ``[diff] tables`` (read-only; exact below ``exact_count_below`` rows,
  else the planner's estimate, and which one was used),
- the image tag of each service (``[docker]``), the applied migrations (``[database] migrations``),
- the requests and 5xx answers per Traefik service from Traefik's Prometheus metrics (``[traefik]``).

A part whose subject the profile does not describe is absent (``None``); a part that could not be
read holds its error. :func:`take` reads the parts side by side, each bounded by its probe's timeouts.
The comparison functions are pure: they take the two readings and say what changed and whether it is
within the profile's limits. The whole comparison renders as the "release diff" (:class:`ReleaseDiff`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gonogo import lazy
from gonogo.fact import Observed
from gonogo.probes.database import quoted_name
from gonogo.probes.migrations import read_database
from gonogo.secrets import masker
from gonogo.sections.diff import DiffSection

if TYPE_CHECKING:
    from prometheus_client import parser as prometheus_parser

    from gonogo.stack import Stack
else:  # the Prometheus client's parser is imported when metrics are first read
    prometheus_parser = lazy.module("prometheus_client.parser")

SCHEMA = 1
#: the metric Traefik counts its services' requests in (labels: service, code, method, protocol)
SERVICE_REQUESTS = "traefik_service_requests_total"
#: Traefik's metrics grow with every label combination seen (codes, methods, routers, histogram buckets)
METRICS_LIMIT = 64 * 2**20


# ---------------------------------------------------------------------------------------------- readings


@dataclass(frozen=True)
class Latency:
    """One endpoint's requests: each one's time and status; the median of the answers with the expected status."""

    url: str
    expected_status: int
    samples_ms: tuple[float, ...] = ()
    statuses: tuple[int | None, ...] = ()
    error: str | None = None

    @property
    def good_ms(self) -> list[float]:
        return [ms for ms, status in zip(self.samples_ms, self.statuses) if status == self.expected_status]

    @property
    def median_ms(self) -> float | None:
        good = self.good_ms
        return statistics.median(good) if good else None

    @property
    def text(self) -> str:
        if self.median_ms is None:
            return f"no answer with status {self.expected_status}" + (f" ({self.error})" if self.error else "")
        return f"{self.median_ms:.0f} ms (median of {len(self.good_ms)})"


@dataclass(frozen=True)
class RowCount:
    """A table's rows: counted exactly, or the planner's estimate (pg_class.reltuples) for a large table."""

    rows: int | None = None
    method: Literal["exact", "estimate", ""] = ""
    error: str | None = None

    @property
    def text(self) -> str:
        if self.rows is None:
            return f"not read: {self.error}"
        return f"{self.rows} ({self.method})"


@dataclass(frozen=True)
class Traffic:
    """A Traefik service's counters: requests answered, and those answered 5xx."""

    requests: float = 0
    errors: float = 0


@dataclass(frozen=True)
class Part:
    """One part of a snapshot: its readings, or why it could not be read."""

    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the stack looked like at one moment (the baseline, or now)."""

    environment: str
    taken_at: str
    release: str | None = None
    latency: dict[str, Latency] | None = None
    tables: dict[str, RowCount] | None = None
    tags: Part | None = None          # value: {service: tag or None}
    migrations: Part | None = None    # value: [applied, in order]
    traffic: Part | None = None       # value: {service: Traffic}

    @property
    def moment(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.taken_at)

    def problems(self) -> list[str]:
        """What this snapshot could not read, one line per part."""
        found = [f"latency of {name}: {lat.error}" for name, lat in (self.latency or {}).items()
                 if lat.median_ms is None]
        found += [f"rows of {name}: {count.error}" for name, count in (self.tables or {}).items() if count.error]
        for name, part in (("image tags", self.tags), ("migrations", self.migrations), ("Traefik metrics", self.traffic)):
            if part is not None and part.error:
                found.append(f"{name}: {part.error}")
        return found

    def to_json(self) -> str:
        return json.dumps({"schema": SCHEMA, **asdict(self)}, indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a gonogo baseline of schema {SCHEMA}")

        def part(raw: Any, convert: Any = None) -> Part | None:
            if raw is None:
                return None
            value = raw.get("value")
            return Part(convert(value) if convert and value is not None else value, raw.get("error"))

        return cls(
            environment=data["environment"], taken_at=data["taken_at"], release=data.get("release"),
            latency=None if data.get("latency") is None else {
                k: Latency(v["url"], v["expected_status"], tuple(v["samples_ms"]), tuple(v["statuses"]), v.get("error"))
                for k, v in data["latency"].items()},
            tables=None if data.get("tables") is None else {k: RowCount(**v) for k, v in data["tables"].items()},
            tags=part(data.get("tags")),
            migrations=part(data.get("migrations"), tuple),
            traffic=part(data.get("traffic"), lambda v: {k: Traffic(**t) for k, t in v.items()}),
        )


def write(snapshot: Snapshot, path: Path) -> None:
    """Write the baseline atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as out:
        out.write(masker.mask(snapshot.to_json()))
    os.replace(tmp, path)


def read(path: Path) -> Snapshot:
    """The baseline at ``path`` (OSError when absent or unreadable, ValueError when it is not a baseline)."""
    try:
        return Snapshot.from_json(path.read_text())
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a gonogo baseline: {type(exc).__name__}: {exc}") from exc


# ------------------------------------------------------------------------------------------------ taking


def take(stack: Stack, section: DiffSection) -> Snapshot:
    """Read every configured part of the stack now, side by side."""
    profile = stack.env.profile
    jobs: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="gonogo-diff") as pool:
        if profile.health:
            jobs["latency"] = pool.submit(_latencies, stack, section)
        if section.tables and profile.database is not None:
            jobs["tables"] = pool.submit(_row_counts, stack, section)
        if profile.docker is not None:
            jobs["tags"] = pool.submit(_guarded, _tags, stack)
        if profile.database is not None and profile.database.migrations is not None:
            jobs["migrations"] = pool.submit(_guarded, _migrations, stack)
        if section.metrics_url or profile.traefik is not None:
            jobs["traffic"] = pool.submit(_guarded, traffic_now, stack, section)
        results = {name: job.result() for name, job in jobs.items()}
    if section.tables and profile.database is None:
        results["tables"] = {t: RowCount(error="no [database] in the profile") for t in section.tables}
    return Snapshot(environment=stack.env.name, taken_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    release=profile.environment.release, **results)


def _guarded(read_part: Any, *args: Any) -> Part:
    try:
        return read_part(*args)
    except Exception as exc:  # a probe that raises is a reading that failed, never a crash of the gate
        return Part(error=f"{type(exc).__name__}: {exc}")


def _latencies(stack: Stack, section: DiffSection) -> dict[str, Latency]:
    endpoints = stack.env.profile.health
    with ThreadPoolExecutor(max_workers=max(1, len(endpoints)), thread_name_prefix="gonogo-latency") as pool:
        return dict(zip((e.name for e in endpoints), pool.map(lambda e: _latency(stack, e, section), endpoints)))


def _latency(stack: Stack, endpoint: Any, section: DiffSection) -> Latency:
    samples, statuses, error = [], [], None
    stack.http.get(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s)  # warm-up: not counted
    for _ in range(section.latency_samples):
        fact = stack.http.get(endpoint.url, method=endpoint.method, timeout_s=endpoint.timeout_s)
        samples.append(round(fact.elapsed_ms, 1))
        statuses.append(fact.status)
        if fact.status != endpoint.status:
            error = fact.status_text
    return Latency(endpoint.url, endpoint.status, tuple(samples), tuple(statuses), error)


def _row_counts(stack: Stack, section: DiffSection) -> dict[str, RowCount]:
    counts: dict[str, RowCount] = {}
    with stack.db.session() as session:
        opened = session.connection
        if opened.error:
            error = opened.error if opened.connected else opened.status_text
            return {table: RowCount(error=error) for table in section.tables}
        for table in section.tables:
            counts[table] = _row_count(session, table, section.exact_count_below)
    return counts


def _row_count(session: Any, table: str, exact_below: int) -> RowCount:
    quoted = quoted_name(table)
    estimate = session.query("SELECT c.reltuples::bigint FROM pg_class c WHERE c.oid = to_regclass(%s)", (quoted,))
    if not estimate.ok:
        return RowCount(error=estimate.error)
    if not estimate.rows:
        return RowCount(error=f"no table {table}")
    planned = estimate.value
    if planned is not None and planned >= exact_below:
        return RowCount(int(planned), "estimate")
    exact = session.query(f"SELECT count(*) FROM {quoted}")  # never analysed (-1) or small: counted
    return RowCount(int(exact.value), "exact") if exact.ok else RowCount(error=exact.error)


def _tags(stack: Stack) -> Part:
    section = stack.docker.section
    services = list(dict.fromkeys([*section.same_release_tag, *section.services]))
    tags: dict[str, str | None] = {}
    for service in services:
        fact = stack.containers.service(service)
        if fact.error is not None:
            return Part(error=fact.error)
        found = sorted({c.tag or "(no tag)" for c in fact.containers})
        tags[service] = ", ".join(found) if found else None
    return Part(tags)


def _migrations(stack: Stack) -> Part:
    database = stack.env.profile.database
    config = database.migrations if database is not None else None
    if config is None:
        return Part(error="no [database] migrations")
    state = read_database(config.tool, config.table_name, stack.db)
    if state.error:
        return Part(error=state.error)
    if not state.exists and not config.first_deploy:  # an absent table is no "nothing applied": the DSN may be wrong
        return Part(error=f"table {state.table}: absent from {state.looked_in} (does [database] dsn name the "
                          "application's database? a first deploy says [database.migrations] first_deploy = true)")
    return Part(tuple(state.applied))


def metrics_url(stack: Stack, section: DiffSection | None) -> str | None:
    """Where Traefik's Prometheus metrics are read: ``[diff] metrics_url``, else ``[traefik] api``/metrics."""
    if section is not None and section.metrics_url:
        return section.metrics_url
    traefik = stack.env.profile.traefik
    return f"{traefik.api.rstrip('/')}/metrics" if traefik is not None else None


def traffic_now(stack: Stack, section: DiffSection | None) -> Part:
    """The requests and 5xx answers of each Traefik service, as Traefik's metrics count them now."""
    url = metrics_url(stack, section)
    if url is None:
        return Part(error="no [traefik] api nor [diff] metrics_url")
    fact = stack.http.get(url, body_limit=METRICS_LIMIT)
    if fact.status != 200:
        return Part(error=f"GET {url}: {fact.status_text}")
    if len(fact.body.encode()) >= METRICS_LIMIT:
        return Part(error=f"GET {url}: more than {METRICS_LIMIT // 2**20} MiB of metrics")
    try:
        return Part(parse_service_traffic(fact.body))
    except ValueError as exc:
        return Part(error=f"GET {url}: not Prometheus metrics: {exc}")


def parse_service_traffic(text: str) -> dict[str, Traffic]:
    """Requests and 5xx answers per service from Prometheus text (``traefik_service_requests_total``)."""
    totals: dict[str, list[float]] = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != SERVICE_REQUESTS:
                continue
            counts = totals.setdefault(sample.labels.get("service", "?"), [0.0, 0.0])
            counts[0] += sample.value
            if str(sample.labels.get("code", "")).startswith("5"):
                counts[1] += sample.value
    return {service: Traffic(requests, errors) for service, (requests, errors) in sorted(totals.items())}


# --------------------------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Change:
    """One item of the release diff: before, after, the change, and whether it stays within the limits."""

    item: str
    before: str
    after: str
    change: str
    ok: bool
    #: why it is not ok (or a note when it is)
    why: str = ""


def compare_latency(name: str, before: Latency | None, after: Latency | None, section: DiffSection) -> Change:
    """RBK-2: the median got no slower than ``latency_ratio`` times (and ``latency_slack_ms`` more) the baseline's."""
    item = f"latency of {name}"
    if before is None or before.median_ms is None:
        why = "the baseline has no reading of it" + (f" ({before.error})" if before and before.error else "")
        return Change(item, "not read" if before else "absent", after.text if after else "absent", "?", False, why)
    if after is None or after.median_ms is None:
        return Change(item, before.text, after.text if after else "not read", "?", False,
                      f"no answer with status {before.expected_status} now" + (f": {after.error}" if after and after.error else ""))
    ratio = after.median_ms / before.median_ms if before.median_ms > 0 else float("inf")
    limit = max(before.median_ms * section.latency_ratio, before.median_ms + section.latency_slack_ms)
    ok = after.median_ms <= limit
    change = f"x{ratio:.2f} ({after.median_ms - before.median_ms:+.0f} ms)"
    why = "" if ok else (f"{after.median_ms:.0f} ms is more than {section.latency_ratio:g}x the baseline's "
                         f"{before.median_ms:.0f} ms (limit {limit:.0f} ms)")
    return Change(item, before.text, after.text, change, ok, why)


def compare_rows(table: str, before: RowCount | None, after: RowCount | None, section: DiffSection) -> Change:
    """No rows lost beyond the tolerance, unless the table is one the release is expected to shrink."""
    item = f"rows of {table}"
    if before is None or before.rows is None:
        return Change(item, before.text if before else "absent", after.text if after else "absent", "?", False,
                      "the baseline has no count of it" + (f" ({before.error})" if before and before.error else ""))
    if after is None or after.rows is None:
        return Change(item, before.text, after.text if after else "absent", "?", False,
                      f"not counted now: {after.error if after else 'absent'}")
    lost = before.rows - after.rows
    estimated = "estimate" in (before.method, after.method)
    tolerance = max(section.max_rows_lost, section.estimate_tolerance if estimated else 0.0)
    allowed = int(before.rows * tolerance)
    change = f"{-lost:+d}" + (f" ({-lost / before.rows:+.1%})" if before.rows else "")
    if table in section.may_shrink:
        return Change(item, before.text, after.text, change, True, "declared in [diff] may_shrink: not judged")
    ok = lost <= allowed
    why = "" if ok else (f"{lost} row(s) lost of {before.rows}" + (f", more than the {allowed} allowed" if allowed else
                                                                   ": no row may be lost"))
    return Change(item, before.text, after.text, change, ok, why)


def compare_migrations(before: Part | None, after: Part | None) -> Change:
    """Migrations only added: every migration applied at the baseline is still applied."""
    if before is None or before.error or before.value is None:
        return Change("migrations", "not read", "?", "?", False,
                      "the baseline has no reading of them" + (f" ({before.error})" if before and before.error else ""))
    if after is None or after.error or after.value is None:
        return Change("migrations", f"{len(before.value)} applied", "not read", "?", False,
                      f"not read now: {after.error if after else 'absent'}")
    old, new = list(before.value), list(after.value)
    removed = [m for m in old if m not in set(new)]
    added = [m for m in new if m not in set(old)]
    change = ", ".join(filter(None, [f"+{len(added)}: {', '.join(added)}" if added else "",
                                      f"-{len(removed)}: {', '.join(removed)}" if removed else ""])) or "none"
    why = f"removed since the baseline: {', '.join(removed)}" if removed else ""
    return Change("migrations", f"{len(old)} applied", f"{len(new)} applied", change, not removed, why)


def compare_tags(before: Part | None, after: Part | None, target: str | None) -> Change:
    """Every service runs the target release now; the tags that changed since the baseline are listed."""
    if after is None or after.error or after.value is None:
        return Change("image tags", "?", "not read", "?", False, f"not read now: {after.error if after else 'absent'}")
    now: dict[str, str | None] = after.value
    if not now:  # no service read: nothing shown to run the target
        return Change("image tags", "?", "no service", "?", False,
                      "no service to compare: [docker] services and same_release_tag name none")
    then: dict[str, str | None] = (before.value or {}) if before is not None and not before.error else {}
    changed = [f"{s}: {then.get(s) or '?'} -> {now[s] or 'no container'}" for s in now if then.get(s) != now[s]]
    off = [f"{s} runs {now[s] or 'no container'}" for s in now if target and now[s] != target]
    before_text = ", ".join(sorted({t or "none" for t in then.values()})) if then else "not read"
    after_text = ", ".join(sorted({t or "none" for t in now.values()}))
    change = "; ".join(changed) or "none"
    why = "" if not off else f"not on the target release {target}: {'; '.join(off)}"
    if not target:
        why = "no target release ([environment] release) to compare with"
    return Change("image tags", before_text, after_text, change, bool(target) and not off, why)


def compare_traffic(before: Part | None, after: Part | None, section: DiffSection) -> Change:
    """RBK-5.3: the share of 5xx answers per Traefik service since the baseline stays under ``max_error_rate``."""
    if before is None or before.error or before.value is None:
        return Change("error rate", "not read", "?", "?", False,
                      "the baseline has no Traefik counters" + (f" ({before.error})" if before and before.error else ""))
    if after is None or after.error or after.value is None:
        return Change("error rate", "read", "not read", "?", False, f"not read now: {after.error if after else 'absent'}")
    rates = error_rates(before.value, after.value, section.services)
    over = over_rate(rates, section.max_error_rate)
    seen = "; ".join(f"{s}: {e:g} 5xx of {r:g}" for s, (r, e) in rates.items()) or "no request since the baseline"
    why = f"more than {section.max_error_rate:.1%} 5xx answers since the baseline: {'; '.join(over)}" if over else ""
    return Change("error rate", _totals(before.value), _totals(after.value), f"since the baseline: {seen}", not over, why)


def over_rate(rates: dict[str, tuple[float, float]], max_rate: float) -> list[str]:
    """The services whose share of 5xx answers is above ``max_rate``, each with its counts."""
    return [f"{s}: {e:g} of {r:g} requests ({e / r:.1%})" for s, (r, e) in rates.items() if r and e / r > max_rate]


def _totals(traffic: dict[str, Traffic]) -> str:
    return f"{sum(t.errors for t in traffic.values()):g} 5xx of {sum(t.requests for t in traffic.values()):g} requests"


def error_rates(before: dict[str, Traffic], after: dict[str, Traffic], only: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """(requests, 5xx answers) per service between two readings (a counter that went down: Traefik restarted)."""
    rates: dict[str, tuple[float, float]] = {}
    for service, now in after.items():
        if only and service not in only:
            continue
        then = before.get(service, Traffic())
        restarted = now.requests < then.requests or now.errors < then.errors
        requests = now.requests if restarted else now.requests - then.requests
        errors = now.errors if restarted else now.errors - then.errors
        if requests > 0:
            rates[service] = (requests, errors)
    for service in only or []:
        rates.setdefault(service, (0.0, 0.0))
    return rates


class ReleaseDiff(Observed):
    """The baseline and now side by side: one :class:`Change` per item, as the release diff attachment shows."""

    before: Snapshot
    after: Snapshot
    changes: tuple[Change, ...] = field(default=())

    EVIDENCE_NAME = "release diff"

    def evidence(self) -> str:
        age = self.after.moment - self.before.moment
        head = [f"release diff of {self.after.environment}: baseline taken {self.before.taken_at} "
                f"(release {self.before.release or '?'}), now {self.after.taken_at} (release {self.after.release or '?'}), "
                f"{int(age.total_seconds() // 60)} min apart", ""]
        rows = [("item", "before", "after", "change", "")] + [
            (c.item, c.before, c.after, c.change, "ok" if c.ok else f"FAIL: {c.why}") for c in self.changes]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
        return masker.mask("\n".join(head + lines))

    def one_line(self) -> str:
        failing = [c.item for c in self.changes if not c.ok]
        return f"<release diff {self.after.environment}: {len(self.changes)} items, failing: {', '.join(failing) or 'none'}>"


def diff(before: Snapshot, after: Snapshot, section: DiffSection, target: str | None) -> ReleaseDiff:
    """Every item of the two snapshots compared (the parts absent from the profile left out)."""
    changes: list[Change] = []
    for name in (after.latency or {}):
        changes.append(compare_latency(name, (before.latency or {}).get(name), (after.latency or {}).get(name), section))
    for table in section.tables:
        changes.append(compare_rows(table, (before.tables or {}).get(table), (after.tables or {}).get(table), section))
    if after.migrations is not None:
        changes.append(compare_migrations(before.migrations, after.migrations))
    if after.tags is not None:
        changes.append(compare_tags(before.tags, after.tags, target))
    if after.traffic is not None:
        changes.append(compare_traffic(before.traffic, after.traffic, section))
    return ReleaseDiff(before, after, tuple(changes))
