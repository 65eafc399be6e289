"""Property tests of bad input (Hypothesis): any profile, any merge input, and gonogo answers within a bound with
a result or one line, never a crash or a wait (issue 21).

Profiles are generated as TOML text: real tables and keys with values of the right type or any other, paths to
special files (a FIFO, a folder, /dev/zero, a missing file, a file over 1 MB, /proc/version), nesting hundreds or
thousands deep, numbers of thousands of digits, long strings, ``${...}`` references, then perhaps broken (a
character in the wrong place, cut short, a line twice) or not UTF-8. Merge inputs are gate files (valid ones,
and ones with a key changed, removed or nested deep, other JSON, broken text) and Allure results.

In process (hundreds of examples): the loader returns a profile or raises ProfileError with one line naming the
profile; ``gonogo.merge`` exits 0 or 1 having written a verdict file of the schema, or 4 with one line; each
within its time bound. End to end (a handful): real pytest runs exit 0, 1 or 4, print no traceback, and a
usage error is one line with a NO-GO verdict file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gonogo import merge, verdict_file
from gonogo.environment import ProfileError, load
from gonogo.probes.host import bounded
from gonogo.secrets import masker

#: what one load or one merge may take (they take milliseconds; a wait on a FIFO would take forever)
BOUND_S = 5.0
#: paths relative to the profile's folder (environments/), to the special files of :func:`special_files`
PATHS = ("../fifo", "../folder", "../link-to-fifo", "/dev/zero", "../missing", "../big", "../stack.env", "../ca.pem",
         "/proc/version", "${GX_PATH}", "${GX_UNSET}")
ENVIRON = {"PATH": "/usr/bin", "GX_A": "value-a", "GX_PATH": "../fifo", "GX_SECRET": "s3cret-Value"}


class Raw(str):
    """TOML text written as it is (deep nesting, a number too long for Python)."""


def toml(value: Any) -> str:
    """``value`` written as a TOML value (strings as JSON writes them: a lone surrogate makes broken TOML)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(toml, value)) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


