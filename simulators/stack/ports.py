"""Free TCP ports on loopback."""

from __future__ import annotations

import socket


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # vpcd listens on all interfaces, so check the wildcard address, not just loopback.
            s.bind(("0.0.0.0", port))  # noqa: S104
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A port P with P and P+1 both free (vpcd opens two readers on consecutive ports)."""
    for _ in range(200):
        port = free_port()
        if port < 65535 and _is_free(port) and _is_free(port + 1):
            return port
    raise RuntimeError("no two consecutive free TCP ports found")


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
