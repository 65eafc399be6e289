"""Bad input about the run itself, found before any check runs: one line, exit code 4.

A gonogo option written with a space whose value moved pytest's rootdir, a verdict file or another
output (Allure results, JUnit XML, log file, baseline) that cannot be written, a runbook steps file
that cannot be read.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
try:  # private API: pytest has no public way to redo its rootdir search
    from _pytest.config.findpaths import determine_setup
except ImportError:  # pragma: no cover - a pytest that moved it: no detection (tests/core/test_bad_input.py fails)
    determine_setup = None  # type: ignore[assignment]

from gonogo import verdict_file
from gonogo.environment import ProfileError
from gonogo.selection import Scope
from gonogo.steps import Step, StepsFileError, load_steps

#: the value options of gonogo (and allure-pytest's, which gonogo sets): pytest looks for its rootdir
#: before plugins are loaded, so a value written as a separate word is taken for a test path if it exists
VALUE_OPTIONS = ("--env", "--environments-dir", "--gate-file", "--alluredir")
STEPS_INI = "gonogo_runbook_steps"
#: where gonogo's Allure results go when --alluredir is not given (under the rootdir)
DEFAULT_ALLURE_DIR = "reports/allure-results"


@dataclass(frozen=True)
class StartProblem:
    """Bad input found at the start: the one line to show, and where the NO-GO verdict can still go."""

    message: str
    #: the verdict file the user meant (a stale GO there must not survive), or None when it is the problem
    gate_file: Path | None
    #: the Allure results folder can take the NO-GO verdict's result (it is not the problem)
    results: bool = True


def start_problem(config: pytest.Config, gate_file: Path) -> StartProblem | None:
    """A moved rootdir, an unwritable verdict file or another output that cannot be written (controller only),
    before anything is written or deleted."""
    moved = moved_rootdir(config)
    if moved is not None:
        message, meant_root = moved
        chosen = Path(config.option.gonogo_gate_file or verdict_file.DEFAULT_GATE_FILE)
        meant = chosen if chosen.is_absolute() else meant_root / chosen
        return StartProblem(message, None if verdict_file.writable_problem(meant) else meant)
    problem = gate_file_problem(config, gate_file)
    if problem:
        return StartProblem(problem, None)
    for where, path, folder, example in outputs(config):
        problem = verdict_file.writable_problem(path, folder, example)
        if problem:
            return StartProblem(f"{where}: {problem}", gate_file, results=not folder)  # the folder: Allure's
    return None


def outputs(config: pytest.Config) -> list[tuple[str, Path, bool, str]]:
    """The run's outputs besides the verdict file: (the option that names it, its path, a folder, an example name).
    Relative paths are pytest's and its plugins' (the invocation folder), the baseline's the rootdir."""
    option, here, root = config.option, config.invocation_params.dir, Path(str(config.rootpath))
    allure = getattr(option, "allure_report_dir", None)
    found = [(f"--alluredir {allure}", here / allure, True, "") if allure else
             (f"the Allure results folder {DEFAULT_ALLURE_DIR} (default of --alluredir)", root / DEFAULT_ALLURE_DIR, True, "")]
    if getattr(option, "xmlpath", None):
        found.append((f"--junitxml {option.xmlpath}", here / option.xmlpath, False, "junit.xml"))
    log_file = (option.log_file or config.getini("log_file")) if hasattr(option, "log_file") else None
    if log_file:  # pytest's logging plugin is active and writes one
        where = "--log-file" if getattr(option, "log_file", None) else "ini log_file"
        found.append((f"{where} {log_file}", here / log_file, False, "pytest.log"))
    if option.gonogo_baseline and "predeploy" in Scope(option.markexpr or "").phases():  # written there only
        found.append((f"--baseline {option.gonogo_baseline}", root / option.gonogo_baseline, False, "baseline.json"))
    return found


def moved_rootdir(config: pytest.Config) -> tuple[str, Path] | None:
    """Why the rootdir is not the one meant, and the one meant, when the separate value word of such an
    option moved it; else None."""
    spaced = _spaced_values(config)
    if not spaced or determine_setup is None:
        return None
    option = config.option
    rootpath, inipath, _, _ = determine_setup(  # as pytest did, without the value words
        inifile=option.inifilename,
        override_ini=option.override_ini,
        args=[str(arg) for arg in option.file_or_dir or []],
        rootdir_cmd_arg=option.rootdir or None,
        invocation_dir=config.invocation_params.dir,
    )
    if (rootpath, inipath) == (config.rootpath, config.inipath):
        return None
    given = " ".join(f"{name} {value}" for name, value in spaced)
    fixed = " ".join(f"{name}={value}" for name, value in spaced)
    became = f"{config.rootpath} ({config.inipath or 'no configuration file'})"
    meant = f"{rootpath} ({inipath} not read)" if inipath else str(rootpath)
    return (
        f"{given}: pytest took the value for a test path (it looks for its rootdir before plugins' options are "
        f"known), so its rootdir became {became} instead of {meant}; write {fixed}"
    ), Path(rootpath)


def _spaced_values(config: pytest.Config) -> list[tuple[str, str]]:
    """Value options written as two words whose value is an existing path (pytest reads those)."""
    words = [*shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *map(str, config.invocation_params.args)]
    here = config.invocation_params.dir
    return [(word, value) for word, value in zip(words, words[1:])
            if word in VALUE_OPTIONS and os.path.exists(here / value)]


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
