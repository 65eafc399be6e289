"""The gonogo pytest plugin: options, environment loading, marker validation, the gate.

Registered through the ``pytest11`` entry point. On the controller (or in a serial run) it
collects every check's facts and outcome, computes one verdict at the end of the session,
writes ``gate.json``, prints the summary and sets the exit code. On an xdist worker it only
loads the same profile (for masking and fixtures) and sends its collection back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from gonogo import __version__, allure_results, fixtures
from gonogo.checks import MARKERS, PHASES, CheckInfo, MarkerError, describe
from gonogo.environment import LoadedEnvironment, ProfileError, available, choose, load
from gonogo.gate import NO_GO, Outcome, SessionFacts, Verdict, decide
from gonogo.profile import GateSection
from gonogo.secrets import install_output_masking, masker, uninstall_output_masking
from gonogo.steps import load_steps

SCHEMA = "gonogo.gate/1"
#: the loaded environment, for the fixtures in gonogo.fixtures
ENVIRONMENT = pytest.StashKey[LoadedEnvironment | None]()
DEFAULT_GATE_FILE = "reports/gate.json"
DEFAULT_ALLURE_DIR = "reports/allure-results"
USER_PROPERTY = "gonogo_check"
CONVERGENCE_PROPERTY = fixtures.CONVERGENCE_PROPERTY


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gonogo", "gonogo release gate")
    group.addoption("--env", dest="gonogo_env", metavar="NAME",
                    help="environment to check: loads environments/NAME.toml (else GONOGO_ENV, else ini gonogo_env)")
    group.addoption("--environments-dir", dest="gonogo_environments_dir", metavar="DIR",
                    help="folder of environment profiles (default: ini gonogo_environments_dir, 'environments')")
    group.addoption("--gate-file", dest="gonogo_gate_file", metavar="PATH",
                    help=f"where the verdict is written (default: {DEFAULT_GATE_FILE} under the rootdir)")
    group.addoption("--no-gate", dest="gonogo_off", action="store_true", default=False,
                    help="plain pytest: load no environment and compute no verdict (the suite's own tests use this)")
    parser.addini("gonogo_env", "default environment when neither --env nor GONOGO_ENV is given", default=None)
    parser.addini("gonogo_environments_dir", "folder of environment profiles, relative to the rootdir",
                  default="environments")
    parser.addini("gonogo_runbook_steps", "extra STEPS.md-style files with runbook step ids", type="paths", default=[])


def _register_markers(config: pytest.Config) -> None:
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    for signature, meaning in MARKERS.items():
        if signature.split("(", 1)[0] not in known:
            config.addinivalue_line("markers", f"{signature}: {meaning}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    _register_markers(config)
    if config.option.gonogo_off:
        return
    plugin = GatePlugin(config)
    config.pluginmanager.register(plugin, "gonogo-gate")
    plugin.configure()
    config.stash[ENVIRONMENT] = plugin.env
    config.pluginmanager.register(fixtures, "gonogo.fixtures")


class GatePlugin:
    """The per-session state of the gate (one instance per process)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.rootdir = Path(str(config.rootpath))
        self.env: LoadedEnvironment | None = None
        self.checks: dict[str, CheckInfo] = {}
        self.deselected: set[str] = set()
        self.outcomes: dict[str, Outcome] = {}
        self.collection_errors: list[tuple[str, str]] = []
        self.started = dt.datetime.now(dt.timezone.utc)
        self.started_clock = time.monotonic()
        self.verdict: Verdict | None = None
        self.exit_code: int | None = None
        self.interrupted: str | None = None
        self.steps = load_steps(*[Path(p) for p in config.getini("gonogo_runbook_steps")])
        gate_file = config.option.gonogo_gate_file or DEFAULT_GATE_FILE
        self.gate_file = Path(gate_file) if Path(gate_file).is_absolute() else self.rootdir / gate_file
        self.env_source: str | None = None

    # -- start -------------------------------------------------------------------------------
    def configure(self) -> None:
        config = self.config
        option = config.option
        if not getattr(option, "allure_report_dir", None):
            option.allure_report_dir = str(self.rootdir / DEFAULT_ALLURE_DIR)
            if not self.is_worker:
                allure_results.clean(Path(option.allure_report_dir))
        if self.is_worker:
            option.clean_alluredir = False  # a worker must never delete what another one wrote
        else:
            self.gate_file.unlink(missing_ok=True)  # never leave a stale verdict behind
        install_output_masking()
        directory = option.gonogo_environments_dir or config.getini("gonogo_environments_dir")
        env_dir = Path(directory) if Path(directory).is_absolute() else self.rootdir / directory
        chosen = choose(option.gonogo_env, dict(os.environ), config.getini("gonogo_env"))
        try:
            if chosen is None:
                names = available(env_dir)
                raise ProfileError(
                    "no environment chosen: pass --env NAME, set GONOGO_ENV or the ini key gonogo_env; available: "
                    + (", ".join(names) or "none")
                )
            name, self.env_source = chosen
            self.env = load(name, self.env_source, env_dir, self.rootdir, dict(os.environ))
        except ProfileError as exc:
            message = masker.mask(str(exc))
            if not self.is_worker:
                self._write_usage_error(message)
            raise pytest.UsageError(message) from None

    def _write_usage_error(self, message: str) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self._write({
            "schema": SCHEMA, "verdict": NO_GO, "reasons": [f"usage error: {message}"], "exit_code": 4,
            "environment": None, "target_version": None, "phases": [], "selection": self._selection(),
            "counts": {}, "failed": [], "errored": [], "missing": [], "waived": [], "skipped": [],
            "expired_waivers": [], "unused_waivers": [], "converged_after_retries": [],
            "started_at": self.started.isoformat(), "finished_at": now.isoformat(),
            "duration_s": round(time.monotonic() - self.started_clock, 3), "gonogo_version": __version__,
        })

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        env = self.env
        if env is None:
            return []
        release = env.profile.environment.release or "not set"
        return [
            f"gonogo {__version__}: environment {env.name} (chosen by {env.source}), profile {env.display_path}",
            f"gonogo: target release {masker.mask(release)}, phases {', '.join(self.phases())}, "
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
                    describe(item, self.steps)
                    problem = None
                except MarkerError as exc:
                    problem = f"{item.nodeid}: {exc}"
                if problem:  # outside the except block: no chained traceback in the report
                    pytest.fail(problem, pytrace=False)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Record every collected check before -m/-k deselect any (runs first)."""
        for item in items:
            check = describe(item, self.steps)
            self.checks[item.nodeid] = check
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

    # -- running -----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        """Mask secrets in the report before anyone prints or sends it (innermost wrapper)."""
        report = yield
        if masker.active:
            if report.longrepr is not None:
                report.longrepr = _mask_in_place(report.longrepr)
            report.sections = [(title, masker.mask(body)) for title, body in report.sections]
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        """Title the check in Allure by what it verifies, and name its target."""
        check = self.checks.get(item.nodeid)
        if check is None or not getattr(self.config.option, "allure_report_dir", None):
            return
        import allure

        suffix = f" [{', '.join(check.params.values())}]" if check.params else ""
        allure.dynamic.title(masker.mask(check.title + suffix))
        if self.env is not None:
            domain = self.env.profile.environment.public_domain
            allure.dynamic.parameter("target", f"{self.env.name}" + (f" ({domain})" if domain else ""))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        props = dict((k, v) for k, v in report.user_properties if k == USER_PROPERTY)
        if USER_PROPERTY in props and report.nodeid not in self.checks:
            self.checks[report.nodeid] = CheckInfo.from_dict(props[USER_PROPERTY])
        convergence = [v for k, v in report.user_properties if k == CONVERGENCE_PROPERTY]
        current = self.outcomes.get(report.nodeid)
        status, reason = _status_of(report)
        if report.when == "setup":
            self.outcomes[report.nodeid] = Outcome(status, reason, report.duration)
        elif current is None:
            self.outcomes[report.nodeid] = Outcome(status, reason, report.duration, convergence)
        else:
            current.duration_s += report.duration
            current.convergence = convergence or current.convergence
            if report.when == "call" and current.status == "passed":
                current.status, current.reason = status, reason
            elif report.when == "teardown" and report.failed and current.status in ("passed", "skipped"):
                current.status, current.reason = "errored", f"teardown: {reason}"

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        if isinstance(excinfo.value, pytest.Session.Interrupted):  # pytest stopped itself (collection errors)
            self.interrupted = None if self.collection_errors else str(excinfo.value)
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
    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """xdist: take the collection a worker saw (all checks, and which were deselected)."""
        output = getattr(node, "workeroutput", {}).get("gonogo")
        if output:
            collected = {data["nodeid"]: CheckInfo.from_dict(data) for data in output["checks"]}
            self.checks = {**collected, **self.checks}  # collection order, not the order reports came in
            if not self.deselected:
                self.deselected.update(output["deselected"])
            self.collection_errors += [tuple(e) for e in output["collection_errors"] if tuple(e) not in self.collection_errors]
        if error:
            self.interrupted = f"xdist worker {getattr(node, 'gateway', node)} went down: {error}"

    # -- the end -----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        """Decide before anyone else reports; print the verdict after everything else (last lines)."""
        self._finish(session, exitstatus)
        yield
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None and self.verdict is not None:
            from gonogo.summary import render

            render(terminal, self.verdict, self.env, self.phases(), self._display(self.gate_file))

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            self.config.workeroutput["gonogo"] = {  # type: ignore[attr-defined]
                "checks": [c.as_dict() for c in self.checks.values()],
                "deselected": sorted(self.deselected),
                "collection_errors": [list(e) for e in self.collection_errors],
            }
            return
        if self.config.option.collectonly or self.env is None:
            return
        if session.shouldstop and not self.interrupted:
            self.interrupted = f"stopped early: {session.shouldstop}"
        facts = SessionFacts(
            checks=self.checks,
            deselected=self.deselected,
            outcomes=self.outcomes,
            collection_errors=self.collection_errors,
            phases=self.phases(),
            gate=self.env.profile.gate if self.env else GateSection(),
            today=dt.date.today(),
            interrupted=self.interrupted or (f"pytest exit status {int(exitstatus)}" if int(exitstatus) in (2, 3) and not self.collection_errors else None),
        )
        self.verdict = verdict = decide(facts)
        status = int(exitstatus)
        if verdict.verdict == NO_GO:
            # 1 for every NO-GO (also collection errors, serial or -n), but keep pytest's own
            # codes for a user interrupt (2), an internal error (3) and bad usage (4)
            user_interrupt = self.interrupted == "interrupted by the user"
            self.exit_code = status if status in (3, 4) or (status == 2 and user_interrupt) else 1
        else:
            self.exit_code = 0
        session.exitstatus = self.exit_code
        self._write(self._document(verdict))
        results_dir = Path(self.config.option.allure_report_dir)
        allure_results.write_environment(results_dir, self._environment_properties())
        allure_results.write_executor(results_dir, dict(os.environ))

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if not self.is_worker:  # gate.json is masked as it is written; the Allure results get a last scrub
            allure_results.scrub(Path(config.option.allure_report_dir))
        uninstall_output_masking()

    # -- helpers -----------------------------------------------------------------------------
    def phases(self) -> list[str]:
        """The phases this run is for: those the -m expression selects (all without -m)."""
        markexpr = self.config.option.markexpr
        if not markexpr:
            return list(PHASES)
        from _pytest.mark.expression import Expression

        try:
            expression = Expression.compile(markexpr)
        except SyntaxError:
            return list(PHASES)
        chosen = [p for p in PHASES if expression.evaluate(lambda name, /, **kw: name == p)]
        return chosen

    def _selection(self) -> dict[str, Any]:
        option = self.config.option
        return {
            "markexpr": option.markexpr or "",
            "keyword": option.keyword or "",
            "args": [masker.mask(str(a)) for a in self.config.args],
            "workers": getattr(option, "numprocesses", None) or 0,
        }

    def _document(self, verdict: Verdict) -> dict[str, Any]:
        env = self.env
        finished = dt.datetime.now(dt.timezone.utc)
        return {
            "schema": SCHEMA,
            "verdict": verdict.verdict,
            "reasons": verdict.reasons,
            "exit_code": self.exit_code,
            "environment": None if env is None else {
                "name": env.name, "source": env.source, "profile": env.display_path,
                "public_domain": env.profile.environment.public_domain,
            },
            "target_version": env.profile.environment.release if env else None,
            "phases": self.phases(),
            "selection": self._selection(),
            "counts": verdict.counts,
            "failed": verdict.failed,
            "errored": verdict.errored,
            "missing": verdict.missing,
            "waived": verdict.waived,
            "skipped": verdict.skipped,
            "expired_waivers": verdict.expired_waivers,
            "unused_waivers": verdict.unused_waivers,
            "converged_after_retries": verdict.converged_after_retries,
            "started_at": self.started.isoformat(),
            "finished_at": finished.isoformat(),
            "duration_s": round(time.monotonic() - self.started_clock, 3),
            "gonogo_version": __version__,
        }

    def _write(self, document: dict[str, Any]) -> None:
        self.gate_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.gate_file.with_name(self.gate_file.name + ".tmp")
        tmp.write_text(json.dumps(masker.mask_data(document), indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.gate_file)

    def _environment_properties(self) -> dict[str, str]:
        env = self.env
        props = {"gonogo.version": __version__, "runner": socket.gethostname()}
        if env is not None:
            props |= {
                "environment": env.name,
                "environment.source": env.source,
                "target.version": env.profile.environment.release or "not set",
                "host": env.profile.environment.public_domain or "not set",
                "phases": ",".join(self.phases()),
            }
        if self.verdict is not None:
            props["verdict"] = self.verdict.verdict
        return props

    def _display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.rootdir))
        except ValueError:
            return str(path)


def _mask_in_place(value: Any) -> Any:
    """Mask every string inside a report's longrepr: a string, a skip tuple or pytest's repr dataclasses.

    Masking the structure (not its rendered text) keeps ``reprcrash``, so the one-line reason of
    gate.json and pytest's short summary still show the exception line.
    """
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, list):
        return [_mask_in_place(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_mask_in_place(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            for f in dataclasses.fields(value):
                setattr(value, f.name, _mask_in_place(getattr(value, f.name)))
            return value
        except dataclasses.FrozenInstanceError:
            pass
    text = str(value)  # anything else (another plugin's repr): its text, when it holds a secret
    return masker.mask(text) if masker.mask(text) != text else value


def _status_of(report: pytest.TestReport) -> tuple[str, str]:
    """The status and one-line reason of one phase of a test."""
    if report.passed:
        if hasattr(report, "wasxfail"):
            return "passed", "unexpectedly passed (xpass)"
        return "passed", ""
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return "xfailed", f"expected failure: {report.wasxfail}"
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return "skipped", reason.removeprefix("Skipped: ")
    status = "failed" if report.when == "call" else "errored"
    return status, masker.mask(_one_line(report))


def _one_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) if crash is not None else None
    if not message:
        lines = [line for line in report.longreprtext.strip().splitlines() if line.strip()]
        message = lines[-1] if lines else "failed"
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    return first[:500]
