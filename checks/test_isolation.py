"""Isolation: the stack shares no volume and no network with the other stacks on its engine (staging).

Runbook step RCY-6 (prod and staging isolated: no shared volume or network besides the proxy's).
For each project of ``[isolation] other_projects``, both projects' containers (running or not) are
read through the Docker API (``[docker]``): their named volumes and bind-mounted host paths (a
path inside another's counts), and their networks (``host`` for host networking), less what
``shared_networks_allowed`` and ``shared_paths_allowed`` accept. Before the deploy and after it.
"""

from __future__ import annotations

import pytest

from gonogo import judge
from gonogo.probes.isolation import IsolationFact
from gonogo.stack import Stack

pytestmark = [pytest.mark.predeploy, pytest.mark.postdeploy, pytest.mark.severity("blocker"),
              pytest.mark.runbook("RCY-6")]


def _compare(stack: Stack, other: str) -> IsolationFact:
    fact = stack.isolation.compare(other)
    judge("docker engine", fact.answered, expected=f"the engine to list {fact.ours.project} and {other}",
          actual=f"the engine is unreachable: {fact.error}", where=f"docker engine {fact.host}", fact=fact)
    ours = fact.ours.project
    judge(f"containers of {ours}", bool(fact.ours.containers),  # nothing of ours read: nothing shown to be unshared
          expected=f"at least one container of Compose project {ours} to compare with {other}",
          actual=f"none (label com.docker.compose.project={ours}): is [docker] compose_project the stack's?",
          where=f"docker ps -a --filter label=com.docker.compose.project={ours}", fact=fact)
    return fact


def _others(stack: Stack) -> list[str]:
    return list(stack.section("isolation").other_projects)


def test_no_shared_volume(stack: Stack) -> None:
    """No named volume and no bind-mounted host path is shared with another project (staging)."""
    for other in _others(stack):
        fact = _compare(stack, other)
        shared = fact.shared_volumes()
        judge(f"volumes shared with {other}", not shared, expected="none",
              actual="; ".join(map(str, shared)), where=f"docker inspect of {fact.ours.project} and {other}", fact=fact)


def test_no_shared_network(stack: Stack) -> None:
    """No network is shared with another project (staging) besides the allowed ones (the proxy's)."""
    for other in _others(stack):
        fact = _compare(stack, other)
        shared = fact.shared_networks()
        allowed = ", ".join(fact.networks_allowed) or "none"
        judge(f"networks shared with {other}", not shared, expected=f"none besides {allowed}",
              actual="; ".join(map(str, shared)), where=f"docker inspect of {fact.ours.project} and {other}", fact=fact)
