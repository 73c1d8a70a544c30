"""Free TCP ports on loopback."""

from __future__ import annotations

import random
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


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux default 32768)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_random = random.SystemRandom()


def free_port() -> int:
    """A free port below the ephemeral range, at random: a port the kernel chose (bind to 0)
    can be taken, before the server binds it, as the source port of one of the thousands of
    outgoing connections a fleet test makes; and two test workers rarely draw the same one."""
    low = min(_ephemeral_low(), 65535)
    if low > 12000:
        for _ in range(50):
            port = _random.randrange(10000, low)
            if _is_free(port):
                return port
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
