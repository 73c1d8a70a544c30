"""The virtual receipt printer as a service: raw TCP (port 9100 style), a pty, a control API.

    TCP  HOST:PORT            the ESC/POS byte stream, any number of clients, one at a time
                              printing as on a real printer's single buffer
    pty  /dev/pts/N           the same stream as a serial printer (raw mode; --pty-link PATH
                              makes a stable symlink to it)
    GET  /sim/v1/status       paper, lines_left, cover_open, online, silent, jobs
    PUT  /sim/v1/paper        {"state": "ok"|"low"|"out", "after_lines": int|null}
    PUT  /sim/v1/cover        {"open": bool}
    PUT  /sim/v1/online       {"online": bool, "silent": bool}
    GET  /sim/v1/jobs         every job: id, text, bytes, cut, complete, interrupted, qr
    GET  /sim/v1/jobs/{id}/png
    DELETE /sim/v1/jobs
    GET  /sim/v1/health

Status answers (DLE EOT n) go back on the connection that asked. Errors are problem+json
4xx; bodies are capped at MAX_BODY. See docs/simulators/printer.md.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

from common.problem import Problem
from simulators.central.bodylimit import BodyLimit
from simulators.printer.device import VirtualPrinter
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)

DEFAULT_PORT = 9100
DEFAULT_CONTROL_PORT = 8720
MAX_BODY = 4096
MAX_CLIENTS = 8
READ_CHUNK = 65536


class PaperRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["ok", "low", "out"]
    after_lines: int | None = Field(None, ge=0, le=10_000)


class CoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    open: bool


class OnlineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    online: bool
    silent: bool = False


class PrinterSimulator:
    """TCP listener + pty + (optionally) the control API over one VirtualPrinter."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, pty: bool = True,
                 pty_link: Path | None = None, control_port: int | None = None,
                 out_dir: Path | None = None, width_px: int = 576) -> None:
        self.printer = VirtualPrinter(out_dir, width_px=width_px)
        self.host = host
        self._want_port = port
        self._want_pty = pty
        self.pty_link = pty_link
        self._control_port = control_port
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()
        self._master = -1
        self._slave = -1
        self._wake_r, self._wake_w = os.pipe()
        self.pty_path: str | None = None
        self._server: Any = None
        self.tcp_port = 0
        self.control_port = 0

    @property
    def tcp_url(self) -> str:
        return f"tcp://{self.host}:{self.tcp_port}"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"

    def start(self) -> PrinterSimulator:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._want_port))
        listener.listen(MAX_CLIENTS)
        self._listener = listener
        self.tcp_port = listener.getsockname()[1]
        self._spawn(self._accept_loop, "printer-sim-accept")
        if self._want_pty:
            self._master, self._slave = os.openpty()
            # Raw: without it the tty turns \n into \r\n and eats ^C/^S (print-notes.md 2).
            tty.setraw(self._slave)
            self.pty_path = os.ttyname(self._slave)
            if self.pty_link is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.pty_link.unlink()
                self.pty_link.symlink_to(self.pty_path)
            self._spawn(self._pty_loop, "printer-sim-pty")
        if self._control_port is not None:
            self._start_control(self._control_port)
        log.info("printer simulator on %s%s", self.tcp_url,
                 f" and {self.pty_path}" if self.pty_path else "")
        return self

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, daemon=True, name=name)
        self._threads.append(thread)
        thread.start()

    def _start_control(self, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(create_app(self), host=self.host, port=port, log_config=None,
                                log_level="warning", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        self._server = server
        started = threading.Event()

        def run() -> None:
            server.run()

        thread = threading.Thread(target=run, daemon=True, name="printer-sim-control")
        thread.start()
        # The bound port (port 0 picks one) is known once uvicorn has started.
        for _ in range(200):
            if server.started and server.servers:
                self.control_port = server.servers[0].sockets[0].getsockname()[1]
                started.set()
                break
            self._stop.wait(0.02)
        if not started.is_set():
            raise RuntimeError("the printer simulator's control API did not start")

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() does not
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._clients_lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=0.5)
        for fd in (self._master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = -1
        if self.pty_link is not None:
            with contextlib.suppress(OSError):
                self.pty_link.unlink()
        self.printer.close()

    def __enter__(self) -> PrinterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # TCP ----------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        count = 0
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._clients_lock:
                if len(self._clients) >= MAX_CLIENTS:
                    client.close()
                    continue
                self._clients.add(client)
            count += 1
            threading.Thread(target=self._client_loop, args=(client, f"tcp-{count}"),
                             daemon=True, name=f"printer-sim-tcp-{count}").start()

    def _client_loop(self, client: socket.socket, name: str) -> None:
        session = self.printer.session(name)
        try:
            while not self._stop.is_set():
                try:
                    data = client.recv(READ_CHUNK)
                except OSError:
                    break
                if not data:
                    break
                answer = session.feed(data)
                if answer:
                    try:
                        client.sendall(answer)
                    except OSError:
                        break
        finally:
            session.close()
            with self._clients_lock:
                self._clients.discard(client)
            with contextlib.suppress(OSError):
                client.close()

    # pty ----------------------------------------------------------------------------------------

    def _pty_loop(self) -> None:
        # The slave stays open here too, so a driver closing its end is no EOF/EIO for us, and
        # a job it leaves uncut ends when it reopens and sends ESC @.
        session = self.printer.session("pty")
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [])
            except (OSError, ValueError):
                break
            if self._wake_r in ready:
                break
            try:
                data = os.read(self._master, READ_CHUNK)
            except OSError:
                break
            answer = session.feed(data)
            if answer:
                with contextlib.suppress(OSError):
                    os.write(self._master, answer)
        session.close()

    # Control ------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "tcp": self.tcp_url, "pty": self.pty_path}


def create_app(sim: PrinterSimulator) -> FastAPI:
    app = FastAPI(title="Receipt printer simulator",
                  summary="A virtual ESC/POS printer on TCP and a pty.", version="1")
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_body=MAX_BODY)
    printer = sim.printer

    @app.get("/sim/v1/status")
    def status() -> dict[str, Any]:
        return printer.status() | {"tcp": sim.tcp_url, "pty": sim.pty_path}

    @app.put("/sim/v1/paper")
    def paper(request: PaperRequest) -> dict[str, Any]:
        printer.set_paper(request.state, request.after_lines)
        return printer.status()

    @app.put("/sim/v1/cover")
    def cover(request: CoverRequest) -> dict[str, Any]:
        printer.set_cover(request.open)
        return printer.status()

    @app.put("/sim/v1/online")
    def online(request: OnlineRequest) -> dict[str, Any]:
        printer.set_online(request.online, request.silent)
        return printer.status()

    @app.get("/sim/v1/jobs")
    def jobs() -> list[dict[str, object]]:
        return [job.summary() for job in printer.jobs()]

    @app.get("/sim/v1/jobs/{job_id}/png")
    def job_png(job_id: int) -> Response:
        from simulators.printer.render import to_png

        job = printer.job(job_id)
        if job is None:
            raise Problem(404, "job-not-found", "no such job", f"job {job_id}")
        try:
            png = to_png(job, printer.width_px)
        except Exception as exc:  # whatever a client sent, no 5xx: say it cannot be drawn
            raise Problem(422, "job-unrenderable", "the job cannot be drawn",
                          str(exc)[:200]) from exc
        return Response(png, media_type="image/png")

    @app.delete("/sim/v1/jobs")
    def clear() -> dict[str, Any]:
        printer.clear()
        return printer.status()

    @app.get("/sim/v1/health")
    def health() -> dict[str, Any]:
        return sim.health()

    return app


