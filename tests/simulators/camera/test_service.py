"""The camera simulator: its control API in process (validation, the renderer's clock and the
asked action), and as a real process read by the real camera driver over its MJPEG URL."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from drivers.base import DeviceEvent, HealthChanged
from drivers.camera.capture import FrameChecks
from drivers.camera.opencv import OpenCvCamera
from drivers.qr.decode import make_decoder
from simulators.camera.qr_scene import QrScene
from simulators.camera.service import (
    BOUNDARY,
    MAX_BODY,
    CameraSimulator,
    SceneRequest,
    StandInPersona,
    create_app,
)
from simulators.stack import services
from simulators.stack.supervisor import ProcessFailed
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for

WAIT_S = 20.0  # a persona's first scene loads its photos


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A persona that records what it was asked to draw and draws it as a solid colour."""

    made: ClassVar[list[Recorder]] = []

    def __init__(self, name: str, *, identity: str, seed: int, width: int, height: int) -> None:
        if name == "broken":
            raise ValueError("no such persona here")
        if name == "photos-missing":
            raise RuntimeError("face photos missing (run scripts/setup)")
        self.name, self.size = name, (width, height)
        self.calls: list[tuple[float, str | None]] = []
        Recorder.made.append(self)

    def frame(self, t: float, asked: str | None) -> np.ndarray:
        self.calls.append((t, asked))
        return np.full((self.size[1], self.size[0], 3), (200, 30, 30), dtype=np.uint8)


NAMES = ("live", "empty", "broken", "photos-missing")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> Iterator[CameraSimulator]:
    sim = CameraSimulator(make=Recorder, names=NAMES, clock=clock, fps=30,
                          initial=SceneRequest(persona="empty", width=64, height=48))
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture
def client(simulator: CameraSimulator) -> Iterator[TestClient]:
    with TestClient(create_app(simulator)) as c:
        yield c


def first_part(simulator: CameraSimulator) -> bytes:
    """One part of a client's stream, read the way the server sends it."""
    async def read() -> bytes:
        parts = simulator.parts()
        try:
            return await asyncio.wait_for(parts.__anext__(), WAIT_S)
        finally:
            await parts.aclose()

    return asyncio.run(read())


def test_the_renderer_draws_time_since_the_scene_and_the_last_action(simulator, clock) -> None:
    simulator.set_scene(SceneRequest(persona="live", width=64, height=48))
    clock.now += 1.5
    simulator.act("nod")
    data = first_part(simulator)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(f"--{BOUNDARY}\r\n".encode()) and b"Content-Type: image/jpeg" in head
    length = int(head.split(b"Content-Length: ")[1])
    assert body.endswith(b"\r\n") and len(body) == length + 2
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(body[:length], np.uint8), cv2.IMREAD_COLOR),
                       cv2.COLOR_BGR2RGB)
    assert rgb.shape == (48, 64, 3) and abs(int(rgb[10, 10, 0]) - 200) < 10  # RGB, not BGR
    assert Recorder.made[-1].calls[-1] == (1.5, "nod")
    # A new scene starts its own clock and forgets what the previous person was asked.
    simulator.set_scene(SceneRequest(persona="live", width=64, height=48))
    clock.now += 0.25
    first_part(simulator)
    assert Recorder.made[-1].calls[-1] == (0.25, None)
    assert simulator.scene()["action"] is None


