"""The watch window's logs (watch.no_critical_log): no pass without a log read. Without [docker] the check is
"not configured"; an empty or broken [watch] log_patterns or services, or an empty [docker] log_errors or
log_triggers, is a profile error; a window that read no round names the services it never read. A service
with no container during the window: tests/probes/test_containers.py (the private dockerd)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gonogo.probes.watch import Window

WATCH = {"test_watch.py": (Path(__file__).resolve().parents[2] / "checks" / "test_watch.py").read_text()}


def test_a_window_cut_short_before_its_first_round_read_no_log() -> None:
    """Ctrl-C before a round ended: no service's log was read, and the window's evidence says so."""
    window = Window("dev", 60, 10, cut_short=True, log_services=("web", "worker"))

    assert window.logs_read == {} and "logs read: web: never read; worker: never read" in window.evidence()


def test_a_window_without_docker_reads_no_log_so_no_critical_log_is_not_applicable(run_gate: Any) -> None:
    """No [docker]: the window can read no service's log. watch.no_critical_log is "not applicable: needs [docker]"
    (never a pass; issue 22, item 2: it reads its subject through another subject's table), naming the profile;
    the rest of the window is judged."""
    run = run_gate(WATCH, "-m", "postdeploy", "--watch", "1s", "--every", "0.5s",
                   profile='[environment]\nrelease = "1.4.2"\n')

    skipped = {e["id"]: (e["status"], e["reason"]) for e in run.gate["skipped"]}
    assert "watch.no_critical_log" not in run.gate["passed"], run.gate
    status, reason = skipped["watch.no_critical_log"]
    assert status == "not-applicable" and "needs [docker]" in reason and "environments/dev.toml" in reason, reason
    assert "watch.window_complete" in run.gate["passed"], run.gate


@pytest.mark.parametrize("table, said", [
    ("[watch]\nlog_patterns = []\n", "[watch] log_patterns: is empty: the window would search the services' logs "
                                     "for nothing; remove the key to use [docker] log_errors"),
    ("[watch]\nservices = []\n", "[watch] services: is empty: the window would read no service's log; remove the "
                                 "key to watch [docker] services"),
    ('[watch]\nlog_patterns = ["CRITICAL", "(unclosed"]\n', "[watch] log_patterns: '(unclosed' is not a regular "
                                                           "expression: missing ), unterminated subpattern"),
    ('[docker]\ncompose_project = "shop"\nlog_errors = []\n', "[docker] log_errors: is empty: logs.free_of_errors "
                                                              "would search the logs for nothing"),
    ('[docker]\ncompose_project = "shop"\nlog_triggers = []\n', "[docker] log_triggers: is empty: "
                                                                "logs.no_rollback_trigger would search the logs for nothing"),
], ids=["watch-log_patterns-empty", "watch-services-empty", "watch-log_patterns-not-a-regex", "docker-log_errors-empty",
        "docker-log_triggers-empty"])
def test_log_keys_that_read_or_search_nothing_are_a_profile_error(run_gate: Any, table: str, said: str) -> None:
    """An empty list would make a log check pass on any log (nothing to read, nothing to find): one line naming the
    file and key, at load time."""
    run = run_gate(WATCH, "-m", "postdeploy", profile=f'[environment]\nrelease = "1.4.2"\n\n{table}')

    assert run.ret == 4 and f"environments/dev.toml: {said}" in run.out + run.err, run.out + run.err
    assert "Traceback" not in run.out + run.err
