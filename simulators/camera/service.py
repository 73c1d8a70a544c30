"""The camera simulator: a scripted persona served as an MJPEG IP camera, driven over HTTP.

    GET  /stream.mjpg      multipart/x-mixed-replace; boundary=frame: one JPEG per part at
                           about `fps`, the current scene; any number of clients
    PUT  /sim/v1/scene     {"persona", "identity"?: "a"|"b", "seed"?: int, "width"?, "height"?}
    PUT  /sim/v1/qr        {"text", "seed"?, "width"?, "height"?, "module_px"?, "tilt_deg"?}:
                           a phone showing `text` as a QR code (an e-SSC token, any text)
    POST /sim/v1/act       {"action": "turn-left"|...|null}: what the kiosk just asked
    GET  /sim/v1/scene     persona ("qr" for a phone), identity, seed, action, t, frames
                           rendered, qr_chars (the code's length; never the code itself)
    GET  /sim/v1/health

The kiosk reads the stream with its production driver (drivers/camera/opencv.py, URL source):
the same interface a real MJPEG camera offers. One renderer thread draws the scene
(`persona.frame(t, asked)`, simulators/camera/personas) and encodes it once; each client's
response sends the newest JPEG when it is ready for one, so a client that stops reading only
misses frames and never holds up the renderer or the other clients. Nothing is rendered
while no client watches. Errors are problem+json 4xx; bodies are capped at MAX_BODY.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from common.clock import Monotonic
from common.problem import Problem
from simulators.camera.qr_scene import MAX_TEXT as QR_MAX_TEXT
from simulators.camera.qr_scene import QrScene
from simulators.central.bodylimit import BodyLimit
from webapi.problems import install_problem_handlers

log = logging.getLogger(__name__)

DEFAULT_PORT = 8710
DEFAULT_FPS = 15.0
BOUNDARY = "frame"
MAX_BODY = 4096
JPEG_QUALITY = 85
# The challenges a person can be told (drivers/face/liveness.CHALLENGES; the same strings).
ACTIONS = ("turn-left", "turn-right", "nod", "open-mouth", "blink")
# The personas when the persona library is not installed (the stand-in renderer draws them).
STAND_IN_PERSONAS = ("live", "photo-still", "photo-moved", "replay", "impostor", "empty",
                     "two-people", "dark", "swap")


class Persona(Protocol):
    def frame(self, t: float, asked: str | None) -> np.ndarray: ...


MakePersona = Callable[..., Persona]


class StandInPersona:
    """A scene drawn without faces: a textured frame whose bar moves, dark for "dark", with the
    asked action's name shifting the bar. For running the service where the persona library
    (simulators/camera/personas) is absent; the liveness engine finds no face in it."""

    def __init__(self, name: str, *, identity: str = "a", seed: int = 0, width: int = 640,
                 height: int = 480) -> None:
        self.name, self.identity, self.seed = name, identity, seed
        self.width, self.height = width, height
        rng = np.random.default_rng(seed)
        level = 8 if name == "dark" else 120
        self._base = rng.integers(level - 8 if level > 8 else 0, level + 8,
                                  size=(height, width, 3), dtype=np.uint8)
        self._still = name in ("photo-still", "empty")

    def frame(self, t: float, asked: str | None) -> np.ndarray:
        pixels = self._base.copy()
        if not self._still:
            step = (ACTIONS.index(asked) + 1) * 7 if asked in ACTIONS else 0
            x = int((t * 40 + step) % max(self.width - 20, 1))
            pixels[:, x:x + 20] = (200, 60, 60) if self.name != "dark" else (20, 6, 6)
        return pixels


def default_personas() -> tuple[MakePersona, tuple[str, ...], str]:
    """(make_persona, names, which) from the persona library, or the stand-in without it."""
    try:
        from simulators.camera.personas import PERSONAS, make_persona
    except ImportError:
        return StandInPersona, STAND_IN_PERSONAS, "stand-in"
    except Exception:  # a broken library: the camera still serves, and says why
        log.exception("the persona library failed to load; drawing stand-in scenes")
        return StandInPersona, STAND_IN_PERSONAS, "stand-in"
    return make_persona, tuple(PERSONAS), "personas"


class SceneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9-]*$")
    identity: Literal["a", "b"] = "a"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=480, ge=48, le=1080)


class QrRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=QR_MAX_TEXT)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    width: int = Field(default=640, ge=320, le=1920)
    height: int = Field(default=480, ge=240, le=1080)
    module_px: float = Field(default=6.0, ge=3.0, le=12.0)
    tilt_deg: float = Field(default=10.0, ge=0.0, le=40.0)


class ActRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal[ACTIONS] | None  # type: ignore[valid-type]


@dataclass
class _Scene:
    persona: Persona
    request: SceneRequest
    started_at: float
    action: str | None = None


class CameraSimulator:
    """The scene, its renderer thread and the newest JPEG. Thread-safe."""

    def __init__(
        self,
        *,
        fps: float = DEFAULT_FPS,
        clock: Monotonic = time.monotonic,
        make: MakePersona | None = None,
        names: tuple[str, ...] | None = None,
        initial: SceneRequest | None = None,
    ) -> None:
        if not 0 < fps <= 60:
            raise ValueError("fps is in (0, 60]")
        default_make, default_names, which = default_personas()
        self.renderer = which if make is None else "custom"
        self._make = make or default_make
        self.names = names or (default_names if make is None else STAND_IN_PERSONAS)
        self.fps = fps
        self._clock = clock
        self._lock = threading.Lock()
        self._frame_ready = threading.Condition(self._lock)
        self._jpeg: bytes | None = None
        self._sequence = 0
        self._clients = 0
        self._stopped = threading.Event()
        self._scene = self._build(initial or SceneRequest(persona="empty"))
        self._thread = threading.Thread(target=self._render_loop, name="camera-sim renderer",
                                        daemon=True)
        self._thread.start()

    # Control

    def _build(self, request: SceneRequest) -> _Scene:
        if request.persona not in self.names:
            raise Problem(422, "unknown-persona", "No such persona",
                          detail=f"personas: {', '.join(self.names)}")
        try:
            persona = self._make(request.persona, identity=request.identity, seed=request.seed,
                                 width=request.width, height=request.height)
        except ValueError as exc:
            raise Problem(422, "bad-scene", "The persona cannot be made", detail=str(exc)) from exc
        except RuntimeError as exc:  # PhotosMissing: the set-up was not run
            raise Problem(409, "persona-unavailable", "The persona cannot be made",
                          detail=str(exc)[:300]) from exc
        return _Scene(persona=persona, request=request, started_at=self._clock())

    def set_scene(self, request: SceneRequest) -> dict[str, Any]:
        scene = self._build(request)  # outside the lock: loading photos takes a while
        with self._lock:
            self._scene = scene
            self._jpeg = None  # no client sees the old scene after this answer
        log.info("scene: %s (identity %s, seed %d)", request.persona, request.identity,
                 request.seed)
        return self.scene()

    def show_qr(self, request: QrRequest) -> dict[str, Any]:
        """A phone showing `request.text` as a QR code, until the next scene."""
        qr = QrScene(request.text, seed=request.seed, width=request.width,
                     height=request.height, module_px=request.module_px,
                     tilt_deg=request.tilt_deg, fps=self.fps)
        scene = _Scene(persona=qr, request=SceneRequest(
            persona="qr", seed=request.seed, width=request.width, height=request.height),
            started_at=self._clock())
        with self._lock:
            self._scene = scene
            self._jpeg = None
        log.info("scene: a phone showing a QR code of %d characters", qr.chars)  # not the code
        return self.scene()

    def act(self, action: str | None) -> dict[str, Any]:
        with self._lock:
            self._scene.action = action
        log.info("asked: %s", action)
        return self.scene()

    def scene(self) -> dict[str, Any]:
        with self._lock:
            scene, frames = self._scene, self._sequence
        request = scene.request
        return {
            "persona": request.persona, "identity": request.identity, "seed": request.seed,
            "width": request.width, "height": request.height, "action": scene.action,
            "t": round(self._clock() - scene.started_at, 3), "frames": frames,
            "qr_chars": scene.persona.chars if isinstance(scene.persona, QrScene) else None,
        }

    def health(self) -> dict[str, Any]:
        with self._lock:
            clients, frames = self._clients, self._sequence
        return {"status": "ok" if self._thread.is_alive() else "renderer-stopped",
                "clients": clients, "frames": frames, "fps": self.fps,
                "renderer": self.renderer}

    def close(self) -> None:
        self._stopped.set()
        with self._lock:
            self._frame_ready.notify_all()
        self._thread.join(2.0)

    # Rendering

    def _render_loop(self) -> None:
        interval = 1.0 / self.fps
        failed: _Scene | None = None
        while not self._stopped.is_set():
            began = time.monotonic()
            with self._lock:
                scene, watched = self._scene, self._clients > 0
            if watched:
                try:
                    jpeg = self._render(scene)
                except Exception:  # a persona bug must not kill the camera
                    if failed is not scene:  # one traceback per scene, not fifteen a second
                        log.exception("rendering %s failed", scene.request.persona)
                    failed, jpeg = scene, None
                with self._lock:
                    if jpeg is not None and self._scene is scene:
                        self._jpeg = jpeg
                        self._sequence += 1
                        self._frame_ready.notify_all()
            self._stopped.wait(max(0.0, interval - (time.monotonic() - began)))

    def _render(self, scene: _Scene) -> bytes:
        t = max(0.0, self._clock() - scene.started_at)
        pixels = scene.persona.frame(t, scene.action)
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return encoded.tobytes()

    def newest(self, after: int) -> tuple[int, bytes] | None:
        with self._lock:
            if self._jpeg is not None and self._sequence > after:
                return self._sequence, self._jpeg
        return None

    async def parts(self) -> AsyncIterator[bytes]:
        """One client's stream: the newest JPEG whenever this client is ready for one."""
        with self._lock:
            self._clients += 1
        try:
            seen = 0
            poll = min(0.01, 0.25 / self.fps)
            while not self._stopped.is_set():
                newest = self.newest(seen)
                if newest is None:
                    await asyncio.sleep(poll)
                    continue
                seen, jpeg = newest
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                       f"Content-Length: {len(jpeg)}\r\n\r\n").encode("ascii") + jpeg + b"\r\n"
        finally:
            with self._lock:
                self._clients -= 1