def test_scene_and_act_over_http(client, clock) -> None:
    response = client.put("/sim/v1/scene", json={"persona": "live", "identity": "b", "seed": 7})
    assert response.status_code == 200, response.text
    clock.now += 2.0
    body = client.post("/sim/v1/act", json={"action": "open-mouth"}).json()
    assert body | {"frames": 0} == {
        "persona": "live", "identity": "b", "seed": 7, "width": 640, "height": 480,
        "action": "open-mouth", "t": 2.0, "frames": 0, "qr_chars": None,
    }
    assert client.post("/sim/v1/act", json={"action": None}).json()["action"] is None
    assert client.get("/sim/v1/scene").json()["persona"] == "live"
    health = client.get("/sim/v1/health").json()
    assert health["status"] == "ok" and health["clients"] == 0 and health["renderer"] == "custom"


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("PUT", "/sim/v1/scene", {"persona": "ghost"}, 422, "unknown-persona"),
    ("PUT", "/sim/v1/scene", {"persona": "broken"}, 422, "bad-scene"),
    ("PUT", "/sim/v1/scene", {"persona": "photos-missing"}, 409, "persona-unavailable"),
    ("PUT", "/sim/v1/scene", {"persona": "live", "identity": "c"}, 422, "validation-error"),
    ("PUT", "/sim/v1/scene", {"persona": "live", "seed": -1}, 422, "validation-error"),
    ("PUT", "/sim/v1/scene", {"persona": "live", "width": 100000}, 422, "validation-error"),
    ("PUT", "/sim/v1/scene", {"persona": "live", "extra": 1}, 422, "validation-error"),
    ("PUT", "/sim/v1/scene", {"persona": "Live; rm"}, 422, "validation-error"),
    ("PUT", "/sim/v1/scene", [], 422, "validation-error"),
    ("POST", "/sim/v1/act", {"action": "dance"}, 422, "validation-error"),
    ("POST", "/sim/v1/act", {}, 422, "validation-error"),
    ("DELETE", "/sim/v1/scene", None, 405, "method-not-allowed"),
])
def test_bad_requests_are_4xx_problems(client, method: str, path: str, body: Any, status: int,
                                       code: str) -> None:
    before = client.get("/sim/v1/scene").json()
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert client.get("/sim/v1/scene").json()["persona"] == before["persona"]  # unchanged


def test_a_phone_showing_a_code_is_streamed_as_a_decodable_moving_scene(simulator,
                                                                        client) -> None:
    token = "eSSC_" + "k" * 51
    body = client.put("/sim/v1/qr", json={"text": token, "seed": 4}).json()
    assert body["persona"] == "qr" and body["qr_chars"] == len(token)
    assert token not in json.dumps(client.get("/sim/v1/scene").json())  # a credential
    jpeg = first_part(simulator).partition(b"\r\n\r\n")[2][:-2]
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR),
                       cv2.COLOR_BGR2RGB)
    assert rgb.shape == (480, 640, 3)
    assert [d.payload for d in make_decoder("zxing").decode(rgb)] == [token.encode()]
    # The next scene replaces it.
    assert client.put("/sim/v1/scene", json={"persona": "empty"}).json()["qr_chars"] is None


def test_a_held_phone_is_never_frozen_for_the_camera_driver() -> None:
    scene = QrScene("eSSC_" + "k" * 51, seed=2, fps=15)
    checks = FrameChecks(frozen_after_s=3.0, dark_after_s=2.0, dark_luma=25.0)
    findings = {checks.observe(scene.frame(i / 15, None), i / 15).code for i in range(90)}
    assert findings == {"ok"}


