"""The HTML report and Allure's quality gate, with Allure Report 3 (npm ``allure``) on Node 22.

``python -m gonogo.report`` (``./run report``) renders the results of the last run
(``reports/allure-results/``) offline into ``reports/allure-report/`` and into one self-contained
file, ``reports/gonogo-report.html``, to attach to a release ticket; the history of each environment
(``reports/history/<env>.jsonl``) gives the trend. ``python -m gonogo.report gate`` runs
``allure quality-gate`` on the same results with the rules the run generated (``quality-gate.json``)
and exits with its code: 1 for a NO-GO, 0 otherwise.

Allure and Node 22 come from ``reports/node_modules`` (``./run setup`` installs them with npm from
``reports/package.json``: the npm package ``node@22`` carries the Node binary). Node 20, Debian's,
crashes in ``allure quality-gate`` with ``toArray is not a function``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the folder of the gonogo checkout: where reports/ holds allurerc.mjs and node_modules
PROJECT = Path(__file__).resolve().parents[1]
SINGLE_FILE = "gonogo-report.html"
HTML_DIR = "allure-report"
TIMEOUT_S = 300
#: Debian's chromium (Playwright never downloads a browser here)
CHROMIUM = "/usr/bin/chromium"


#: Allure's awesome template always adds Google Analytics (a script from googletagmanager.com and a gtag call
#: with the report's id); gonogo removes both: a release report must not call anyone when it is opened
_ANALYTICS = re.compile(r'\s*<script async src="https://www\.googletagmanager\.com/[^"]*"></script>\s*<script>\s*'
                        r'window\.dataLayer = .*?</script>', re.DOTALL)


class ReportError(Exception):
    """The report could not be made: the message says why and what to do."""


@dataclass(frozen=True)
class Tools:
    """Allure Report 3 and its Node, installed with npm in a folder (``reports/``)."""

    folder: Path

    @property
    def node(self) -> Path:
        return self.folder / "node_modules" / ".bin" / "node"

    @property
    def allure(self) -> Path:
        return self.folder / "node_modules" / "allure" / "cli.js"

    @property
    def config(self) -> Path:
        return self.folder / "allurerc.mjs"

    def problem(self) -> str | None:
        """Why these tools cannot run, or None."""
        for path in (self.node, self.allure, self.config):
            if not path.exists():
                return f"{path} is missing: run ./run setup (or: cd {self.folder} && npm install)"
        return None


def find_tools(explicit: Path | None = None) -> Tools:
    """The tools in ``explicit``, else in ./reports, else in this checkout's reports/."""
    for folder in ([explicit] if explicit else [Path.cwd() / "reports", PROJECT / "reports"]):
        tools = Tools(folder.resolve())
        if tools.problem() is None or explicit:
            return tools
    return Tools((PROJECT / "reports").resolve())


def environ(tools: Tools, gate_file: Path, history_dir: Path, single_file: bool = False) -> dict[str, str]:
    """The process environment allurerc.mjs reads (and Node 22 first on PATH)."""
    env = dict(os.environ)
    env["PATH"] = f"{tools.node.parent}{os.pathsep}{env.get('PATH', '')}"
    env["GONOGO_GATE_FILE"] = str(gate_file)
    env["GONOGO_HISTORY_DIR"] = str(history_dir)
    env["GONOGO_SINGLE_FILE"] = "1" if single_file else "0"
    env.pop("GONOGO_QUALITY_GATE_FILE", None)  # beside the gate file, as the run wrote it
    return env


