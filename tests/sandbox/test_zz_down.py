"""Last (file order): `down` stops every process the sandbox started, and a later `up` is fast."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Sandbox


def _our_processes(sb: "Sandbox") -> list[str]:
    """Live processes whose command line mentions this sandbox's state or runtime dir."""
    runtime = Path(sb.values["SANDBOX_DOCKER_HOST"].removeprefix("unix://")).parent
    markers = (str(sb.state_dir), str(runtime))
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            continue  # a zombie is not running
        if any(m in cmdline for m in markers) and "pytest" not in cmdline:
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


def _recorded_pids(sb: "Sandbox") -> dict[str, int]:
    pids = {}
    for pf in (sb.state_dir / "run").glob("*.pid"):
        pids[pf.stem] = int(pf.read_text().split()[0])
    return pids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_down_stops_everything_and_up_again_is_fast(sandbox: "Sandbox") -> None:
    pids = _recorded_pids(sandbox)
    assert {"postgres", "redis", "traefik", "dockerd", "dnsmasq"} <= set(pids)
    assert _our_processes(sandbox), "the probe sees the running sandbox"

    sandbox.cli("down", label="down")
    assert not any(_alive(pid) for pid in pids.values()), pids
    assert _our_processes(sandbox) == []
    assert not list((sandbox.state_dir / "run").glob("*.pid"))

    again = sandbox.cli("up", label="up (after down)")
    assert again.elapsed < 60, f"later up took {again.elapsed:.1f}s"
    sandbox._client = None  # a new dockerd: reconnect
    sandbox.assert_healthy()

    sandbox.cli("down", label="down (again)")
    assert _our_processes(sandbox) == []
