"""Where secrets are masked on their way out: log records, pytest's value reprs, test reports.

:mod:`gonogo.secrets` knows what is secret (the masker); this module wires it into every output
path of a run. Installed by the plugin at configure time and removed at unconfigure.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from gonogo.secrets import masker

try:  # private API of pytest: the repr it shortens ('abc...xyz') in assertions and tracebacks
    from _pytest._io.saferepr import SafeRepr, _ellipsize
except ImportError:  # pragma: no cover - a pytest that moved it: the terminal/report masking still applies
    SafeRepr = None  # type: ignore[assignment,misc]
    _ellipsize = None  # type: ignore[assignment]

_original_factory = logging.getLogRecordFactory()


def _masking_record_factory(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _original_factory(*args, **kwargs)
    if masker.active:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's problem, not ours
            return record
        masked = masker.mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
    return record


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


def install() -> None:
    """Mask secrets in log records (live and captured logs) and in pytest's value reprs."""
    logging.setLogRecordFactory(_masking_record_factory)
    if SafeRepr is not None and not hasattr(SafeRepr.repr, "__wrapped__"):
        SafeRepr.repr = _masking_saferepr(SafeRepr.repr)  # type: ignore[method-assign]


def uninstall() -> None:
    logging.setLogRecordFactory(_original_factory)
    original = getattr(SafeRepr.repr, "__wrapped__", None) if SafeRepr is not None else None
    if original is not None:
        SafeRepr.repr = original  # type: ignore[method-assign]


def mask_report(report: Any) -> None:
    """Mask a test or collection report in place: its longrepr and its captured sections."""
    if not masker.active:
        return
    if report.longrepr is not None:
        report.longrepr = mask_structure(report.longrepr)
    report.sections = [(title, masker.mask(body)) for title, body in report.sections]


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
