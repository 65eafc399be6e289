"""The gonogo pytest plugin: wires options, the profile, collection, outcomes and the gate together.

Registered through the ``pytest11`` entry point. The pieces live in their own modules, each
testable alone: :mod:`~gonogo.environment` (the profile), :mod:`~gonogo.checks` (markers),
:mod:`~gonogo.parametrize` (``@pytest.mark.each``), :mod:`~gonogo.outcomes` (the recorder),
:mod:`~gonogo.selection` (phases, partial runs), :mod:`~gonogo.gate` (the verdict),
:mod:`~gonogo.verdict_file` (gate.json), :mod:`~gonogo.masking` (secrets on their way out),
:mod:`~gonogo.allure_results` and :mod:`~gonogo.xdist_support`.

On the controller (or in a serial run) the plugin records every check and its outcome and
computes one verdict at the end of the session; on an xdist worker it loads the same profile (for
masking and fixtures), runs checks and sends its collection back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from gonogo import (__version__, allure_results, coverage, evidence, fixtures, inventory, masking, parametrize,
                    quality_gate, skips, usage, verdict_file, verdict_result, xdist_support)
from gonogo.checks import MARKERS, CheckInfo, MarkerError, describe, subject_of
from gonogo.environment import LoadedEnvironment, ProfileError, available, choose, load
from gonogo.gate import (NO_GO, SessionFacts, Verdict, decide, decided_reason, decision_for, decision_problem,
                         inventory_checks, waiver_problem)
from gonogo.keys import ENVIRONMENT
from gonogo.outcomes import PhaseReport, Recorder
from gonogo.probes import silence
from gonogo.profile import GateSection
from gonogo.secrets import masker
from gonogo.sections.rollback import MOMENTS
from gonogo.sections.watch import parse_duration
from gonogo.selection import Scope

DEFAULT_ALLURE_DIR = usage.DEFAULT_ALLURE_DIR
USER_PROPERTY = "gonogo_check"
CONVERGENCE_PROPERTY = fixtures.CONVERGENCE_PROPERTY
#: set on each report by the worker that ran the check: what the recorder needs beyond pytest's outcome
REPORT_ATTRIBUTE = "gonogo"
OFF_MESSAGE = "gonogo is off: no verdict"
SILENCE_KEY = "gonogo_silence"
#: the exit code the gate decided, for pytest_cmdline_main (pytest's --fixtures returns 0 whatever the session said)
EXIT_CODE = pytest.StashKey[int]()
#: options with which a run judges nothing: it ends with no verdict (exit 1), never with a stale one
NO_VERDICT_MODES = {"collectonly": "--collect-only", "showfixtures": "--fixtures",
                    "show_fixtures_per_test": "--fixtures-per-test", "setupplan": "--setup-plan",
                    "setuponly": "--setup-only"}  # --setup-plan sets setuponly too: it is named first
#: options that show pytest's help rather than run anything: gonogo loads no environment for them
HELP_MODES = ("help", "markers")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gonogo", "gonogo release gate")
    group.addoption("--env", dest="gonogo_env", metavar="NAME",
                    help="environment to check: loads environments/NAME.toml (else GONOGO_ENV, else ini gonogo_env)")
    group.addoption("--environments-dir", dest="gonogo_environments_dir", metavar="DIR",
                    help="folder of environment profiles (default: ini gonogo_environments_dir, 'environments'); "
                         "write --environments-dir=DIR")
    group.addoption("--gate-file", dest="gonogo_gate_file", metavar="PATH",
                    help=f"where the verdict is written (default: {verdict_file.DEFAULT_GATE_FILE} under the rootdir)")
    group.addoption("--partial", dest="gonogo_partial", action="store_true", default=False,
                    help="judge only the selection: a run that leaves out any check of its phases (-k, --deselect, "
                         "paths, --ignore, -o, --lf, -m) is otherwise a NO-GO; gate.json then says partial and what was "
                         "left out (a required check left out is still missing)")
    group.addoption("--no-gate", dest="gonogo_off", action="store_true", default=False,
                    help="plain pytest: load no environment and compute no verdict (the suite's own tests use this)")
    group.addoption("--rollback-to", dest="gonogo_rollback_to", metavar="RELEASE",
                    help="the release a rollback goes back to (its image tag); default: [rollback] target, "
                         "else [environment] previous_release")
    group.addoption("--rollback-moment", dest="gonogo_rollback_moment", choices=MOMENTS, default="auto",
                    help="which side of the rollback the rollback checks judge: before, after, or auto (default: "
                         "inferred from the release the services run and the target; the summary says which)")
    group.addoption("--baseline", dest="gonogo_baseline", metavar="PATH",
                    help="the baseline a predeploy run records and a postdeploy run compares with, relative to the rootdir "
                         "(default: baseline-ENV.json beside the gate file, e.g. reports/baseline-prod.json)")
    group.addoption("--watch", dest="gonogo_watch", metavar="DURATION", type=_duration, default=None,
                    help="after the postdeploy checks, watch the stack for DURATION (15m, 90s, 1h) and judge the "
                         "window (availability, critical log lines, error rate; [watch]); runs without -n")
    group.addoption("--every", dest="gonogo_every", metavar="INTERVAL", type=_duration, default=30.0,
                    help="the watch window's interval between rounds (default 30s)")
    smoke = parser.getgroup("gonogo smoke", "gonogo browser smoke flows (smoke/)")
    for names, options in (
        (("--headed",), {"action": "store_true", "default": False, "help": "show the browser (needs a display)"}),
        (("--slowmo",), {"type": int, "default": 0, "metavar": "MS", "help": "slow every browser action by MS"}),
    ):
        try:
            smoke.addoption(*names, dest=names[0].lstrip("-"), **options)
        except ValueError:  # pytest-playwright is installed too: its options are the same (dest headed, slowmo)
            pass
    parser.addini("gonogo_env", "default environment when neither --env nor GONOGO_ENV is given", default=None)
    parser.addini("gonogo_environments_dir", "folder of environment profiles, relative to the rootdir",
                  default="environments")
    parser.addini("gonogo_runbook_steps", "extra STEPS.md-style files with runbook step ids", type="paths", default=[])


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def baseline_file(config: pytest.Config, environment: str) -> Path:
    """Where the baseline is recorded and read: ``--baseline``, else ``baseline-ENV.json`` beside the gate file."""
    chosen = config.option.gonogo_baseline
    if chosen:
        path = Path(chosen)
        return path if path.is_absolute() else Path(str(config.rootpath)) / path
    return _gate_file(config).parent / f"baseline-{environment}.json"


def _register_markers(config: pytest.Config) -> None:
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    for signature, meaning in MARKERS.items():
        if signature.split("(", 1)[0] not in known:
            config.addinivalue_line("markers", f"{signature}: {meaning}")


def _gate_file(config: pytest.Config) -> Path:
    rootdir = Path(str(config.rootpath))
    chosen = Path(config.option.gonogo_gate_file or verdict_file.DEFAULT_GATE_FILE)
    return chosen if chosen.is_absolute() else rootdir / chosen


def clear_previous(gate_file: Path) -> None:
    """Remove the previous run's verdict and the report files written beside it (no stale GO, no stale coverage)."""
    for path in (gate_file, gate_file.parent / coverage.RUN_FILE, gate_file.parent / quality_gate.FILE_NAME):
        if path.is_file() or path.is_symlink():
            path.unlink(missing_ok=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, None, None]:
    """Before pytest's capture starts: what checks write to sys.stdout/sys.stderr is masked, also where it
    reaches the terminal directly (-s, -p no:capture, --capture=tee-sys)."""
    masking.mask_std_streams(early_config)
    return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _register_markers(config)
    helping = any(getattr(config.option, mode, False) for mode in HELP_MODES)
    if config.option.gonogo_off or helping:  # --help is no run: it leaves the last verdict as it is
        config.pluginmanager.register(GateOff(config, clear=not helping), "gonogo-off")
        return
    plugin = GatePlugin(config)
    if config.pluginmanager.register(plugin, "gonogo-gate") is None:  # -p no:gonogo-gate
        plugin.refuse("-p no:gonogo-gate turns the gate off, and a run without it has no verdict: remove it "
                      "(--no-gate runs the checks as plain pytest, with no verdict and no environment)")
    plugin.configure()
    config.stash[ENVIRONMENT] = plugin.env
    config.pluginmanager.register(fixtures, "gonogo.fixtures")


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, int | pytest.ExitCode, int | pytest.ExitCode]:
    """The process ends with the gate's exit code where pytest would end with 0 whatever the session said
    (``--fixtures``); a non-zero status of pytest's own (an internal error after the verdict) is never made 0."""
    status = yield
    decided = config.stash.get(EXIT_CODE, None)
    return decided if decided is not None and int(status) == 0 else status


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.each``: one check per profile entry (see gonogo.parametrize)."""
    parametrize.parametrize(metafunc, metafunc.config.stash.get(ENVIRONMENT, None))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A placeholder of a check with nothing to check is skipped with its own kind."""
    evidence.new_check()
    placeholder = item.get_closest_marker(parametrize.PLACEHOLDER)
    if placeholder is not None:
        kind, reason = placeholder.args
        raise (skips.NotApplicable if kind == "not-applicable" else skips.NotConfigured)(reason, _use_item_location=True)