def create_app(simulator: CameraSimulator) -> FastAPI:
    app = FastAPI(title="Camera simulator",
                  summary="Scripted personas served as an MJPEG camera.", version="1")
    install_problem_handlers(app)
    app.add_middleware(BodyLimit, max_body=MAX_BODY)

    @app.get("/stream.mjpg")
    def stream() -> StreamingResponse:
        return StreamingResponse(
            simulator.parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    @app.put("/sim/v1/scene")
    def put_scene(request: SceneRequest) -> dict[str, Any]:
        return simulator.set_scene(request)

    @app.get("/sim/v1/scene")
    def get_scene() -> dict[str, Any]:
        return simulator.scene()

    @app.put("/sim/v1/qr")
    def put_qr(request: QrRequest) -> dict[str, Any]:
        return simulator.show_qr(request)

    @app.post("/sim/v1/act")
    def act(request: ActRequest) -> dict[str, Any]:
        return simulator.act(request.action)

    @app.get("/sim/v1/health")
    def health() -> dict[str, Any]:
        return simulator.health()

    return app


def serve(*, host: str = "127.0.0.1", port: int = DEFAULT_PORT, fps: float = DEFAULT_FPS,
          initial: SceneRequest | None = None) -> None:
    """Run until interrupted."""
    import uvicorn

    simulator = CameraSimulator(fps=fps, initial=initial)
    log.info("camera simulator (%s renderer) on http://%s:%d/stream.mjpg", simulator.renderer,
             host, port)
    # Streams never end by themselves: shutting down does not wait for their clients.
    config = uvicorn.Config(create_app(simulator), host=host, port=port, log_config=None,
                            timeout_graceful_shutdown=1)
    try:
        uvicorn.Server(config).run()
    finally:
        simulator.close()
