"""Free loopback ports (chosen once, kept in the env file) and waiting for listeners."""

from __future__ import annotations

import random
import socket
import time

LOOPBACK = "127.0.0.1"
# below the kernel's ephemeral range (32768+), so outgoing connections never take our ports
PORT_RANGE = (20000, 32000)


def is_free(port: int, udp: bool = False) -> bool:
    """Nothing holds the TCP port (and, with ``udp``, the UDP port too) on the loopback address."""
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as s:
            # like the servers themselves: connections in TIME_WAIT do not make a port busy
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def allocate(count: int, avoid: set[int] | None = None) -> list[int]:
    avoid = set(avoid or ())
    rng = random.SystemRandom()
    chosen: list[int] = []
    for _ in range(2000):
        port = rng.randrange(*PORT_RANGE)
        if port in avoid or port in chosen:
            continue
        if is_free(port, udp=True):  # DNS needs both
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise RuntimeError("could not find free loopback ports")


def is_listening(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_listening(port: int, timeout: float, host: str = LOOPBACK) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(port, host):
            return True
        time.sleep(0.1)
    return False
