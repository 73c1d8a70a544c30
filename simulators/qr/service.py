"""`kioskctl sim qr serve`: the pty scanner (simulators/qr/pty.py) driven over HTTP.

    POST /sim/v1/scan    {"text", "terminator"?: "CR"|"LF"|"CRLF", "prefix"?, "suffix"?,
                          "split"?: 1..64, "gap_ms"?: 0..2000, "noise_before"?: 0..4096}
    POST /sim/v1/noise   {"bytes": 1..65536}
    POST /sim/v1/unplug  the USB cable pulled: the link goes, the driver's reads fail
    POST /sim/v1/replug  a new pty behind the same link
    GET  /sim/v1/status  {"plugged", "link", "pty", "scans"}

A scan while unplugged is `409 unplugged`. Bodies are capped at MAX_BODY; errors are
problem+json. The driver opens `link` (default drivers.qr.serial.DEFAULT_SIM_PORT).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from common.problem import Problem
from simulators.central.bodylimit import BodyLimit
from simulators.qr.pty import PtyScanner, Unplugged
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)

DEFAULT_PORT = 8712
MAX_BODY = 8192
MAX_SCAN_MS = 5000  # split x gap: one request holds a worker thread at most this long
_AFFIX = r"^[\x01-\x09\x0b\x0c\x0e-\x7e]{0,16}$"  # printable or control, never CR/LF


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4096)
    terminator: Literal["CR", "LF", "CRLF"] = "CR"
    prefix: str = Field("", pattern=_AFFIX)
    suffix: str = Field("", pattern=_AFFIX)
    split: int = Field(1, ge=1, le=64)
    gap_ms: int = Field(0, ge=0, le=2000)
    noise_before: int = Field(0, ge=0, le=4096)


class NoiseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bytes: int = Field(ge=1, le=65536)


def create_app(scanner: PtyScanner) -> FastAPI:
    app = FastAPI(title="QR scanner simulator", summary="A serial QR scanner on a pty.",
                  version="1")
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_body=MAX_BODY)

    def unplugged() -> Problem:
        return Problem(409, "unplugged", "The scanner is unplugged (POST /sim/v1/replug)")

    @app.post("/sim/v1/scan")
    def scan(request: ScanRequest) -> dict[str, Any]:
        if (request.split - 1) * request.gap_ms > MAX_SCAN_MS:
            raise Problem(422, "scan-too-slow", f"A scan takes at most {MAX_SCAN_MS} ms")
        try:
            written = scanner.scan(
                request.text, terminator=request.terminator,
                prefix=request.prefix.encode("latin-1"), suffix=request.suffix.encode("latin-1"),
                split=request.split, gap_s=request.gap_ms / 1000,
                noise_before=request.noise_before)
        except Unplugged:
            raise unplugged() from None
        return {"written": written, **scanner.status()}

    @app.post("/sim/v1/noise")
    def noise(request: NoiseRequest) -> dict[str, Any]:
        try:
            written = scanner.noise(request.bytes)
        except Unplugged:
            raise unplugged() from None
        return {"written": written, **scanner.status()}

    @app.post("/sim/v1/unplug")
    def unplug() -> dict[str, Any]:
        scanner.unplug()
        return scanner.status()

    @app.post("/sim/v1/replug")
    def replug() -> dict[str, Any]:
        scanner.replug()
        return scanner.status()

    @app.get("/sim/v1/status")
    def status() -> dict[str, Any]:
        return scanner.status()

    return app


def serve(*, host: str = "127.0.0.1", port: int = DEFAULT_PORT, link: str | None = None,
          seed: int = 0) -> None:
    """Run until interrupted; the link is removed on the way out."""
    import uvicorn

    with PtyScanner(link, seed=seed) as scanner:
        log.info("qr scanner simulator: %s -> %s; control API http://%s:%d/sim/v1",
                 scanner.path, scanner.slave_name, host, port)
        config = uvicorn.Config(create_app(scanner), host=host, port=port, log_config=None,
                                timeout_graceful_shutdown=1)
        uvicorn.Server(config).run()


def stack_spec(link: Path, port: int | None = None, *, seed: int = 0) -> Any:
    """The Stack's service for the pty scanner (simulators/stack/services.py style): the kiosk's
    driver opens `link` (`[peripheral_options.qr] port = "<link>"`, impl simulated)."""
    from simulators.stack.ports import free_port
    from simulators.stack.services import HttpService, http_ok, kioskctl
    from simulators.stack.supervisor import ProcessSpec

    port = port or free_port()
    argv = kioskctl("sim", "qr", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--link", str(link), "--seed", str(seed))
    url = f"http://127.0.0.1:{port}"
    spec = ProcessSpec(name="qr-sim", argv=argv, ready=lambda: http_ok(f"{url}/sim/v1/status"))
    return HttpService(spec=spec, host="127.0.0.1", port=port)
