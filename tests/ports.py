"""Free TCP ports on 127.0.0.1 for the servers the tests start."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def distinct_free_ports(count: int) -> list[int]:
    """Ports free now and different from each other: all are held open until all are chosen."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()