@pytest.mark.parametrize("body", [
    {"text": ""}, {"text": "x" * 1025}, {"text": "ok", "module_px": 1},
    {"text": "ok", "tilt_deg": 80}, {"text": "ok", "width": 100}, {"text": "ok", "extra": 1},
    {}, [],
])
def test_a_bad_code_to_show_is_a_4xx_problem(client, body: Any) -> None:
    response = client.put("/sim/v1/qr", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/sim/v1/scene").json()["persona"] == "empty"


def test_bodies_are_bounded_and_must_be_json(client) -> None:
    huge = '{"persona": "live", "pad": "' + "x" * (MAX_BODY * 4) + '"}'
    response = client.put("/sim/v1/scene", content=huge,
                          headers={"content-type": "application/json"})
    assert response.status_code == 413
    for raw in (b"{", b"\xff\xfe", b'{"persona": "live"' + b" " * 10):
        response = client.put("/sim/v1/scene", content=raw,
                              headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, raw


def test_the_stand_in_draws_frames_the_driver_accepts() -> None:
    persona = StandInPersona("dark", seed=3, width=320, height=240)
    first, later = persona.frame(0.0, None), persona.frame(0.5, "blink")
    assert first.shape == (240, 320, 3) and first.flags["C_CONTIGUOUS"]
    assert first.mean() < 25 and not np.array_equal(first, later)


# The simulator as a real process, read by the production driver.


@pytest.fixture(scope="module")
def camera_service(tmp_path_factory) -> Iterator[services.HttpService]:
    with supervised(tmp_path_factory.mktemp("camera-sim") / "logs") as sup:
        try:
            # Starting with a face persona loads its photos once, before the tests ask.
            service = services.camera_sim(fps=15, persona="live")
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        yield service


@pytest.fixture
def scene(camera_service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=camera_service.url, timeout=120) as control:
        yield control
        control.put("/sim/v1/scene", json={"persona": "empty"})


@pytest.fixture
def camera(camera_service) -> Iterator[tuple[OpenCvCamera, queue.Queue[DeviceEvent]]]:
    cam = OpenCvCamera(f"{camera_service.url}/stream.mjpg", dark_after_s=0.5)
    events: queue.Queue[DeviceEvent] = queue.Queue()
    cam.subscribe(events.put)
    cam.start()
    try:
        yield cam, events
    finally:
        cam.stop()


def health_code(events: queue.Queue[DeviceEvent], code: str) -> None:
    seen = []
    while True:
        try:
            event = events.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError(f"no health {code!r}; saw {seen}") from None
        if isinstance(event, HealthChanged):
            seen.append(event.health.code)
            if event.health.code == code:
                return


def consecutive(cam: OpenCvCamera, count: int) -> list:
    frames, after = [], None
    for _ in range(count):
        frame = cam.next_frame(after, timeout_s=WAIT_S)
        assert frame is not None, f"no frame after #{after}"
        frames.append(frame)
        after = frame.sequence
    return frames


def test_the_driver_reads_the_simulator_like_an_ip_camera(camera, scene) -> None:
    cam, events = camera
    assert scene.put("/sim/v1/scene", json={"persona": "live", "seed": 1}).status_code == 200
    frames = consecutive(cam, 5)
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    health_code(events, "ok")
    assert scene.get("/sim/v1/scene").json()["frames"] >= 5


def test_a_dark_scene_is_too_dark_for_the_driver(camera, scene) -> None:
    _, events = camera
    health_code(events, "ok")
    assert scene.put("/sim/v1/scene", json={"persona": "dark"}).status_code == 200
    health_code(events, "too-dark")
    assert scene.put("/sim/v1/scene", json={"persona": "live"}).status_code == 200
    health_code(events, "ok")


def test_a_client_that_stops_reading_holds_up_nobody(camera_service, camera, scene) -> None:
    cam, _ = camera
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.connect(("127.0.0.1", camera_service.port))
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: camera\r\n\r\n")  # never reads
        wait_for(lambda: scene.get("/sim/v1/health").json()["clients"] >= 2,
                 "the stalled client to be streamed to")
        other = OpenCvCamera(f"{camera_service.url}/stream.mjpg")
        other.start()
        try:
            consecutive(other, 20)
            consecutive(cam, 20)
        finally:
            other.stop()
        assert scene.get("/sim/v1/health").json()["status"] == "ok"
    finally:
        stalled.close()
    wait_for(lambda: scene.get("/sim/v1/health").json()["clients"] == 1,
             "the closed clients to be let go")


def test_the_asked_action_reaches_the_scene(scene) -> None:
    assert scene.put("/sim/v1/scene", json={"persona": "live", "seed": 2}).status_code == 200
    assert scene.post("/sim/v1/act", json={"action": "turn-left"}).json()["action"] == "turn-left"
    assert scene.get("/sim/v1/scene").json()["action"] == "turn-left"
    assert scene.post("/sim/v1/act", json={"action": "jump"}).status_code == 422
    body = scene.put("/sim/v1/scene", json={"persona": "live", "seed": 2}).json()
    assert body["action"] is None and body["t"] < 5
