"""Bad input about the run itself, found before any check runs: one line, exit code 4.

A verdict file that cannot be written, a runbook steps file that cannot be read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gonogo import verdict_file
from gonogo.environment import ProfileError
from gonogo.steps import Step, StepsFileError, load_steps

STEPS_INI = "gonogo_runbook_steps"


def check_start(config: pytest.Config, gate_file: Path) -> None:
    """Raise pytest.UsageError when the verdict file cannot be written (controller only)."""
    problem = gate_file_problem(config, gate_file)
    if problem:
        raise pytest.UsageError(problem)


def gate_file_problem(config: pytest.Config, gate_file: Path) -> str | None:
    """Why the verdict file cannot be written, naming --gate-file (or its default), or None."""
    problem = verdict_file.writable_problem(gate_file)
    if problem is None:
        return None
    given = config.option.gonogo_gate_file
    default = f"the verdict file {verdict_file.DEFAULT_GATE_FILE} (default of --gate-file)"
    where = f"--gate-file {given}" if given else default
    return f"{where}: {problem}"


def runbook_steps(config: pytest.Config) -> dict[str, Step]:
    """The packaged runbook steps and those of the ini key; ProfileError names a file that cannot be read."""
    try:
        return load_steps(*[Path(p) for p in config.getini(STEPS_INI)])
    except StepsFileError as exc:
        base = config.inipath.parent if config.inipath else config.invocation_params.dir
        raise ProfileError(
            f"ini {STEPS_INI}: {exc}: list STEPS.md-style files (relative paths start at {base}) or remove the key"
        ) from None
