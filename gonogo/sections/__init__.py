"""What a profile says: one module per subject (``gonogo/sections/<subject>.py``), each declaring that subject's
tables on :class:`gonogo.model.Section` (``[docker]``, ``[[health]]``...), their validators and constants.

A section module imports pydantic and other section modules, never a probe and never a client library:
loading a profile imports this package and no part of :mod:`gonogo.probes` (``tests/core/test_structure.py``).
"""
