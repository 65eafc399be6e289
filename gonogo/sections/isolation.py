"""``[isolation]``: other Compose projects on the same engine that must share nothing with this one.

What the profile says (a table of :class:`gonogo.model.Section`); what the stack shows is observed by
:mod:`gonogo.probes.isolation`.
"""

from __future__ import annotations

from pydantic import Field

from gonogo.model import Section


class IsolationSection(Section):
    """Other Compose projects on the same engine that must share nothing with this stack's (RCY-6)."""

    #: the other projects (e.g. ``boutique-staging`` beside prod)
    other_projects: list[str] = Field(min_length=1)
    #: networks both may be on: the reverse proxy's (``traefik-public``); ``host`` when both use host
    #: networking (the host's network stack is then shared by definition: say so here)
    shared_networks_allowed: list[str] = Field(default_factory=lambda: ["traefik-public"])
    #: host paths both may bind-mount (read-only shared files such as a CA bundle), exact paths
    shared_paths_allowed: list[str] = Field(default_factory=list)
