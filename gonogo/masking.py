"""Where secrets are masked on their way out: log records (and their tracebacks), pytest's value
reprs, test and collection reports (user properties too), node ids, the terminal and what a check writes to
sys.stdout/sys.stderr (shown directly with -s or --capture=tee-sys), pytest's JUnit XML, Allure's files.

:mod:`gonogo.secrets` knows what is secret (the masker); this module wires it into every output
path of a run. Installed by the plugin at configure time and removed at unconfigure.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable, Generator, Iterable
from typing import Any, TextIO

import pytest

from gonogo import allure_results
from gonogo.secrets import masker

try:  # private API of pytest: the repr it shortens ('abc...xyz') in assertions and tracebacks
    from _pytest._io.saferepr import SafeRepr, _ellipsize
except ImportError:  # pragma: no cover - a pytest that moved it: the terminal/report masking still applies
    SafeRepr = None  # type: ignore[assignment,misc]
    _ellipsize = None  # type: ignore[assignment]
try:  # private API of pytest >= 9.1: the structured node id behind Node.nodeid
    from _pytest.nodeid import NodeId
except ImportError:  # pragma: no cover
    NodeId = None  # type: ignore[assignment,misc]
try:  # private API of pytest: the JUnit XML writer, where record_testsuite_property and record_xml_attribute write
    from _pytest.junitxml import xml_key
except ImportError:  # pragma: no cover - a pytest that moved it: user properties are still masked in each report
    xml_key = None  # type: ignore[assignment]

#: node ids renamed at collection because they held a secret: {the id as generated: the masked one}
RENAMED = pytest.StashKey[dict[str, str]]()

_original_factory = logging.getLogRecordFactory()
#: formats a record's traceback once, masked, before any handler's formatter sees the record
_traceback_formatter = logging.Formatter()


def _masking_record_factory(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _original_factory(*args, **kwargs)
    if masker.active:
        _mask_message(record)
        if record.exc_info and not record.exc_text:  # log.exception: formatters reuse exc_text
            record.exc_text = masker.mask(_traceback_formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = masker.mask(record.stack_info)
    return record


def _mask_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string is the caller's problem, not ours
        return
    masked = masker.mask(message)
    if masked != message:
        record.msg, record.args = masked, ()


def _masking_saferepr(original: Callable[[Any, object], str]) -> Callable[[Any, object], str]:
    """Wrap pytest's SafeRepr.repr: mask the whole repr *before* pytest shortens it.

    pytest shortens long values ('abc...xyz') in assertion lines and traceback arguments; a
    shortened secret would no longer match any mask, so the full repr is masked first.
    """

    def masked(self: Any, x: object) -> str:
        if masker.active:
            try:
                full = repr(x)
            except Exception:
                return original(self, x)
            hidden = masker.mask(full)
            if hidden != full:
                maxsize = getattr(self, "maxsize", None)
                return _ellipsize(hidden, maxsize) if maxsize is not None else hidden
        return original(self, x)

    masked.__wrapped__ = original  # type: ignore[attr-defined]
    return masked


def install(config: pytest.Config) -> None:
    """Mask secrets in log records (live and captured logs), pytest's value reprs, Allure's files,
    and, through :class:`OutputMasking`, collection reports, node ids and the terminal."""
    logging.setLogRecordFactory(_masking_record_factory)
    if SafeRepr is not None and not hasattr(SafeRepr.repr, "__wrapped__"):
        SafeRepr.repr = _masking_saferepr(SafeRepr.repr)  # type: ignore[method-assign,assignment]
    allure_results.mask_at_source()
    config.pluginmanager.register(OutputMasking(), "gonogo-masking")


def mask_std_streams(config: pytest.Config) -> None:
    """Mask what is written to sys.stdout and sys.stderr (before pytest's capture starts, so its tee and the
    streams it restores are masked too); put back when the run ends."""
    originals = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (stream if isinstance(stream, MaskingFile) else MaskingFile(stream) for stream in originals)
    masked = sys.stdout, sys.stderr

    def restore() -> None:  # registered before pytest's capture: it runs after the capture put these back
        if (sys.stdout, sys.stderr) == masked:
            sys.stdout, sys.stderr = originals

    config.add_cleanup(restore)


def uninstall() -> None:
    logging.setLogRecordFactory(_original_factory)
    original = getattr(SafeRepr.repr, "__wrapped__", None) if SafeRepr is not None else None
    if original is not None:
        SafeRepr.repr = original  # type: ignore[method-assign]
    allure_results.unmask_at_source()


class OutputMasking:
    """The hooks that mask what pytest itself builds: collection errors, node ids, the terminal."""

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(self, collector: pytest.Collector) -> Generator[None, Any, Any]:
        """A module that raised while imported: mask its error before anyone prints or sends it."""
        report = yield
        mask_report(report)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> Generator[None, None, None]:
        """Before anyone records a node id (ids built from a URL with a token in it); what was renamed is kept
        (:data:`RENAMED`) for whoever recorded an id earlier."""
        session.config.stash[RENAMED] = mask_node_ids(items)
        return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Before pytest writes its JUnit XML: what checks recorded into it directly (record_xml_attribute,
        record_testsuite_property), and a last pass over every element it holds."""
        xml = session.config.stash.get(xml_key, None) if xml_key is not None and masker.active else None
        if xml is None:
            return
        xml.global_properties = [(name, masker.mask(value)) for name, value in xml.global_properties]
        for reporter in xml.node_reporters_ordered:
            if "attrs" in vars(reporter):  # not finalized (a check that never finished): its parts
                reporter.attrs = {name: masker.mask(value) for name, value in reporter.attrs.items()}
                reporter.properties = [(name, masker.mask(value)) for name, value in reporter.properties]
                elements = reporter.nodes
            else:  # finalized: the element it will write
                elements = [reporter.to_xml()]
            for element in (node for root in elements for node in root.iter()):
                element.attrib.update({name: masker.mask(value) for name, value in element.attrib.items()})
                element.text = masker.mask(element.text) if element.text else element.text

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Everything written to the terminal from here on passes through the masker."""
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        writer = getattr(terminal, "_tw", None)
        if writer is not None and not isinstance(getattr(writer, "_file", None), MaskingFile):
            writer._file = MaskingFile(writer._file)


class MaskingFile:
    """A terminal's file whose every write is masked."""

    def __init__(self, file: TextIO) -> None:
        self._file = file

    def write(self, text: str) -> int:
        return self._file.write(masker.mask(text) if isinstance(text, str) else text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def mask_node_ids(items: list[pytest.Item]) -> dict[str, str]:
    """Rename the checks whose node id holds a secret; a masked id that is taken gets ``-2``, ``-3``.
    Returns {node id as generated: its masked one}."""
    renamed: dict[str, str] = {}
    if not masker.active:
        return renamed
    taken = {item.nodeid for item in items}
    for item in items:
        nodeid, name = masker.mask(item.nodeid), masker.mask(item.name)
        if nodeid == item.nodeid:
            continue
        number = 1
        while _numbered(nodeid, number) in taken:
            number += 1
        taken.add(_numbered(nodeid, number))
        renamed[item.nodeid] = _numbered(nodeid, number)
        _rename(item, _numbered(nodeid, number), _numbered(name, number) if name != item.name else name)
    return renamed


def _rename(item: pytest.Item, nodeid: str, name: str) -> None:
    """Give a collected item another node id and name (private attributes of pytest's nodes)."""
    if NodeId is not None and hasattr(item, "_id"):
        item._id = NodeId.parse(nodeid)
    else:  # pragma: no cover - a pytest that keeps the id as a string
        item._nodeid = nodeid  # type: ignore[attr-defined]
    item.name = name
    item.__dict__.pop("location", None)  # cached from the old name


def _numbered(text: str, number: int) -> str:
    """``test_x[***]`` -> ``test_x[***-2]`` (the first one keeps its id)."""
    if number == 1:
        return text
    return f"{text[:-1]}-{number}]" if text.endswith("]") else f"{text}-{number}"


def mask_report(report: Any) -> None:
    """Mask a test or collection report in place: its longrepr, its captured sections and its user properties
    (record_property, gonogo's own: every writer of reports reads them, JUnit XML included)."""
    if not masker.active:
        return
    if report.longrepr is not None:
        report.longrepr = mask_structure(report.longrepr)
    report.sections = [(title, masker.mask(body)) for title, body in report.sections]
    if getattr(report, "user_properties", None):
        report.user_properties = [(masker.mask(str(name)), mask_value(value)) for name, value in report.user_properties]


def mask_value(value: Any) -> Any:
    """A recorded value masked: JSON-like data string by string, anything else by its text when it holds a secret."""
    if isinstance(value, (str, dict, list, tuple)):
        return masker.mask_data(value)
    text = str(value)
    masked = masker.mask(text)
    return masked if masked != text else value


def mask_structure(value: Any) -> Any:
    """Mask every string inside a report's longrepr: a string, a skip tuple or pytest's repr dataclasses.

    Masking the structure (not its rendered text) keeps ``reprcrash``, so the one-line reason of
    gate.json and pytest's short summary still show the exception line.
    """
    if isinstance(value, str):
        return masker.mask(value)
    if isinstance(value, list):
        return [mask_structure(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_structure(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        try:
            for f in dataclasses.fields(value):
                setattr(value, f.name, mask_structure(getattr(value, f.name)))
            return value
        except dataclasses.FrozenInstanceError:
            pass
    text = str(value)  # anything else (another plugin's repr): its text, when it holds a secret
    return masker.mask(text) if masker.mask(text) != text else value