names = st.text("abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12)
keys = names | st.sampled_from(["a\nb", "c\r\nd", "*"])  # quoted TOML keys may hold a line break
scalars = (st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
           | st.dates() | st.sampled_from(["${GX_A}", "${GX_UNSET}", "${GX_A:-x}", "${GX_A-x}", "${", "$$", "${GX_SECRET}",
                                            "${GX_A\nB}", "two\nlines", "*\n", "${GX_A:-\r}"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=12)
hostile = st.one_of(
    st.integers(21, 3000).map(lambda n: Raw("[" * n + "]" * n)),  # nested beyond the profile's bound
    st.integers(21, 400).map(lambda n: Raw("{ a = " * n + "1" + " }" * n)),
    st.integers(4301, 20_000).map(lambda n: Raw("9" * n)),  # a number Python will not convert
    st.integers(1000, 1_100_000).map(lambda n: "x" * n),  # a long string, perhaps a profile over 1 MB
    st.sampled_from(PATHS),
)
paths = st.sampled_from(PATHS) | st.text(max_size=20)
#: real tables and keys, each with values of its type (paths among them) or not
KEYS: dict[str, dict[str, Any]] = {
    "environment": {"name": names, "release": names, "public_domain": names, "env_file": paths, "ca_file": paths,
                    "resolve": st.dictionaries(names, names, max_size=3), "public_variables": st.lists(names, max_size=3)},
    "docker": {"host": st.sampled_from(["unix:///nowhere.sock", "ssh://deploy@127.0.0.1", "tcp://127.0.0.1:9"]),
               "compose_project": names, "ssh_key": paths, "ssh_known_hosts": paths, "compose_file": paths,
               "timeout_s": st.floats(0, 10)},
    "host": {"artefacts": st.lists(paths, max_size=3), "min_free_disk_gb": st.floats(0, 10)},
    "smoke": {"base_url": names, "user": names, "password": names, "defaults": paths, "allowed": st.booleans()},
    "rollback": {"metrics_file": paths, "target": names},
    "database": {"dsn": names, "connect_timeout_s": st.integers(0, 10)},
    "gate": {"required": st.lists(names, max_size=3),
             "waivers": st.lists(st.fixed_dictionaries({"check": keys, "reason": names, "until": st.dates()}), max_size=2)},
    "tls": {"min_days": st.integers(-5, 30), "timeout_s": st.floats(0, 10)},
}


@st.composite
def profile_texts(draw: st.DrawFn) -> bytes:
    """A profile: real tables and keys (right or wrong types, special paths, hostile values), perhaps broken."""
    lines = ['[environment]', f'release = {toml(draw(names))}']
    for table in draw(st.lists(st.sampled_from(list(KEYS)), max_size=4, unique=True)):
        if table != "environment":
            lines.append(f"[{table}]")
        for key in draw(st.lists(st.sampled_from(list(KEYS[table])), max_size=4, unique=True)):
            value = draw(st.one_of(KEYS[table][key], values, hostile) if draw(st.booleans()) else KEYS[table][key])
            lines.append(f"{key} = {toml(value)}")
    if draw(st.booleans()):
        lines.append(f"[[health]]\nname = {toml(draw(names))}\nurl = {toml(draw(names | st.just('https://a.test/')))}")
    if draw(st.integers(0, 4)) == 0:
        lines.append(f"{json.dumps(draw(keys))} = {toml(draw(values))}")  # an unknown key
    text = "\n".join(lines) + "\n"
    broken = draw(st.integers(0, 5))
    if broken == 1:  # a character in the wrong place
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["[", "]", "=", '"', "{", "\x00", "\n=", "${"])) + text[at:]
    elif broken == 2:  # cut short
        text = text[:draw(st.integers(0, len(text)))]
    elif broken == 3 and len(lines) > 1:  # a key or a table twice
        text += lines[-1] + "\n"
    return draw(st.binary(max_size=64)) if broken == 4 else text.encode()  # any bytes: perhaps not UTF-8


def special_files(root: Path) -> None:
    """The files the generated paths name, beside the profiles' folder."""
    (root / "environments").mkdir(exist_ok=True)
    for name, make in (("fifo", os.mkfifo), ("folder", Path.mkdir), ("link-to-fifo", lambda p: p.symlink_to("fifo")),
                       ("big", lambda p: p.write_bytes(b"#" * 1_100_000)),
                       ("stack.env", lambda p: p.write_text("GX_FROM_FILE=from-the-env-file\n")),
                       ("ca.pem", lambda p: p.write_text("not really a certificate\n"))):
        if not os.path.lexists(root / name):
            make(root / name)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("profiles")
    special_files(folder)
    return folder


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=profile_texts())
def test_any_profile_loads_or_is_one_line_naming_it(root: Path, text: bytes) -> None:
    (root / "environments" / "dev.toml").write_bytes(text)
    start = time.monotonic()
    try:
        bounded(lambda: load("dev", "--env", root / "environments", root, dict(ENVIRON)), BOUND_S * 2)
        event("loaded")
    except ProfileError as exc:  # anything else (RecursionError, ValueError, TimeoutError) fails the test
        message = str(exc)
        event("ProfileError")
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith("environments/dev.toml"), message
    finally:
        masker.clear()  # each example's secrets are its own
    assert time.monotonic() - start < BOUND_S


# -- gonogo.merge ------------------------------------------------------------------------------------------------
def base_document() -> dict[str, Any]:
    """A valid verdict file, as gonogo writes one for a run stopped by bad input."""
    return verdict_file.document(verdict=None, exit_code=4, env=None, phases=[], started=dt.datetime.now(dt.timezone.utc),
                                 selection={"markexpr": "", "keyword": "", "args": [], "workers": 0}, duration_s=0.0,
                                 usage_error="x")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=15)
checks = st.fixed_dictionaries({"id": names, "nodeid": names, "title": names, "subject": names,
                                "severity": st.sampled_from(["blocker", "critical", "warning"]),
                                "phases": st.lists(st.sampled_from(["predeploy", "postdeploy"]), max_size=2),
                                "runbook": st.just([]), "params": st.dictionaries(names, names, max_size=2)})
moments = st.datetimes(timezones=st.integers(-12 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))).map(
    lambda moment: moment.isoformat())


