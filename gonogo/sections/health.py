"""``[[health]]``: the endpoints whose status, body and latency are checked.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.health` (through :mod:`gonogo.probes.http`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from gonogo.model import Section
from gonogo.sections.patterns import Regex


class HealthEndpoint(Section):
    """One ``[[health]]`` entry: the status its URL must answer, what its body must say, its latency budget."""

    name: str
    url: str
    method: Literal["GET", "HEAD"] = "GET"
    status: int = 200
    #: keys the JSON body must hold with these values (dotted keys reach into objects)
    json_body: dict[str, Any] = Field(default_factory=dict, alias="json")
    #: the whole body as JSON must be this value, of any type (``true``, ``"ok"``, ``[1, 2]``, a table)
    json_value: Any = None
    #: a regular expression searched in the body's text (Python ``re.search``)
    body: Regex | None = None
    #: every component under this key of the body must say ok (e.g. "components")
    components_key: str | None = None
    max_ms: int | None = None
    #: a latency over ``max_ms``: blocker, critical or warning
    max_ms_severity: Literal["blocker", "critical", "warning"] = "warning"
    ready_within_s: float = 0
    timeout_s: float = 5
    #: the runbook steps this endpoint's checks encode (e.g. SMK-6.2)
    runbook: list[str] = Field(default_factory=list)
    #: a failure of this endpoint: blocker, critical or warning
    severity: Literal["blocker", "critical", "warning"] = "blocker"

    @model_validator(mode="after")
    def _one_reading_of_the_body(self) -> HealthEndpoint:
        """Keys that contradict each other: a whole JSON value and keys of an object, a HEAD answer's body."""
        said = f"[[health]] {self.name}:"
        if self.json_value is not None and self.json_body:
            raise ValueError(f"{said} json_value compares the whole body, json the keys of an object: give one of them")
        if self.json_value is not None and self.components_key:
            raise ValueError(f"{said} json_value compares the whole body, components_key reads an object: "
                             "give one of them")
        body_keys = [k for k, v in (("json", self.json_body), ("json_value", self.json_value is not None),
                                    ("body", self.body is not None), ("components_key", self.components_key)) if v]
        if self.method == "HEAD" and body_keys:
            raise ValueError(f"{said} method = \"HEAD\" gets no body, so {', '.join(body_keys)} can never hold: "
                             "use GET, or drop them")
        return self
