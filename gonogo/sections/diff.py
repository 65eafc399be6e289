"""``[diff]``: what the baseline records at predeploy and how far postdeploy may move from it.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.diff`.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from gonogo.model import Section

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


class DiffSection(Section):
    """``[diff]``: what the baseline records at predeploy and how far postdeploy may move from it."""

    #: tables whose row counts are recorded ("shop_sale", or "schema.table"); none may lose rows beyond the tolerance
    tables: list[str] = Field(default_factory=list)
    #: tables the release is expected to shrink (a purge, an archive): their counts are shown, never judged
    may_shrink: list[str] = Field(default_factory=list)
    #: the share of a table's rows that may go (0.0: not one row; 0.01: 1 %)
    max_rows_lost: float = Field(default=0.0, ge=0, le=1)
    #: the same for a count that is the planner's estimate on either side (estimates drift with autovacuum)
    estimate_tolerance: float = Field(default=0.05, ge=0, le=1)
    #: a table the planner estimates at fewer rows than this is counted exactly (count(*), bounded by the timeout)
    exact_count_below: int = Field(default=100_000, ge=0)
    #: requests per health endpoint whose median is its latency (after one warm-up request, not counted)
    latency_samples: int = Field(default=5, ge=1, le=50)
    #: how much slower the median may get (RBK-2: "latency not degraded by more than 50 %": 1.5)
    latency_ratio: float = Field(default=1.5, gt=1)
    #: ...and by how many milliseconds at least before it counts (a 4 ms -> 7 ms change is noise, not a degradation)
    latency_slack_ms: float = Field(default=50, ge=0)
    #: the share of 5xx answers per Traefik service since the baseline (RBK-5.3: "error rate under 1 %")
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    #: Traefik's Prometheus metrics (default: ``[traefik] api`` + /metrics)
    metrics_url: str | None = None
    #: Traefik services the error rate judges (default: every service that answered since the baseline)
    services: list[str] = Field(default_factory=list)
    #: a baseline older than this is not this deploy's (hours)
    max_age_h: float = Field(default=24, gt=0)

    @field_validator("tables", "may_shrink")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not IDENTIFIER.match(t)]
        if bad:
            raise ValueError(f"not a table name (table or schema.table): {', '.join(bad)}")
        return value
