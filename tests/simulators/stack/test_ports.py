import socket

from simulators.stack.ports import _ephemeral_low, free_port, free_port_pair


def test_a_free_port_is_bindable_and_outside_the_kernels_ephemeral_range() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(p < _ephemeral_low() for p in ports)
    assert len(ports) > 1  # drawn at random, not the same one every time
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", next(iter(ports))))


def test_a_port_pair_is_two_free_consecutive_ports() -> None:
    port = free_port_pair()
    with socket.socket() as a, socket.socket() as b:
        a.bind(("0.0.0.0", port))  # vpcd listens on every interface
        b.bind(("0.0.0.0", port + 1))