@st.composite
def gate_files(draw: st.DrawFn) -> bytes:
    """A gate file: valid (with checks, verdicts, moments), or with a key changed, removed or nested deep, or any JSON."""
    document: Any = base_document()
    document.update(verdict=draw(st.sampled_from(["GO", "GO-WITH-WARNINGS", "NO-GO"])), started_at=draw(moments),
                    finished_at=draw(moments), failed=draw(st.lists(checks, max_size=3)),
                    passed=draw(st.lists(names, max_size=3)), counts={"passed": draw(st.integers(0, 5))})
    change = draw(st.integers(0, 6))
    key = draw(st.sampled_from(sorted(document)))
    if change == 1:
        document[key] = draw(json_values)
    elif change == 2:
        del document[key]
    elif change == 3:
        depth = draw(st.integers(15, 200))
        document[key] = json.loads("[" * depth + "]" * depth)
    elif change == 4:
        document = draw(json_values)
    elif change == 5:  # beyond any JSON reader's recursion
        depth = draw(st.integers(1000, 100_000))
        return ("[" * depth + "]" * depth).encode()
    text = json.dumps(document)
    if draw(st.integers(0, 6)) == 0:
        text = text[:draw(st.integers(0, len(text)))]
    return text.encode()


results = st.one_of(st.fixed_dictionaries({"fullName": names, "attachments": st.lists(
    st.fixed_dictionaries({"source": names}), max_size=2)}), json_values).map(lambda r: json.dumps(r).encode())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(gates=st.lists(gate_files(), min_size=1, max_size=3), result=st.none() | results)
def test_any_merge_input_is_a_verdict_of_the_schema_or_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                                gates: list[bytes], result: bytes | None) -> None:
    folder = tmp_path_factory.mktemp("merge")
    paths = []
    for number, content in enumerate(gates):
        (folder / f"run{number}" / "results").mkdir(parents=True)
        (folder / f"run{number}" / "gate.json").write_bytes(content)
        if result is not None:
            (folder / f"run{number}" / "results" / "r-result.json").write_bytes(result)
        paths.append(str(folder / f"run{number}" / "gate.json"))
    out = folder / "out" / "gate.json"
    outputs, errors = io.StringIO(), io.StringIO()
    start = time.monotonic()

    with contextlib.redirect_stdout(outputs), contextlib.redirect_stderr(errors):
        code = bounded(lambda: merge.main([*paths, "-o", str(out), *(f"--results={folder / f'run{n}' / 'results'}"
                                                                      for n in range(len(gates)))]), BOUND_S * 2)

    assert time.monotonic() - start < BOUND_S
    event(f"exit {code}")
    if code == 4:
        assert errors.getvalue().startswith("gonogo merge: ") and errors.getvalue().count("\n") == 1, errors.getvalue()
        assert not out.exists()
    else:
        assert code in (0, 1) and errors.getvalue() == "", errors.getvalue()
        jsonschema.validate(json.loads(out.read_text()), merge.gate_schema(), format_checker=merge.FORMATS)


# -- end to end: real pytest runs ---------------------------------------------------------------------------------
TRACING = """
from pathlib import Path

def test_up():
    (Path(__file__).parent / "ran").write_text("yes")
"""


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(text=profile_texts())
def test_real_runs_exit_0_1_or_4_and_never_crash(run_gate, pytester: pytest.Pytester, text: bytes) -> None:
    if not (pytester.path / "test_app.py").exists():  # one project for every example
        special_files(pytester.path)
        run_gate(TRACING, profile='[environment]\nrelease = "1"\n')
    (pytester.path / "environments" / "dev.toml").write_bytes(text)
    start = time.monotonic()

    run = run_gate(None, profile=None, environ={k: v for k, v in ENVIRON.items() if k != "PATH"})

    assert time.monotonic() - start < 60
    assert run.ret in (0, 1, 4), run.log
    assert "Traceback" not in run.out + run.err and "INTERNALERROR" not in run.out + run.err, run.log
    if run.ret == 4:
        line = run.error_line()
        assert run.gate["verdict"] == "NO-GO" and run.gate["reasons"] == [f"usage error: {line.removeprefix('ERROR: ')}"]
