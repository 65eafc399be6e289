"""The pieces the probes, sections and checks share, each written once: the facts' base (gonogo/fact.py), the
proof of who served an answer (gonogo/served.py), the validator of a profile's regular expressions
(gonogo/sections/patterns.py) and the memo of what a probe observed (gonogo/memo.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import threading
import time
import warnings
from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import gonogo.probes
from gonogo import served
from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.memo import Memo, memo_of, memoised
from gonogo.model import Section
from gonogo.secrets import Masker
from gonogo.sections.docker import DockerSection
from gonogo.sections.frontend import FrontendPage
from gonogo.sections.health import HealthEndpoint
from gonogo.sections.patterns import Regex, regex
from gonogo.sections.traefik import TraefikRoute

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret the facts' masker knows (a masker of its own: the session's is left alone)."""
    masker = Masker()
    masker.add("hunter2-secret")
    monkeypatch.setattr("gonogo.fact.masker", masker)
    return "hunter2-secret"


# -- the facts' base ---------------------------------------------------------------------------------------------


class Answer(Observed):
    EVIDENCE_NAME = "GET {url}"

    url: str
    elapsed_ms: float
    error: str | None = None
    details: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def evidence(self) -> str:
        return self.url

    def one_line(self) -> str:
        return f"<{self.url}: {no_answer(self.elapsed_ms, self.error) if self.error else 'answered'}>"


class Plain(Observed):
    name: str
    count: int = 0
    hidden: str = dataclasses.field(default="x", repr=False)


class Growing(Observed, frozen=False):
    EVIDENCE_NAME = "rounds of {name}"

    name: str
    rounds: list[int] = dataclasses.field(default_factory=list)


def test_a_fact_is_a_frozen_dataclass_with_its_repr_and_evidence_name_masked(secret: str) -> None:
    fact = Answer(f"https://user:{secret}@shop/", 12.4, "refused")

    assert repr(fact) == "<https://user:***@shop/: no answer after 12 ms: refused>"
    assert fact.evidence_name == "GET https://user:***@shop/"
    assert fact.evidence_title() == f"GET https://user:{secret}@shop/"  # unmasked: the base masks it
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.url = "other"  # type: ignore[misc]
    assert fact == Answer(f"https://user:{secret}@shop/", 12.4, "refused")
    assert dataclasses.replace(fact, error=None).one_line() == f"<https://user:{secret}@shop/: answered>"


def test_a_fact_without_its_own_line_shows_itself_as_a_dataclass_does(secret: str) -> None:
    fact = Plain(f"a {secret}", 3, hidden="not shown")

    assert repr(fact) == "Plain(name='a ***', count=3)"


def test_a_fact_that_grows_while_it_observes_is_not_frozen() -> None:
    window = Growing("prod")
    window.rounds.append(1)
    window.name = "staging"

    assert window.evidence_name == "rounds of staging" and repr(window) == "Growing(name='staging', rounds=[1])"


def test_the_stopwatch_times_an_observation_in_milliseconds() -> None:
    watch = Stopwatch()
    time.sleep(0.02)
    first = watch.ms()

    assert 20 <= first < 2000 and watch.ms() >= first


@pytest.mark.parametrize(("what", "said"), [
    ("no answer", "no answer after 5003 ms: connection refused"),
    ("no certificate", "no certificate after 5003 ms: connection refused"),
])
def test_no_answer_says_how_long_it_waited_and_why(what: str, said: str) -> None:
    assert no_answer(5002.6, "connection refused", what) == said


def _probe_classes() -> list[type]:
    found = []
    for module in pkgutil.iter_modules(gonogo.probes.__path__, "gonogo.probes."):
        loaded = importlib.import_module(module.name)
        found += [c for c in vars(loaded).values() if inspect.isclass(c) and c.__module__ == loaded.__name__]
    return found


def test_every_fact_of_the_probes_stands_on_the_one_base() -> None:
    """A class that shows evidence is an Observed, and no Observed writes its own masked repr or evidence name."""
    classes = _probe_classes()
    facts = [c for c in classes if callable(getattr(c, "evidence", None)) and dataclasses.is_dataclass(c)]

    assert len(facts) >= 40
    assert [c.__name__ for c in facts if not issubclass(c, Observed)] == []
    observed = [c for c in classes if issubclass(c, Observed)]
    assert [c.__name__ for c in observed if "__repr__" in vars(c) or "evidence_name" in vars(c)] == []


def test_the_repeated_pieces_of_a_fact_are_written_once() -> None:
    """The no-answer text, the millisecond arithmetic and the masked evidence name are nowhere but in gonogo/fact.py
    (the masked repr of a fact: test_every_fact_of_the_probes_stands_on_the_one_base)."""
    sources = {path: path.read_text(encoding="utf-8") for folder in ("gonogo", "checks")
               for path in (ROOT / folder).rglob("*.py") if path.name != "fact.py"}
    written_again = {
        "the no-answer text": re.compile(r"after \{[^}]*elapsed_ms:\.0f\} ms: \{"),
        "milliseconds since a start": re.compile(r"(perf_counter|monotonic)\(\) - \w+\) \* 1000"),
        "a masked evidence name": re.compile(r"def evidence_name\(self\) -> str:\n\s+return masker\.mask"),
    }
    for what, shape in written_again.items():
        assert [str(p.relative_to(ROOT)) for p, text in sources.items() if shape.search(text)] == [], what


# -- what proves who served an answer ------------------------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    headers: dict[str, str]
    body: str

    def header(self, name: str) -> str | None:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower())


