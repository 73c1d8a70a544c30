"""The virtual printer as a service: raw bytes on real TCP and the pty, and its control API."""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drivers.printer.compose import compose
from drivers.printer.interface import ReceiptDocument, ReceiptLine
from simulators.printer.service import PrinterSimulator
from tests.harness.waiting import wait_for

# One client for the module: a new httpx client per call costs its TLS set-up every time.
http = httpx.Client(timeout=10)

DOCUMENT = ReceiptDocument("回执", (ReceiptLine("业务：参保证明打印"),), qr="https://v.example/1")


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Iterator[PrinterSimulator]:
    out = tmp_path_factory.mktemp("printer-out")
    link = out / "printer.pty"
    with PrinterSimulator(control_port=0, out_dir=out, pty_link=link) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _reset(sim: PrinterSimulator) -> None:
    http.delete(f"{sim.control_url}/sim/v1/jobs")
    http.put(f"{sim.control_url}/sim/v1/paper", json={"state": "ok"})
    http.put(f"{sim.control_url}/sim/v1/cover", json={"open": False})
    http.put(f"{sim.control_url}/sim/v1/online", json={"online": True})


def ask(sock: socket.socket, n: int) -> int:
    sock.sendall(b"\x10\x04" + bytes([n]))
    return sock.recv(1)[0]


def test_status_answers_follow_the_control_api(sim: PrinterSimulator) -> None:
    with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
        assert (ask(sock, 1), ask(sock, 2), ask(sock, 4)) == (0x12, 0x12, 0x12)
        http.put(f"{sim.control_url}/sim/v1/paper", json={"state": "low"})
        assert ask(sock, 4) == 0x1E
        http.put(f"{sim.control_url}/sim/v1/paper", json={"state": "out"})
        assert (ask(sock, 1) & 0x08, ask(sock, 2) & 0x20, ask(sock, 4)) == (0x08, 0x20, 0x7E)
        http.put(f"{sim.control_url}/sim/v1/paper", json={"state": "ok"})
        http.put(f"{sim.control_url}/sim/v1/cover", json={"open": True})
        assert ask(sock, 2) & 0x04 and ask(sock, 1) & 0x08


def test_a_silent_printer_answers_nothing(sim: PrinterSimulator) -> None:
    http.put(f"{sim.control_url}/sim/v1/online", json={"online": False, "silent": True})
    with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
        sock.sendall(b"\x10\x04\x01")
        ready, _, _ = select.select([sock], [], [], 0.3)
        assert ready == []


def test_jobs_from_tcp_and_the_pty_are_rendered_to_text_and_png(sim: PrinterSimulator) -> None:
    data = b"".join(compose(DOCUMENT))
    with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
        sock.sendall(data)
    assert sim.pty_link is not None and os.path.realpath(sim.pty_link) == sim.pty_path
    fd = os.open(str(sim.pty_link), os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    jobs = wait_for(lambda: (j := http.get(f"{sim.control_url}/sim/v1/jobs").json())
                    and len(j) == 2 and j, "two jobs")
    for job in jobs:
        assert job["complete"] and job["qr"] == ["https://v.example/1"]
        assert "业务：参保证明打印" in job["text"]
        png = http.get(f"{sim.control_url}/sim/v1/jobs/{job['id']}/png")
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    out = sim.printer.out_dir
    assert out is not None
    wait_for(lambda: all((out / f"job-{j['id']}.{ext}").exists() for j in jobs
                         for ext in ("txt", "png")), "the files of both jobs")
    assert "回执" in (out / f"job-{jobs[0]['id']}.txt").read_text()


def test_paper_runs_out_mid_job_on_request(sim: PrinterSimulator) -> None:
    http.put(f"{sim.control_url}/sim/v1/paper", json={"state": "out", "after_lines": 1})
    with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
        sock.sendall(b"".join(compose(DOCUMENT)))
    (job,) = wait_for(lambda: http.get(f"{sim.control_url}/sim/v1/jobs").json(), "a job")
    assert job["interrupted"] and not job["complete"] and job["qr"] == []
    assert http.get(f"{sim.control_url}/sim/v1/status").json()["paper"] == "out"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/sim/v1/paper", {"state": "gone"}),
    ("PUT", "/sim/v1/paper", {"state": "out", "after_lines": -1}),
    ("PUT", "/sim/v1/cover", {"open": "maybe", "x": 1}),
    ("PUT", "/sim/v1/online", {}),
    ("GET", "/sim/v1/jobs/999999/png", None),
    ("PUT", "/sim/v1/paper", {"state": "ok", "pad": "x" * 5000}),
])
def test_bad_requests_are_problems_not_errors(sim: PrinterSimulator, method, path,
                                              body) -> None:
    response = http.request(method, f"{sim.control_url}{path}", json=body)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


def test_garbage_on_the_port_is_survived(sim: PrinterSimulator) -> None:
    with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
        sock.sendall(os.urandom(4096) + b"\x1b@ok\n\x1dV\x00")
    with socket.create_connection(("127.0.0.1", sim.tcp_port), timeout=5) as sock:
        assert ask(sock, 1) in (0x12, 0x1A)  # still answering


def test_stop_removes_the_pty_link(tmp_path: Path) -> None:
    link = tmp_path / "p.pty"
    sim = PrinterSimulator(pty_link=link).start()
    assert link.is_symlink()
    sim.stop()
    assert not link.exists()
