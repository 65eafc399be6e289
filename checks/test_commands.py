"""Commands the profile names pass: inside a service's running container, or on the gate's host.

Runbook steps (the entries of ``[[command]]`` say which): BTQ-1.2 and SMK-12 (``manage.py check
--deploy`` in the web container), BTQ-1.3 (``makemigrations --check --dry-run``), BTQ-1.4 (the
application's own test command), SMK-5 (``manage.py check`` after a rollback), NPR-1.1 (a CI check
command on the host). Each entry is one check, in the phases, with the severity and the runbook
steps it names; its exit code, its output's tail and where it ran are attached as evidence.
"""

from __future__ import annotations

import pytest

from gonogo import judge
from gonogo.sections.commands import CommandEntry
from gonogo.stack import Stack


@pytest.mark.each("command", "command")
def test_command_passes(command: CommandEntry, stack: Stack) -> None:
    """The command ends within its timeout with the expected exit code (and output, when one is expected)."""
    fact = stack.commands.run(command)
    judge(f"{command.name} ran", fact.finished,
          expected=f"`{command.command}` to end within {command.timeout_s:g} s", actual=fact.status_text,
          where=fact.where, fact=fact)
    judge(f"{command.name} exit code", fact.exit_code == command.expect_exit,
          expected=f"exit code {command.expect_exit}", actual=f"{fact.status_text}: {fact.last_words}",
          where=fact.where, fact=fact)
    if command.expect_output is not None:
        judge(f"{command.name} output", fact.search(command.expect_output) is not None,
              expected=f"output matching {command.expect_output!r}",
              actual=f"no match in {len(fact.output.splitlines())} line(s) of output, ending: {fact.last_words}",
              where=fact.where, fact=fact)
