"""Ports for local services are chosen where no outgoing connection can take them first."""

from __future__ import annotations

import socket
from pathlib import Path

from deploy.local.broker import LOWEST_PORT, ephemeral_ports, free_port


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable() -> None:
    low, _ = ephemeral_ports()
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    assert all(LOWEST_PORT <= port < low for port in ports)
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_the_ephemeral_range_is_read_from_the_kernel_or_linux_default(tmp_path: Path) -> None:
    given = tmp_path / "ip_local_port_range"
    given.write_text("40000\t50000\n")
    assert ephemeral_ports(given) == (40000, 50000)
    assert ephemeral_ports(tmp_path / "absent") == (32768, 60999)
