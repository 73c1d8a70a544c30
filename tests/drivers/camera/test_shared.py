"""One driver per camera device, shared by leases (drivers/camera/shared.py): on the real
OpenCvCamera reading a real MJPEG server over a socket, which counts how often it is opened."""

from __future__ import annotations

import gc
import logging
import queue
import threading
import weakref
from collections.abc import Iterator

import pytest

from common.backoff import Backoff
from drivers.base import DeviceEvent, HealthChanged, HealthState
from drivers.camera.interface import Camera
from drivers.camera.opencv import OpenCvCamera
from drivers.camera.shared import CameraLease, device_key, lease_camera
from drivers.registry import REGISTRY
from tests.drivers.camera.mjpeg_server import MjpegServer, noise_frames, part, streaming
from tests.harness.waiting import wait_for

FAST = Backoff(initial_s=0.05, max_s=0.2, jitter=0.0)
WAIT_S = 10.0


@pytest.fixture
def server() -> Iterator[MjpegServer]:
    with MjpegServer(streaming(lambda: (part(j) for j in noise_frames()), fps=30)) as running:
        yield running


def frames_after(lease: CameraLease, count: int) -> list[int]:
    """The sequences of `count` consecutive new frames the lease sees."""
    seen: list[int] = []
    after = None
    for _ in range(count):
        frame = lease.next_frame(after, timeout_s=WAIT_S)
        assert frame is not None, f"no frame after #{after}"
        seen.append(frame.sequence)
        after = frame.sequence
    return seen


def test_two_users_of_one_device_share_one_open_and_one_capture(server: MjpegServer) -> None:
    face = lease_camera(server.url, backoff=FAST)
    qr = lease_camera(server.url)
    assert isinstance(face, Camera) and isinstance(qr, Camera)
    assert face.owner is qr.owner
    face.start()
    qr.start()
    try:
        frames_after(face, 3)
        frame = qr.next_frame(timeout_s=WAIT_S)
        assert frame is not None
        # One capture thread and one connection for both.
        captures = [t for t in threading.enumerate() if t.name == f"camera {face.description}"]
        assert len(captures) == 1
        assert server.connections == 1
    finally:
        qr.stop()
        face.stop()


def test_the_device_runs_while_any_lease_is_started(server: MjpegServer) -> None:
    first, second = lease_camera(server.url, backoff=FAST), lease_camera(server.url)
    assert first.next_frame(timeout_s=0) is None, "not started: no frames"
    first.start()
    second.start()
    try:
        frames_after(second, 2)
        first.stop()
        assert first.latest_frame() is None and first.next_frame(timeout_s=0) is None
        assert first.health().reason == "not started"
        frames_after(second, 3)  # still running for the other
        assert second.owner.running
    finally:
        second.stop()
        first.stop()
    assert not second.owner.running
    assert second.owner.camera.latest_frame() is None, "the last stop stops the device"
    assert server.connections == 1


def test_one_device_has_one_name() -> None:
    assert device_key(0) == device_key("0") == device_key("/dev/video0")
    assert device_key("frames") == device_key("./frames") != device_key("other")
    assert lease_camera("7").owner is lease_camera(7).owner


def test_the_first_named_settings_win_and_a_preference_yields(server: MjpegServer,
                                                              caplog) -> None:
    url = server.url + "?settings"
    qr = lease_camera(url, prefer={"width": 1280, "height": 720})
    assert qr.owner._options == {"width": 1280, "height": 720}
    face = lease_camera(url, width=640, height=480)  # the camera kind names its own
    assert face.owner._options == {"width": 640, "height": 480}
    with caplog.at_level(logging.WARNING, logger="drivers.camera.shared"):
        other = lease_camera(url, width=320, height=240)
    assert other.owner._options == {"width": 640, "height": 480}
    assert "keeps" in caplog.text
    lease_camera(url, prefer={"width": 1920, "height": 1080})
    assert face.owner._options == {"width": 640, "height": 480}


def test_a_bad_setting_fails_at_set_up_and_leaves_the_device_alone(server: MjpegServer) -> None:
    url = server.url + "?bad"
    good = lease_camera(url)
    with pytest.raises(ValueError):
        lease_camera(url, width=0)
    assert isinstance(good.owner.camera, OpenCvCamera)
    assert lease_camera(url, width=320, height=240).owner._options == {
        "width": 320, "height": 240}, "the refused settings named nothing"


def test_events_reach_started_leases_and_a_joiner_learns_the_health(server) -> None:
    first, joiner = lease_camera(server.url, backoff=FAST), lease_camera(server.url)
    seen_first: queue.Queue[DeviceEvent] = queue.Queue()
    seen_joiner: queue.Queue[DeviceEvent] = queue.Queue()
    first.subscribe(seen_first.put)
    joiner.subscribe(seen_joiner.put)
    first.start()
    try:
        wait_for(lambda: first.health().state is HealthState.OK, "the camera to be ok")
        assert seen_joiner.empty(), "a lease not started hears nothing"
        joiner.start()
        event = seen_joiner.get(timeout=WAIT_S)
        assert isinstance(event, HealthChanged) and event.health.state is HealthState.OK
        assert any(isinstance(e, HealthChanged) for e in list(seen_first.queue))
    finally:
        joiner.stop()
        first.stop()


def test_a_device_nobody_leases_is_forgotten() -> None:
    lease = lease_camera("/tmp/forgotten-camera", width=320, height=240)
    owner = weakref.ref(lease.owner)
    del lease
    gc.collect()
    assert owner() is None
    assert lease_camera("/tmp/forgotten-camera").owner._options == {}


def test_the_registry_builds_shared_cameras(server: MjpegServer) -> None:
    camera = REGISTRY.build("camera", "real", source=server.url)
    assert isinstance(camera, CameraLease)
    assert camera.owner is lease_camera(server.url).owner