def serve(*, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          control_port: int = DEFAULT_CONTROL_PORT, pty_link: Path | None = None,
          out_dir: Path | None = None, width_px: int = 576, pty: bool = True) -> None:
    """Run until interrupted (SIGINT/SIGTERM end uvicorn, then the printer)."""
    import uvicorn

    sim = PrinterSimulator(host=host, port=port, pty=pty, pty_link=pty_link,
                           out_dir=out_dir, width_px=width_px).start()
    print(f"printer simulator: {sim.tcp_url}" + (f" pty {sim.pty_path}" if sim.pty_path  # noqa: T201
                                                 else ""), flush=True)
    config = uvicorn.Config(create_app(sim), host=host, port=control_port, log_config=None,
                            timeout_graceful_shutdown=1)
    try:
        uvicorn.Server(config).run()
    finally:
        sim.stop()


@dataclass(frozen=True)
class PrinterSimService:
    """What the Stack needs to run `kioskctl sim printer serve` and point a kiosk at it."""

    spec: Any  # simulators.stack.supervisor.ProcessSpec
    connection: str  # the kiosk's printer connection: tcp://127.0.0.1:PORT
    control_url: str
    pty_link: Path  # the same printer as a serial device (a symlink to its pty)
    out_dir: Path  # job-N.txt / job-N.png


def stack_spec(workdir: Path, *, port: int | None = None, control_port: int | None = None,
               name: str = "printer-sim") -> PrinterSimService:
    """How the Stack starts the virtual receipt printer as a process (on free ports)."""
    from simulators.stack.ports import free_port
    from simulators.stack.services import http_ok, kioskctl
    from simulators.stack.supervisor import ProcessSpec

    port = port or free_port()
    control_port = control_port or free_port()
    link = workdir / "printer.pty"
    out = workdir / "printer-jobs"
    argv = kioskctl("sim", "printer", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--control-port", str(control_port), "--pty-link", str(link),
                    "--out", str(out))
    url = f"http://127.0.0.1:{control_port}"
    spec = ProcessSpec(name=name, argv=argv, ready=lambda: http_ok(f"{url}/sim/v1/health"))
    return PrinterSimService(spec=spec, connection=f"tcp://127.0.0.1:{port}", control_url=url,
                             pty_link=link, out_dir=out)