class GateOff:
    """``--no-gate``: plain pytest. Removes a stale verdict file and says there is no verdict."""

    def __init__(self, config: pytest.Config, clear: bool = True) -> None:
        self.config = config
        if clear and not xdist_support.is_worker(config):
            clear_previous(_gate_file(config))

    def pytest_report_header(self) -> str:
        return OFF_MESSAGE

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not xdist_support.is_worker(self.config):
            terminalreporter.write_line(OFF_MESSAGE)


class GatePlugin:
    """The per-session state of the gate (one instance per process)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = xdist_support.is_worker(config)
        self.rootdir = Path(str(config.rootpath))
        self.env: LoadedEnvironment | None = None
        self.checks: dict[str, CheckInfo] = {}
        #: every check function this process collected (gonogo.inventory): what the gate compares with the inventory
        self.seen: dict[str, inventory.Entry] = {}
        self.inventory: dict[str, inventory.Entry] = {}
        self.inventory_file = inventory.path_for(config)
        self.deselected: set[str] = set()
        self.recorder = Recorder()
        self.collection_errors: list[tuple[str, str]] = []
        self.skipped_modules: list[tuple[str, str]] = []
        self.started = dt.datetime.now(dt.timezone.utc)
        self.started_clock = time.monotonic()
        self.verdict: Verdict | None = None
        self.exit_code: int | None = None
        self.interrupted: str | None = None
        self.scope = Scope(config.option.markexpr or "")
        self.gate_file = _gate_file(config)
        self.silence_dir: Path | None = None

    # -- start -------------------------------------------------------------------------------
    def configure(self) -> None:
        config = self.config
        option = config.option
        if not self.is_worker:  # a moved rootdir, an unwritable verdict file: before anything is written
            problem = usage.start_problem(config, self.gate_file)
            if problem is not None:
                if problem.gate_file is not None:  # where the user meant the verdict: no stale GO survives there
                    self._write_usage_error(problem.message, problem.gate_file, problem.results)
                raise pytest.UsageError(problem.message)
            phases_problem = self.scope.problem()
            if phases_problem is not None:
                self.refuse(phases_problem)
        if not getattr(option, "allure_report_dir", None):
            option.allure_report_dir = str(self.rootdir / DEFAULT_ALLURE_DIR)
            if not self.is_worker:
                allure_results.clean(Path(option.allure_report_dir))
        if option.gonogo_watch and getattr(option, "numprocesses", None):
            # the window is one observation over time, shown as it goes: the checks run in this process
            option.numprocesses, option.dist, option.tx = 0, "no", []
        if self.is_worker:
            option.clean_alluredir = False  # a worker must never delete what another one wrote
            shared = config.workerinput.get(SILENCE_KEY)  # type: ignore[attr-defined]
            silence.use_directory(Path(shared) if shared else None)
        else:
            clear_previous(self.gate_file)  # never leave a stale verdict (or its coverage) behind
        masking.install(config)
        try:
            self.steps = usage.runbook_steps(config)
            self.env = self._load_environment()
            if not self.is_worker:
                self.inventory = self._load_inventory(self.env)
        except ProfileError as exc:
            message = masker.mask(str(exc))
            if not self.is_worker:
                self._write_usage_error(message, self.gate_file)
            raise pytest.UsageError(message) from None
        if not self.is_worker:  # targets that timed out, shared by this run's workers (gonogo.probes.silence)
            self.silence_dir = Path(tempfile.mkdtemp(prefix="gonogo-silence-"))
            silence.use_directory(self.silence_dir)

    def refuse(self, message: str) -> None:
        """Stop the run as bad input: one line, exit 4, a NO-GO verdict file that says why."""
        if not self.is_worker:
            self._write_usage_error(message, self.gate_file)
        raise pytest.UsageError(message)

    def _load_inventory(self, env: LoadedEnvironment) -> dict[str, inventory.Entry]:
        """The suite's inventory, and no waiver that matches the checks of several subjects in it, no
        [[gate.not_applicable]] entry that is a catch-all, a typo or a required check (ProfileError)."""
        try:
            entries = inventory.load(self.inventory_file)
        except inventory.InventoryError as exc:
            raise ProfileError(str(exc)) from None
        known = inventory_checks(entries)
        for index, waiver in enumerate(env.profile.gate.waivers):
            problem = waiver_problem(index, waiver, known, env.display_path)
            if problem:
                raise ProfileError(problem.removesuffix("; it waived nothing"))
        gate = env.profile.gate
        for index, decision in enumerate(gate.not_applicable):
            problem = decision_problem(index, decision, known, gate.required, env.display_path)
            if problem:
                raise ProfileError(problem)
        return entries

    def _write_usage_error(self, message: str, gate_file: Path, results: bool = True) -> None:
        """A NO-GO verdict file that says why (and its Allure result, unless ``results`` says the folder is bad)."""
        clear_previous(gate_file)
        document = verdict_file.document(
            verdict=None, exit_code=4, env=None, phases=[], selection=self._selection(), started=self.started,
            duration_s=time.monotonic() - self.started_clock, usage_error=message)
        verdict_file.write(gate_file, document)
        results_dir = getattr(self.config.option, "allure_report_dir", None)
        if results and results_dir and gate_file == self.gate_file:  # the report of a profile error says NO-GO and why
            verdict_result.write(Path(results_dir), document, None, _ms(self.started), _ms(dt.datetime.now(dt.timezone.utc)))

    def _load_environment(self) -> LoadedEnvironment:
        config, option = self.config, self.config.option
        directory = option.gonogo_environments_dir or config.getini("gonogo_environments_dir")
        env_dir = Path(directory) if Path(directory).is_absolute() else self.rootdir / directory
        chosen = choose(option.gonogo_env, dict(os.environ), config.getini("gonogo_env"))
        if chosen is None:
            names = available(env_dir)
            raise ProfileError(
                "no environment chosen: pass --env NAME, set GONOGO_ENV or the ini key gonogo_env; available: "
                + (", ".join(names) or "none")
            )
        name, source = chosen
        return load(name, source, env_dir, self.rootdir, dict(os.environ))

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        env = self.env
        if env is None:
            return []
        release = env.profile.environment.release or "not set"
        return [
            f"gonogo {__version__}: environment {env.name} (chosen by {env.source}), profile {env.display_path}",
            f"gonogo: target release {masker.mask(release)}, phases {', '.join(self.scope.phases())}, "
            f"verdict file {self._display(self.gate_file)}",
        ]

    # -- collection --------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_pycollect_makeitem(self, collector: pytest.Collector, name: str, obj: object) -> Generator[None, Any, Any]:
        result = yield
        items = result if isinstance(result, list) else [result]
        for item in items:
            if isinstance(item, pytest.Item):
                try:
                    check = describe(item, self.steps)
                    problem = None
                except MarkerError as exc:
                    problem = f"{item.nodeid}: {exc}"
                if problem:  # outside the except block: no chained traceback in the report
                    pytest.fail(problem, pytrace=False)
                # recorded as generated, before any plugin or option can drop it without a word
                self.checks.setdefault(item.nodeid, check)
                if isinstance(item, pytest.Function):
                    self.seen[inventory.function_id(item.nodeid)] = inventory.entry_of(item)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Record every collected check before -m/-k deselect any (runs first); the watch window's checks last.

        A check generated but missing here was narrowed away before any hook could say so (node ids, --lf):
        it is left out of the run, as if deselected.
        """
        items.sort(key=lambda item: subject_of(item) == "watch")
        renamed = self.config.stash.get(masking.RENAMED, {})  # recorded as generated: known by the masked id now
        self.checks = {renamed.get(nodeid, nodeid): check for nodeid, check in self.checks.items()}
        self.deselected.update(set(self.checks) - {item.nodeid for item in items})
        for item in items:
            check = describe(item, self.steps)
            self.checks[item.nodeid] = check  # the markers as they are now (a plugin's add_marker included)
            item.user_properties.append((USER_PROPERTY, check.as_dict()))
            allure_results.add_labels(item, check)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.update(item.nodeid for item in items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            where = report.nodeid or str(report.fspath)
            text = str(report.longrepr).strip().splitlines()
            message = text[-1] if text else "collection failed"
            error = (where, masker.mask(message))
            if error not in self.collection_errors:  # under xdist every worker reports the same error
                self.collection_errors.append(error)
        elif report.skipped:
            where = report.nodeid or str(report.fspath)
            longrepr = report.longrepr
            why = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            skipped = (where, masker.mask(why.removeprefix("Skipped: ")))
            if skipped not in self.skipped_modules:
                self.skipped_modules.append(skipped)

    # -- running -----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        """Mask the report before anyone prints or sends it, and say how the check ended (innermost wrapper)."""
        report = yield
        masking.mask_report(report)
        excinfo = call.excinfo
        judged = excinfo is None or excinfo.errisinstance((AssertionError, pytest.fail.Exception))
        raised = excinfo.value if excinfo is not None else None
        skip_kind = skips.kind_of(raised)
        setattr(report, REPORT_ATTRIBUTE, {"judged": bool(judged), "skip_kind": skip_kind,
                                           "depends_on": masker.mask(skips.depends_on(raised))})
        if getattr(self.config.option, "allure_report_dir", None):
            allure_results.tag_outcome(report, skip_kind, [v for k, v in report.user_properties if k == CONVERGENCE_PROPERTY])
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A check the profile decided does not apply to the stack ([[gate.not_applicable]]) is not run."""
        check = self.checks.get(item.nodeid)
        if self.env is None or check is None or not self.env.profile.gate.not_applicable:
            return
        decision = decision_for(check, self.env.profile.gate.not_applicable)
        if decision is not None:
            skips.decided(decided_reason(decision, self.env.display_path))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """Title the check in Allure by what it verifies, and name its target."""
        check = self.checks.get(item.nodeid)
        if check is not None and getattr(self.config.option, "allure_report_dir", None):
            allure_results.title(check, self.env)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        props: dict[str, Any] = {k: v for k, v in report.user_properties if k == USER_PROPERTY}
        if USER_PROPERTY in props and report.nodeid not in self.checks:
            self.checks[report.nodeid] = CheckInfo.from_dict(props[USER_PROPERTY])
        self.recorder.record(_phase_report(report))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, pytest.Session.Interrupted):  # pytest stopped itself (collection errors)
            self.interrupted = None if self.collection_errors else str(excinfo.value)
        elif type(excinfo.value).__module__.startswith("xdist"):
            self.interrupted = f"a worker was interrupted: {excinfo.value}"
        else:
            self.interrupted = "interrupted by the user"

    @pytest.hookimpl(tryfirst=True)
    def pytest_assertrepr_compare(self, op: str, left: object, right: object) -> list[str] | None:
        """When a compared value holds a secret, show both sides masked and no diff.

        A character diff of a secret against another value would tell its length and letters.
        """
        if not masker.active:
            return None
        sides = [repr(left), repr(right)]
        if all(masker.mask(side) == side for side in sides):
            return None
        return [f"{masker.mask(sides[0])} {op} {masker.mask(sides[1])}",
                "(a compared value holds a secret of the profile: no diff is shown)"]

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: Any) -> None:
        """Mask secrets in a warning before the terminal (or xdist) keeps its text."""
        text = str(warning_message.message)
        if masker.mask(text) != text:
            warning_message.message = masker.mask(text)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: each worker shares the run's record of targets that timed out."""
        if self.silence_dir is not None:
            node.workerinput[SILENCE_KEY] = str(self.silence_dir)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """xdist: take the collection a worker saw (all checks, and which were deselected)."""
        data = xdist_support.received(node)
        if data:
            self.checks = {**xdist_support.checks_of(data), **self.checks}  # collection order, not report order
            self.seen.update(xdist_support.seen_of(data))
            if not self.deselected:
                self.deselected.update(data["deselected"])
            for name, target in (("collection_errors", self.collection_errors), ("skipped_modules", self.skipped_modules)):
                target += [tuple(e) for e in data[name] if tuple(e) not in target]
        if error and not self.interrupted:
            self.interrupted = xdist_support.describe_down(node, error)

    # -- the end -----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        """Decide before anyone else reports; print the verdict after everything else (last lines)."""
        self._finish(session, exitstatus)
        yield
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None and self.verdict is not None:
            from gonogo.summary import render

            render(terminal, self.verdict, self.env, self.scope.phases(), self._display(self.gate_file),
                   self.verdict.left_out if self.verdict.partial else None)

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput[xdist_support.KEY] = xdist_support.payload(  # type: ignore[attr-defined]
                self.checks, self.deselected, self.collection_errors, self.skipped_modules, self.seen)
            return
        if self.env is None:
            return
        mode = next((flag for option, flag in NO_VERDICT_MODES.items() if getattr(self.config.option, option, False)), None)
        if mode is not None:
            self._no_verdict(session, f"{mode} runs no check: nothing was judged")
            return
        if session.shouldstop and not self.interrupted:
            self.interrupted = f"stopped early: {session.shouldstop}"
        status = int(exitstatus)
        facts = SessionFacts(
            checks=self.checks,
            deselected=self.deselected,
            outcomes=self.recorder.finish(),
            collection_errors=self.collection_errors,
            phases=self.scope.phases(),
            gate=self.env.profile.gate if self.env else GateSection(),
            today=dt.date.today(),
            interrupted=self.interrupted or (f"pytest exit status {status}" if status in (2, 3) and not self.collection_errors else None),
            partial_allowed=self.config.option.gonogo_partial,
            skipped_modules=self.skipped_modules,
            inventory=self.inventory,
            seen=self.seen,
            inventory_file=self._display(self.inventory_file),
            profile_file=self.env.display_path,
        )
        self.facts = facts
        self.verdict = verdict = decide(facts)
        if verdict.verdict == NO_GO:
            # 1 for every NO-GO (also collection errors, serial or -n), but keep pytest's own
            # codes for a user interrupt (2), an internal error (3) and bad usage (4)
            user_interrupt = self.interrupted == "interrupted by the user"
            self.exit_code = status if status in (3, 4) or (status == 2 and user_interrupt) else 1
        else:
            self.exit_code = 0
        session.exitstatus = self.exit_code
        self.config.stash[EXIT_CODE] = self.exit_code
        document = verdict_file.document(
            verdict=verdict, exit_code=self.exit_code, env=self.env, phases=self.scope.phases(),
            selection=self._selection(), started=self.started, duration_s=time.monotonic() - self.started_clock,
            partial=verdict.partial, left_out=verdict.left_out.as_dict())
        self._write(document)
        self._write_report_files(facts, verdict, document)

    def _no_verdict(self, session: pytest.Session, why: str) -> None:
        """A run that judged nothing: a NO-GO document that says so, exit 1 (never a stale or silent verdict)."""
        self.exit_code = session.exitstatus = 1
        self.config.stash[EXIT_CODE] = 1
        self._write(verdict_file.document(
            verdict=None, exit_code=1, env=self.env, phases=self.scope.phases(), selection=self._selection(),
            started=self.started, duration_s=time.monotonic() - self.started_clock, no_verdict=why))
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(f"gonogo: no verdict: {why} (exit 1; {self._display(self.gate_file)} says NO-GO)")

    def _write_report_files(self, facts: SessionFacts, verdict: Verdict, document: dict[str, Any]) -> None:
        """Beside gate.json: coverage.md and quality-gate.json; in the results: the verdict, environment, executor."""
        statuses = {nodeid: outcome.status for nodeid, outcome in facts.outcomes.items()}
        statuses |= {entry["nodeid"]: "waived" for entry in verdict.waived}
        statuses |= dict.fromkeys(self.deselected, "deselected")
        table = coverage.run_table(self.steps, self.checks.values(), statuses)
        _write_text(self.gate_file.parent / coverage.RUN_FILE, masker.mask(table))
        rules = quality_gate.rules(facts, verdict, self.env.name if self.env else None)
        _write_text(self.gate_file.parent / quality_gate.FILE_NAME, json.dumps(masker.mask_data(rules), indent=2) + "\n")
        results_dir = Path(self.config.option.allure_report_dir)
        verdict_result.write(results_dir, document, table, _ms(self.started), _ms(dt.datetime.now(dt.timezone.utc)))
        allure_results.write_environment(results_dir, allure_results.environment_properties(
            self.env, self.scope.phases(), document))
        allure_results.write_executor(results_dir, dict(os.environ))

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # gate.json is masked as it is written; the Allure results get a last scrub (none: stopped at the start)
        if not self.is_worker and config.option.allure_report_dir:
            allure_results.scrub(Path(config.option.allure_report_dir))
        if self.silence_dir is not None:
            shutil.rmtree(self.silence_dir, ignore_errors=True)
        silence.use_directory(None)
        masking.uninstall()

    # -- helpers -----------------------------------------------------------------------------
    def _selection(self) -> dict[str, Any]:
        option = self.config.option
        return {
            "markexpr": option.markexpr or "",
            "keyword": option.keyword or "",
            "args": [masker.mask(str(a)) for a in self.config.args],
            "workers": getattr(option, "numprocesses", None) or 0,
        }

    def _write(self, document: dict[str, Any]) -> None:
        verdict_file.write(self.gate_file, document)

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.rootdir))
        except ValueError:
            return str(path)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _write_text(path: Path, text: str) -> None:
    """Write a report file through a temporary file (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _phase_report(report: pytest.TestReport) -> PhaseReport:
    """The recorder's view of one pytest report (on the controller: it may come from a worker)."""
    extra = getattr(report, REPORT_ATTRIBUTE, None) or {}
    convergence: tuple[dict[str, Any], ...] = tuple(
        v for k, v in report.user_properties if k == CONVERGENCE_PROPERTY and isinstance(v, dict))
    return PhaseReport(
        nodeid=report.nodeid,
        when=str(report.when),
        outcome=report.outcome,
        reason=_reason(report),
        duration_s=float(report.duration or 0.0),
        wasxfail=getattr(report, "wasxfail", None),
        judged=bool(extra.get("judged", True)),
        skip_kind=str(extra.get("skip_kind", "skipped")),
        convergence=convergence,
        depends_on=str(extra.get("depends_on", "")),
    )


def _reason(report: pytest.TestReport) -> str:
    """The one-line reason of a report: the skip reason, or the exception line of a failure."""
    if report.passed:
        return ""
    longrepr = report.longrepr
    if report.skipped:
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return masker.mask(reason.removeprefix("Skipped: "))
    crash = getattr(longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) if crash is not None else None
    if not message:
        lines = [line for line in report.longreprtext.strip().splitlines() if line.strip()]
        message = lines[-1] if lines else "failed"
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    return masker.mask(first.removeprefix("Failed: ")[:500])  # pytest.fail (gonogo.judge): the message alone
