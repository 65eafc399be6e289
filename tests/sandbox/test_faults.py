"""Every fault of the catalogue is real: applied, its effect is seen with a direct probe (fault_effects.py),
healed, it is gone and the sandbox is healthy again.

The fault matrix observes each fault this way in the first row that applies it, around the gate's run (one
fault and one heal serve both proofs); the faults whose probe another fault of their row would contradict
(``OBSERVED_ALONE``) are observed here, one at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fault_effects import FAULTS, apply_and_observe
from test_fault_matrix import OBSERVED_ALONE, OBSERVED_IN_MATRIX

if TYPE_CHECKING:
    from conftest import Sandbox


def test_every_fault_is_covered(sandbox: "Sandbox") -> None:
    """The catalogue is what fault_effects.py probes, and every fault is observed, here or in the matrix."""
    listed = [line.split()[0] for line in sandbox.cli("faults").stdout.splitlines()]
    assert listed == list(FAULTS)
    assert set(FAULTS) == set(OBSERVED_IN_MATRIX) | set(OBSERVED_ALONE)


@pytest.mark.parametrize("name", [name for name in FAULTS if name not in OBSERVED_IN_MATRIX])
def test_fault(sandbox: "Sandbox", faults: Any, name: str) -> None:
    apply_and_observe(sandbox, faults, (name,), (name,))  # healed and gone: the faults fixture, at the end