def test_unproven_names_each_header_and_the_body_that_did_not_hold() -> None:
    reply = Reply({"Server": "nginx", "X-App": "shop 1.2"}, "<html>\n  maintenance  </html>")

    assert served.unproven(reply, {"x-app": r"^shop ", "Server": "^traefik", "X-Served-By": "web"}, "<title>Shop") == [
        "Server: 'nginx' (expected to match '^traefik')",
        "no X-Served-By header",
        "the body does not match '<title>Shop': '<html> maintenance </html>'",
    ]
    assert served.unproven(reply, {"X-App": "shop"}, "maintenance") == []


def test_unproven_keeps_each_checks_own_words() -> None:
    page = served.Wording(header="{name}: {value!r} does not match {pattern!r}",
                          body="no match for {pattern!r} in the body ({shown!r})", shown_chars=5)

    assert served.unproven(Reply({"Server": "nginx"}, "a  b c d"), {"Server": "caddy"}, "z", page) == [
        "Server: 'nginx' does not match 'caddy'", "no match for 'z' in the body ('a b c')"]


def test_a_text_alone_has_a_body_and_no_header() -> None:
    assert served.unproven('{"type": "pong"}', body='"pong"') == []
    assert served.unproven("pong", {"Upgrade": "websocket"}, "ping") == [
        "no Upgrade header", "the body does not match 'ping': 'pong'"]


# -- the regular expressions of a profile ----------------------------------------------------------------------


class Table(Section):
    body: Regex | None = None
    patterns: Annotated[list[str], regex("[t] {key}: {pattern!r} is not one ({error})")] = []
    headers: Annotated[dict[str, str], regex()] = {}


def _compiles(pattern: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)
    except re.error:
        return False
    return True


@pytest.mark.filterwarnings("ignore::FutureWarning")  # "possible nested set" of re, on "[[" and the like
@given(st.text(alphabet="()[]{}*+?\\|^$.ab-", max_size=8) | st.text(max_size=8))
def test_a_pattern_either_compiles_and_is_accepted_or_is_refused_naming_its_key(pattern: str) -> None:
    for key, data in (("body", {"body": pattern}), ("patterns", {"patterns": ["ok", pattern]}),
                      ("headers", {"headers": {"Server": pattern}})):
        if _compiles(pattern):
            assert Table.model_validate(data).model_dump(include=set(data)) == data
            continue
        with pytest.raises(ValidationError) as refused:
            Table.model_validate(data)
        [error] = refused.value.errors()
        assert error["loc"] == (key,) and repr(pattern) in error["msg"], error
        if key == "patterns":
            assert error["msg"].startswith(f"Value error, [t] patterns: {pattern!r} is not one (")


@pytest.mark.parametrize(("table", "data", "said"), [
    (HealthEndpoint, {"name": "a", "url": "https://x/", "body": "(ok"}, "'(ok' is not a regular expression: missing )"),
    (TraefikRoute, {"name": "a", "expect_headers": {"X": "[a"}}, "'[a' is not a regular expression"),
    (FrontendPage, {"name": "a", "url": "https://x/", "body": "(x"}, "not a regular expression: '(x': missing )"),
    (DockerSection, {"compose_project": "p", "log_allow": ["ok", "(", "["]}, "'(' is not a regular expression"),
])
def test_each_key_keeps_its_words(table: type[Section], data: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(said)):
        table.model_validate(data)


def test_no_section_compiles_a_users_pattern_itself() -> None:
    sections = ROOT / "gonogo" / "sections"
    compiling = [p.name for p in sections.glob("*.py")
                 if p.name != "patterns.py" and re.search(r"re\.compile\((?!r?[\"'])", p.read_text(encoding="utf-8"))]
    assert compiling == []


# -- what a probe observed, kept ----------------------------------------------------------------------------------


def test_a_memo_observes_each_key_once_whichever_thread_asks() -> None:
    memo: Memo[str, int] = Memo()
    calls: list[str] = []
    started = threading.Barrier(8)

    def observe() -> int:
        calls.append("page")
        time.sleep(0.05)  # the other threads ask meanwhile
        return len(calls)

    def ask() -> None:
        started.wait(timeout=5)
        answers.append(memo.get("page", observe))

    answers: list[int] = []
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert calls == ["page"] and answers == [1] * 8 and "page" in memo and "other" not in memo


def test_a_memo_observes_different_keys_side_by_side() -> None:
    memo: Memo[str, str] = Memo()
    both = threading.Barrier(2)

    def observe(key: str) -> str:
        both.wait(timeout=5)  # each waits for the other: observed one after the other, this would break
        return key

    answers: dict[str, str] = {}
    threads = [threading.Thread(target=lambda k=k: answers.update({k: memo.get(k, lambda: observe(k))})) for k in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert answers == {"a": "a", "b": "b"}


def test_an_observation_that_raises_is_not_kept() -> None:
    memo: Memo[str, int] = Memo()

    def fails() -> int:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        memo.get("engine", fails)
    assert "engine" not in memo and memo.get("engine", lambda: 7) == 7 and memo.get("engine", lambda: 8) == 7


class Probe:
    def __init__(self) -> None:
        self.asked = 0

    @memoised
    def listing(self) -> list[int]:
        """The folder, listed once."""
        self.asked += 1
        return [self.asked]


def test_a_memoised_attribute_is_observed_once_per_probe() -> None:
    one, other = Probe(), Probe()

    assert one.listing is one.listing and one.asked == 1
    assert other.listing == [1] and "listing" in memo_of(other)
    assert Probe.listing.__doc__ == "The folder, listed once."
