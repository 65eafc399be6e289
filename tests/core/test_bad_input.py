"""Bad input at the start of a run: one line naming the file or option, exit code 4, no traceback.

The verdict file (``--gate-file``), the runbook steps files (ini ``gonogo_runbook_steps``), the env file
a profile names, ``${...}`` that gonogo cannot expand, unusable profile files, and a value option written
with a space that moved pytest's rootdir.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from gonogo.probes.host import bounded

PASSING = "def test_up():\n    pass\n"
#: a check that leaves a trace when it runs: bad input must stop the run before any check
TRACING = """
from pathlib import Path

def test_up():
    (Path(__file__).parent / "ran").write_text("yes")
"""
SUPPORTED = ["${VAR}", "${VAR:-default}", "$$"]


# -- the verdict file (--gate-file) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("existing", "args", "expected"),
    [  # existing: what to create in the project first, name -> file content (None: a folder)
        pytest.param({"afile": "text"}, ["--gate-file=afile/gate.json"],
                     ["--gate-file afile/gate.json", "afile is a file, not a folder"], id="parent-is-a-file"),
        pytest.param({"out": None}, ["--gate-file=out"], ["--gate-file out", "is a directory", "out/gate.json"],
                     id="path-is-a-directory"),
        pytest.param({}, ["--gate-file=/proc/gonogo/gate.json"],
                     ["--gate-file /proc/gonogo/gate.json", "cannot write in /proc"], id="under-proc"),
        pytest.param({"reports": "text"}, [], ["reports/gate.json (default of --gate-file)", "not a folder"],
                     id="default-under-a-file"),
    ],
)
def test_unusable_gate_file_stops_the_run_before_any_check(run_gate, pytester, existing, args, expected):
    for name, content in existing.items():
        if content is None:
            (pytester.path / name).mkdir()
        else:
            (pytester.path / name).write_text(content)

    run = run_gate(TRACING, *args)

    line = run.error_line()
    assert line.startswith("ERROR: "), run.log
    for fragment in expected:
        assert fragment in line, run.log
    assert not (pytester.path / "ran").exists(), "a check ran before the verdict file was checked"
    for name, content in existing.items():  # left as they were
        path = pytester.path / name
        assert path.is_dir() if content is None else path.read_text() == content


def test_writable_problem_probes_for_real(tmp_path):
    from gonogo.verdict_file import writable_problem

    (tmp_path / "afile").write_text("x")
    assert writable_problem(tmp_path / "new" / "deeper" / "gate.json") is None
    assert writable_problem(tmp_path / "gate.json") is None
    assert "is a directory" in (writable_problem(tmp_path) or "")
    assert "not a folder" in (writable_problem(tmp_path / "afile" / "gate.json") or "")
    assert "cannot write in /proc" in (writable_problem(Path("/proc/gate.json")) or "")
    assert "not a regular file" in (writable_problem(Path("/dev/null")) or "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # the probe leaves nothing behind


# -- runbook steps files (ini gonogo_runbook_steps) -------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "expected"),
    [("missing", "does not exist"), ("directory", "is a directory"), ("binary", "cannot read it")],
)
def test_unreadable_runbook_steps_file_is_one_line(run_gate, pytester, kind, expected):
    steps = pytester.path / "steps.md"
    if kind == "directory":
        steps.mkdir()
    elif kind == "binary":
        steps.write_bytes(b"| BTQ-1 | pre | \xff\xfe |\n")

    run = run_gate(TRACING, "-o", "gonogo_runbook_steps=steps.md")

    line = run.error_line()
    assert line.startswith("ERROR: ini gonogo_runbook_steps: "), run.log
    assert str(pytester.path / "steps.md") in line, run.log
    assert expected in line, run.log
    assert not (pytester.path / "ran").exists()
    assert run.gate["verdict"] == "NO-GO"
    assert run.gate["reasons"] == [f"usage error: {line.removeprefix('ERROR: ')}"]


# -- the env file a profile names -------------------------------------------------------------------
ENV_FILE_WITH_DEFAULTS = '[environment]\nenv_file = "../stack.env"\nrelease = "${GX_RELEASE:-1.0}"\n'


def test_missing_env_file_is_a_no_go_even_when_every_variable_has_a_default(run_gate, pytester):
    run = run_gate(TRACING, profile=ENV_FILE_WITH_DEFAULTS)

    line = run.error_line()
    assert "environments/dev.toml: [environment] env_file" in line, run.log
    assert str(pytester.path / "stack.env") in line, run.log
    assert "does not exist" in line, run.log
    assert not (pytester.path / "ran").exists()
    assert run.gate["verdict"] == "NO-GO"
    assert run.gate["exit_code"] == 4


def load_profile(tmp_path, text: str | bytes, environ: dict[str, str] | None = None):
    """Write environments/dev.toml and load it as the plugin does."""
    from gonogo.environment import load

    folder = tmp_path / "environments"
    folder.mkdir(exist_ok=True)
    profile = folder / "dev.toml"
    profile.write_bytes(text if isinstance(text, bytes) else text.encode())
    return load("dev", "--env", folder, tmp_path, {"PATH": "/usr/bin", **(environ or {})})


def profile_error(tmp_path, text: str | bytes, environ: dict[str, str] | None = None) -> str:
    from gonogo.environment import ProfileError

    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path, text, environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_env_file_missing_or_a_directory(tmp_path, kind):
    if kind == "directory":
        (tmp_path / "stack.env").mkdir()

    message = profile_error(tmp_path, ENV_FILE_WITH_DEFAULTS)

    assert message.startswith("environments/dev.toml: [environment] env_file: ")
    assert str(tmp_path / "stack.env") in message
    assert ("does not exist" if kind == "missing" else "is a directory") in message


# -- ${...} that gonogo cannot expand ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key", "shown"),
    [
        pytest.param('[environment]\nrelease = "${GX_A-b}"\n', "[environment] release", "${GX_A-b}", id="dash-default"),
        pytest.param('[environment]\nrelease = "v${GX_A:?set it}"\n', "[environment] release", "${GX_A:?set it}",
                     id="error-if-unset"),
        pytest.param('[environment]\nrelease = "${GX_A:-${GX_B}}"\n', "[environment] release", "${GX_A:-${GX_B}}",
                     id="nested"),
        pytest.param('[environment]\nrelease = "1"\n[[health]]\nname = "a"\nurl = "https://a/"\n'
                     '[[health]]\nname = "b"\nurl = "https://${GX_HOST/"\n', "[[health]] #2 url", "${GX_HOST/",
                     id="unclosed-in-array-of-tables"),
    ],
)
def test_unsupported_reference_names_key_and_text(tmp_path, text, key, shown):
    message = profile_error(tmp_path, text, {"GX_A": "set", "GX_B": "set"})

    assert message.startswith(f"environments/dev.toml: {key}: "), message
    assert f"'{shown}'" in message
    for form in SUPPORTED:
        assert form in message


def test_unsupported_reference_under_a_secret_key_does_not_show_its_default(tmp_path):
    message = profile_error(tmp_path, '[environment]\nrelease = "1"\n[database]\n'
                                      'dsn = "postgresql://app:${GX_PW-hunter2}@db/shop"\n')

    assert message.startswith("environments/dev.toml: [database] dsn: ")
    assert "${GX_PW" in message
    assert "hunter2" not in message


def test_reference_inside_an_env_file_value(tmp_path):
    (tmp_path / "stack.env").write_text("GX_DSN=postgresql://app:${GX_PW}@db/shop\nGX_PW=hunter2\n")
    text = '[environment]\nenv_file = "../stack.env"\nrelease = "1"\n[database]\ndsn = "${GX_DSN}"\n'

    message = profile_error(tmp_path, text)

    assert message.startswith("environments/dev.toml: [database] dsn uses ${GX_DSN}"), message
    assert str(tmp_path / "stack.env") in message
    for form in SUPPORTED:
        assert form in message
    assert "postgresql" not in message and "hunter2" not in message  # the value is a secret: never shown


def test_missing_variable_also_names_the_env_file(tmp_path):
    (tmp_path / "stack.env").write_text("GX_OTHER=1\n")

    message = profile_error(tmp_path, '[environment]\nenv_file = "../stack.env"\n[database]\ndsn = "${GX_DSN}"\n')

    assert message.startswith("environments/dev.toml: [database] dsn uses ${GX_DSN}, which is not set"), message
    assert f"or in the env file {tmp_path / 'stack.env'}" in message


def test_dollar_dollar_stays_a_literal_dollar(tmp_path):
    (tmp_path / "stack.env").write_text("GX_NOTE=plain\n")
    text = ('[environment]\nenv_file = "../stack.env"\nrelease = "$${GX_RELEASE}"\n'
            'description = "${GX_NOTE} costs $$5"\n')

    settings = load_profile(tmp_path, text).profile.environment

    assert settings.release == "${GX_RELEASE}"
    assert settings.description == "plain costs $5"


# -- the profile file itself ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(b"", "is empty", id="zero-bytes"),
        pytest.param(b"# nothing yet\n\n   \n# still nothing\n", "is empty", id="only-comments"),
        pytest.param(b'[environment]\nrelease = "1"\n' + b"#" * 1_100_000 + b"\n", "1 MB", id="over-1-MB"),
    ],
)
def test_unusable_profile_file(tmp_path, text, expected):
    message = profile_error(tmp_path, text)

    assert message.startswith("environments/dev.toml: "), message
    assert expected in message


def test_profile_that_is_a_directory(tmp_path):
    from gonogo.environment import ProfileError, load

    (tmp_path / "environments" / "dev.toml").mkdir(parents=True)
    with pytest.raises(ProfileError) as caught:
        load("dev", "--env", tmp_path / "environments", tmp_path, {})

    assert str(caught.value).startswith("environments/dev.toml: is a directory"), caught.value


# -- an option value written with a space that moved pytest's rootdir ------------------------------
PROJECT_INI = """
[tool.pytest.ini_options]
testpaths = ["checks"]
gonogo_env = "dev"
"""


@pytest.fixture
def project(pytester, inventory_of):
    """A project whose pyproject.toml matters (testpaths, gonogo_env), with one passing check and its inventory."""
    pytester.makepyprojecttoml(PROJECT_INI)
    (pytester.path / "checks").mkdir()
    (pytester.path / "checks" / "test_app.py").write_text(PASSING)
    (pytester.path / "test_stray.py").write_text("def test_stray():\n    assert False, 'outside testpaths'\n")
    inventory_of()
    return pytester


@pytest.fixture
def outside(tmp_path_factory):
    """A folder of profiles outside the project."""
    folder = tmp_path_factory.mktemp("outside") / "profiles"
    folder.mkdir()
    (folder / "dev.toml").write_text('[environment]\nrelease = "9.9-outside"\n')
    return folder


@pytest.mark.parametrize(
    ("option", "where"),
    [("--environments-dir", "command line"), ("--environments-dir", "PYTEST_ADDOPTS"), ("--alluredir", "command line")],
)
def test_option_with_a_space_that_moves_the_rootdir(project, outside, monkeypatch, option, where):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    stale = project.path / "reports" / "gate.json"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text('{"verdict": "GO"}')  # from an earlier run, where the user means the verdict to be
    if where == "PYTEST_ADDOPTS":
        monkeypatch.setenv("PYTEST_ADDOPTS", f"{option} {outside}")
        result = project.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    else:
        result = project.runpytest_subprocess("-p", "no:cacheprovider", option, str(outside), timeout=120)

    lines = [line for line in (result.stdout.str() + result.stderr.str()).splitlines() if line.strip()]
    log = "\n".join(lines)
    assert result.ret == 4, log
    assert len(lines) == 1 and "Traceback" not in log, log
    assert lines[0].startswith(f"ERROR: {option} {outside}: "), log
    assert "rootdir" in lines[0] and str(project.path) in lines[0], log
    assert f"{option}={outside}" in lines[0], log
    assert not list(outside.parent.rglob("reports")), "nothing may be written under the wrong rootdir"
    verdict = json.loads(stale.read_text())  # the stale GO was replaced where the user meant the verdict
    assert (verdict["verdict"], verdict["exit_code"]) == ("NO-GO", 4), verdict
    assert verdict["reasons"] == [f"usage error: {lines[0].removeprefix('ERROR: ')}"]


def test_environments_dir_with_equals_outside_the_project_works(project, outside):
    result = project.runpytest_subprocess("-p", "no:cacheprovider", f"--environments-dir={outside}", timeout=120)

    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*target release 9.9-outside*", "collected 1 item"])
    assert (project.path / "reports" / "gate.json").is_file()


def test_space_form_inside_the_project_keeps_working(project):
    """``--env dev`` (even with a folder named dev), ``--gate-file out/gate.json``, ``--environments-dir profiles``."""
    (project.path / "dev").mkdir()
    (project.path / "out").mkdir()
    (project.path / "out" / "gate.json").write_text("{}")  # an existing path: pytest does look at it
    (project.path / "profiles").mkdir()
    (project.path / "profiles" / "dev.toml").write_text('[environment]\nrelease = "1.0-profiles"\n')

    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--env", "dev", "--gate-file", "out/gate.json",
                                          "--environments-dir", "profiles", timeout=120)

    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["*target release 1.0-profiles*", "collected 1 item"])
    assert '"GO"' in (project.path / "out" / "gate.json").read_text()


# -- nesting and huge values (issue 21, item 6) ---------------------------------------------------------
DEEP = "[" * 50_000 + "]" * 50_000


def test_profile_nested_50000_levels_deep_is_one_line_and_a_no_go(run_gate, pytester):
    stale = pytester.path / "reports" / "gate.json"
    stale.parent.mkdir()
    stale.write_text('{"verdict": "GO"}')

    run = run_gate(TRACING, profile=f'[environment]\nrelease = "1"\n\n[host]\nx = {DEEP}\n')

    line = run.error_line()  # before: RecursionError, INTERNALERROR, exit 3, no NO-GO file
    assert line.startswith("ERROR: environments/dev.toml:5: nested more than 20 levels deep"), run.log
    assert not (pytester.path / "ran").exists()
    assert (run.gate["verdict"], run.gate["exit_code"]) == ("NO-GO", 4)
    assert run.gate["reasons"] == [f"usage error: {line.removeprefix('ERROR: ')}"]


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param('[environment]\nrelease = "1"\n[smoke]\ndata = ' + "{ a = " * 25 + "1" + " }" * 25 + "\n",
                 "environments/dev.toml: [smoke] data: nested more than 20 levels deep", id="25-inline-tables"),
    pytest.param('[environment]\nrelease = "1"\nx = ' + "[" * 300 + "]" * 300 + "\n",
                 "environments/dev.toml: [environment] x: nested more than 20 levels deep", id="300-lists"),
    pytest.param('[environment]\nrelease = "1"\n' + "".join(f"[{'.'.join(['t'] * n)}]\n" for n in range(1, 30)),
                 "environments/dev.toml: [t] t: nested more than 20 levels deep", id="29-dotted-tables"),
    pytest.param('[environment]\nrelease = "1"\n\n[host]\nmin_free_gb = ' + "9" * 5000 + "\n",
                 "environments/dev.toml:5: a value cannot be read: Exceeds the limit (4300 digits)", id="5000-digits"),
])
def test_profile_too_deep_or_a_number_too_long_names_the_key_or_line(tmp_path, text, expected):
    message = profile_error(tmp_path, text)

    assert message.startswith(expected), message


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param('[environment]\nrelease = "1"\n"a\\nb" = 1\n', "unknown key 'a\\nb' in [environment]", id="a-key"),
    pytest.param('[environment]\nrelease = "${GX_A\\nB}"\n', "cannot expand '${GX_A\\nB}'", id="a-reference"),
])
def test_a_line_break_in_a_quoted_key_or_value_stays_one_line(tmp_path, text, expected):
    """Found by tests/core/test_input_properties.py: the message quoted the key or value with its line break."""
    message = profile_error(tmp_path, text)  # asserts one line

    assert expected in message, message


# -- the env file's size (issue 21, item 5) -------------------------------------------------------------
ENV_FILE_PROFILE = '[environment]\nenv_file = "../stack.env"\nrelease = "${GX_RELEASE:-1.0}"\n'


def test_env_file_of_20000_values_is_refused_in_one_line(run_gate, pytester):
    (pytester.path / "stack.env").write_text("".join(f"GX_V{i}=value-{i:08d}\n" for i in range(20_000)))

    start = time.monotonic()
    run = run_gate(TRACING, profile=ENV_FILE_PROFILE)

    line = run.error_line()
    assert line.startswith(f"ERROR: environments/dev.toml: [environment] env_file: {pytester.path / 'stack.env'} "
                           "holds 20000 variables, more than 1000"), run.log
    assert time.monotonic() - start < 30, "refused before masking 20,000 secrets"
    assert (run.gate["verdict"], run.gate["exit_code"]) == ("NO-GO", 4)


@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda p: p.write_text("".join(f"GX_V{i}=v\n" for i in range(1001))), "holds 1001 variables, more than 1000",
                 id="1001-values"),
    pytest.param(lambda p: p.write_text("GX_A=" + "x" * 1_000_001 + "\n"), "is larger than 1000 kB", id="over-1-MB"),
    pytest.param(os.mkfifo, "is a FIFO, not a regular file", id="fifo"),
    pytest.param(lambda p: p.symlink_to("/dev/zero"), "is a character device, not a regular file", id="dev-zero"),
])
def test_env_file_bounded_and_never_waited_on(tmp_path, make, expected):
    make(tmp_path / "stack.env")

    message = bounded(lambda: profile_error(tmp_path, ENV_FILE_PROFILE), 10)  # a FIFO would block: TimeoutError

    shown = (tmp_path / "stack.env").resolve()  # /dev/zero for the link to it
    assert message.startswith(f"environments/dev.toml: [environment] env_file: {shown} "), message
    assert expected in message, message


def test_env_file_of_1000_values_is_read(tmp_path):
    (tmp_path / "stack.env").write_text("".join(f"GX_V{i}=value-{i:08d}\n" for i in range(1000)))

    assert len(load_profile(tmp_path, ENV_FILE_PROFILE).env_file_values) == 1000


# -- files of the profile that configure gonogo itself (issue 21, item 9) -------------------------------
def test_ca_file_that_is_a_fifo_stops_the_run_at_once(run_gate, pytester, health_module):
    """The real health checks against an https endpoint: before, their TLS context waited on the FIFO forever."""
    os.mkfifo(pytester.path / "ca.pem")
    profile = ('[environment]\nrelease = "1"\nca_file = "../ca.pem"\n\n'
               '[[health]]\nname = "ready"\nurl = "https://127.0.0.1:9/health/"\ntimeout_s = 1\n')

    start = time.monotonic()
    run = run_gate({**health_module, "test_app.py": TRACING}, profile=profile)

    line = run.error_line()  # before: the run hung forever
    assert line == (f"ERROR: environments/dev.toml: [environment] ca_file: {pytester.path / 'ca.pem'} is a FIFO, not a "
                    "regular file: point the key at a readable file (a relative path starts at the profile's folder) "
                    "or remove it"), run.log
    assert time.monotonic() - start < 30
    assert not (pytester.path / "ran").exists()
    assert (run.gate["verdict"], run.gate["exit_code"]) == ("NO-GO", 4)


SSH_DOCKER = '[docker]\nhost = "ssh://deploy@127.0.0.1"\ncompose_project = "shop"\n'


@pytest.mark.parametrize("key", ["environment.ca_file", "docker.ssh_key", "docker.ssh_known_hosts"])
@pytest.mark.parametrize(("make", "expected"), [
    pytest.param(lambda p: None, "does not exist", id="missing"),
    pytest.param(lambda p: p.mkdir(), "is a directory, not a regular file", id="directory"),
    pytest.param(os.mkfifo, "is a FIFO, not a regular file", id="fifo"),
    pytest.param(lambda p: p.symlink_to("/dev/zero"), "is a character device, not a regular file", id="dev-zero"),
    pytest.param(lambda p: p.write_bytes(b"#" * 1_000_001), "is larger than 1000 kB", id="over-1-MB"),
])
def test_gate_files_of_the_profile_are_checked_at_load(tmp_path, key, make, expected):
    table, name = key.split(".")
    make(tmp_path / "the-file")
    text = '[environment]\nrelease = "1"\n' + ("" if table == "environment" else SSH_DOCKER)
    text = text.replace(f"[{table}]\n", f'[{table}]\n{name} = "../the-file"\n')

    message = bounded(lambda: profile_error(tmp_path, text), 10)

    shown = (tmp_path / "the-file").resolve()  # /dev/zero for the link to it
    assert message.startswith(f"environments/dev.toml: [{table}] {name}: {shown} {expected}"), message


def test_ssh_files_are_not_checked_for_a_local_engine(tmp_path):
    text = ('[environment]\nrelease = "1"\n[docker]\nhost = "unix:///var/run/docker.sock"\ncompose_project = "shop"\n'
            'ssh_key = "../nowhere"\n')

    assert load_profile(tmp_path, text).profile.docker is not None  # used only for ssh://: not this run's concern


# -- output paths, checked before anything is written or deleted (issue 21, item 8) ---------------------
@pytest.mark.parametrize(
    ("args", "expected", "results_untouched"),
    [
        pytest.param(["--alluredir=afile"], ["--alluredir afile: ", "afile is a file, not a folder"], True,
                     id="alluredir-a-file"),
        pytest.param(["--alluredir=/proc/version"], ["--alluredir /proc/version: /proc/version is a file, not a folder"],
                     True, id="alluredir-proc-version"),
        pytest.param(["--alluredir=afile/results"], ["--alluredir afile/results: ", "afile is a file, not a folder"],
                     True, id="alluredir-under-a-file"),
        pytest.param(["--junitxml=afile/junit.xml"], ["--junitxml afile/junit.xml: ", "afile is a file, not a folder"],
                     False, id="junitxml-under-a-file"),
        pytest.param(["--log-file=afile/run.log"], ["--log-file afile/run.log: ", "afile is a file, not a folder"],
                     False, id="log-file-under-a-file"),
        pytest.param(["-o", "log_file=afile/run.log"], ["ini log_file afile/run.log: ", "afile is a file, not a folder"],
                     False, id="ini-log-file-under-a-file"),
        pytest.param(["-m", "predeploy", "--baseline=afile/base.json"],
                     ["--baseline afile/base.json: ", "afile is a file, not a folder"], False, id="baseline-under-a-file"),
    ],
)
def test_unusable_output_path_is_one_line_before_anything_is_deleted(run_gate, pytester, args, expected,
                                                                     results_untouched):
    (pytester.path / "afile").write_text("a file")
    old_result = pytester.path / "reports" / "allure-results" / "old-result.json"
    old_result.parent.mkdir(parents=True)
    old_result.write_text("{}")
    (pytester.path / "reports" / "gate.json").write_text('{"verdict": "GO"}')

    run = run_gate(TRACING, *args)

    line = run.error_line()  # before: INTERNALERROR, exit 3 (allure, log file) or a traceback after the verdict
    assert line.startswith("ERROR: "), run.log
    for fragment in expected:
        assert fragment in line, run.log
    assert not (pytester.path / "ran").exists(), "a check ran before the outputs were checked"
    assert (run.gate["verdict"], run.gate["exit_code"]) == ("NO-GO", 4)  # the stale GO is replaced, not left
    assert run.gate["reasons"] == [f"usage error: {line.removeprefix('ERROR: ')}"]
    assert old_result.exists() or not results_untouched
    assert (pytester.path / "afile").read_text() == "a file"


def test_baseline_of_a_postdeploy_run_is_only_read(run_gate, pytester):
    """A postdeploy run reads the baseline (a predeploy run wrote it): an unwritable place is no concern of its."""
    (pytester.path / "afile").write_text("a file")

    run = run_gate("import pytest\n\n@pytest.mark.postdeploy\ndef test_up():\n    pass\n", "-m", "postdeploy",
                   "--baseline=afile/base.json")

    assert (run.ret, run.gate["verdict"]) == (0, "GO"), run.log


@pytest.mark.parametrize(
    ("sessions", "key", "shown"),
    [
        pytest.param('tables = ["shop sale"]', "[database.sessions] tables", "'shop sale' is not a table name",
                     id="table-name"),
        pytest.param('schemas = ["public.audit"]', "[database.sessions] schemas", "'public.audit' is not a schema name",
                     id="schema-name"),
        pytest.param("max_connections_used_percent = 120", "[database.sessions] max_connections_used_percent", "100",
                     id="percent-over-100"),
        pytest.param("lock_max_s = 0", "[database.sessions] lock_max_s", "greater than 0", id="zero-threshold"),
        pytest.param("idle_max_s = 60", "unknown key 'idle_max_s' in [database.sessions]", "did you mean",
                     id="unknown-key"),
    ],
)
def test_a_broken_sessions_table_names_its_key(tmp_path, sessions, key, shown):
    """[database.sessions] (NPR-7): each refusal is one line naming the file, the key and the value at fault."""
    message = profile_error(tmp_path, '[environment]\nrelease = "1"\n[database]\ndsn = "postgresql://ro@db/shop"\n'
                                      f"[database.sessions]\n{sessions}\n")

    assert message.startswith(f"environments/dev.toml: {key}"), message
    assert shown in message, message