def allure(tools: Tools, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the allure CLI on Node 22, bounded by TIMEOUT_S."""
    problem = tools.problem()
    if problem:
        raise ReportError(problem)
    try:
        return subprocess.run([str(tools.node), str(tools.allure), *args, "--config", str(tools.config)],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ReportError(f"allure {args[0]} did not end within {TIMEOUT_S} s") from None


def strip_analytics(page: Path) -> None:
    """Remove the analytics Allure puts in its page (the report stays the same offline)."""
    html = page.read_text(encoding="utf-8")
    stripped = _ANALYTICS.sub("", html, count=1)
    if stripped != html:
        page.write_text(stripped, encoding="utf-8")


def build(tools: Tools, reports: Path, results: list[Path], gate_file: Path) -> tuple[Path, Path]:
    """Render ``results`` into reports/allure-report/ and reports/gonogo-report.html; returns both."""
    for folder in results:
        if not folder.is_dir():
            raise ReportError(f"no results in {folder}: run the gate first (pytest --env NAME)")
    history = reports / "history"
    history.mkdir(parents=True, exist_ok=True)
    html = reports / HTML_DIR
    single_tmp = reports / ".gonogo-single-file"
    for folder in (html, single_tmp):
        shutil.rmtree(folder, ignore_errors=True)
    # the single file first: it reads the history without adding this run to it; the HTML report adds it
    for output, single in ((single_tmp, True), (html, False)):
        done = allure(tools, ["generate", *map(str, results), "-o", str(output)],
                      environ(tools, gate_file, history, single), reports)
        if done.returncode != 0:
            raise ReportError(f"allure generate failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    single_file = reports / SINGLE_FILE
    os.replace(single_tmp / "index.html", single_file)
    shutil.rmtree(single_tmp, ignore_errors=True)
    for page in (html / "index.html", single_file):
        strip_analytics(page)
    return html / "index.html", single_file


def open_offline(page: Any, path: Path) -> list[str]:
    """Open ``path`` in a Playwright page that refuses every request leaving the file; returns those tried."""
    tried: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            request_route.continue_()
        else:
            tried.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    return tried


def screenshot(single_file: Path, target: Path, timeout_s: float = 60) -> Path:
    """A picture of the single-file report's first screen, taken offline by Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    gate = json.loads(single_file.with_name("gate.json").read_text(encoding="utf-8")) if single_file.with_name("gate.json").is_file() else None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], timeout=timeout_s * 1000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_offline(page, single_file)
            page.get_by_text(gate["verdict"] if gate else "Allure").first.wait_for(timeout=timeout_s * 1000)
            page.screenshot(path=str(target))
        finally:
            browser.close()
    return target


def quality_gate(tools: Tools, reports: Path, results: list[Path], gate_file: Path) -> subprocess.CompletedProcess[str]:
    """``allure quality-gate`` on ``results`` with the rules of the run (exit 1: the gate says NO-GO)."""
    return allure(tools, ["quality-gate", *map(str, results)], environ(tools, gate_file, reports / "history"), reports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gonogo.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=["build", "gate"], default="build",
                        help="build: the HTML report and the single file (default); gate: allure quality-gate")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the reports folder (default reports)")
    parser.add_argument("--results", type=Path, action="append",
                        help="an Allure results folder (repeatable; default REPORTS/allure-results)")
    parser.add_argument("--gate-file", type=Path, help="the verdict file (default REPORTS/gate.json)")
    parser.add_argument("--tools", type=Path, help="the folder with allurerc.mjs and node_modules (default reports/)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="build: also keep a picture of the single file's first screen (headless Chromium, offline)")
    options = parser.parse_args(argv)
    reports = options.reports.resolve()
    results = [p.resolve() for p in (options.results or [reports / "allure-results"])]
    gate_file = (options.gate_file or reports / "gate.json").resolve()
    tools = find_tools(options.tools)
    try:
        if options.what == "gate":
            done = quality_gate(tools, reports, results, gate_file)
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)
            print(f"allure quality-gate: exit {done.returncode} ({'NO-GO' if done.returncode else 'no blocking problem'})")
            return done.returncode
        html, single = build(tools, reports, results, gate_file)
    except ReportError as exc:
        print(f"gonogo report: {exc}", file=sys.stderr)
        return 2
    print(f"Allure report: {html}\nsingle-file report: {single}")
    if options.screenshot:
        try:
            print(f"first screen: {screenshot(single, options.screenshot.resolve())}")
        except Exception as exc:  # a picture is a convenience: the report is made
            print(f"gonogo report: no screenshot ({type(exc).__name__}: {exc})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
