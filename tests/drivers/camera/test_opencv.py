"""OpenCvCamera on real OpenCV and real sockets: files, folders, video, MJPEG over HTTP; health
from the frames; stop() prompt whatever the source does."""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.backoff import Backoff
from drivers.base import DeviceEvent, HealthChanged
from drivers.camera.capture import CaptureCamera
from drivers.camera.interface import MAX_HEIGHT, MAX_WIDTH, Camera, CameraStarted, Frame
from drivers.camera.opencv import OpenCvCamera
from drivers.camera.sources import MAX_PART_BYTES
from simulators.stack.ports import free_port
from tests.drivers.camera.mjpeg_server import (
    MjpegServer,
    hanging,
    noise_frames,
    part,
    streaming,
)

FAST = Backoff(initial_s=0.05, max_s=0.2, jitter=0)
WAIT_S = 10.0


class Watched:
    """A camera with its events in a queue, stopped at the end of the test."""

    def __init__(self, camera: OpenCvCamera) -> None:
        self.camera = camera
        self.events: queue.Queue[DeviceEvent] = queue.Queue()
        camera.subscribe(self.events.put)

    def health_code(self, code: str, timeout: float = WAIT_S) -> HealthChanged:
        """The next HealthChanged with `code`; fails on timeout with what came instead."""
        seen = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(event, HealthChanged):
                seen.append(event.health.code)
                if event.health.code == code:
                    return event
        raise AssertionError(f"no health {code!r} within {timeout}s; saw {seen}")

    def frames(self, count: int, timeout: float = WAIT_S) -> list[Frame]:
        got: list[Frame] = []
        after: int | None = None
        while len(got) < count:
            frame = self.camera.next_frame(after, timeout_s=timeout)
            assert frame is not None, f"no frame after #{after}"
            got.append(frame)
            after = frame.sequence
        return got


@pytest.fixture
def watch() -> Iterator[Callable[..., Watched]]:
    started: list[OpenCvCamera] = []

    def make(source: object, **options: object) -> Watched:
        options.setdefault("backoff", FAST)
        camera = OpenCvCamera(source, **options)  # type: ignore[arg-type]
        watched = Watched(camera)
        camera.start()
        started.append(camera)
        return watched

    yield make
    for camera in started:
        camera.stop()


def write_images(folder: Path, images: list[np.ndarray], suffix: str = ".jpg") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, rgb in enumerate(images):
        assert cv2.imwrite(str(folder / f"{i:03d}{suffix}"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def solid(rgb: tuple[int, int, int], width: int = 160, height: int = 120) -> np.ndarray:
    return np.full((height, width, 3), rgb, dtype=np.uint8)


def noisy(seed: int, width: int = 160, height: int = 120, low: int = 90,
          high: int = 170) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, size=(height, width, 3), dtype=np.uint8)


def test_keeps_the_camera_interface() -> None:
    camera = OpenCvCamera("http://127.0.0.1:1/stream.mjpg")
    assert isinstance(camera, Camera) and camera.kind == "camera"
    assert camera.latest_frame() is None and camera.next_frame(timeout_s=0) is None
    assert camera.health().state == "missing"
    camera.stop()  # before start: nothing to do


def test_a_folder_plays_in_order_as_rgb_and_loops(watch, tmp_path: Path) -> None:
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]  # red, green, blue in RGB
    folder = write_images(tmp_path / "frames", [solid(c) for c in colours], suffix=".png")
    cam = watch(folder, fps=60)
    frames = cam.frames(7)
    sequences = [f.sequence for f in frames]
    assert sequences == sorted(set(sequences))  # a slow reader may skip frames, never repeat
    started = [e for e in list(cam.events.queue) if isinstance(e, CameraStarted)]
    assert started and (started[0].width, started[0].height) == (160, 120)
    # One open: frame number s is file s mod 3, in RGB order.
    assert [tuple(int(v) for v in f.pixels[0, 0]) for f in frames] == [
        colours[f.sequence % 3] for f in frames]
    for frame in frames:
        assert frame.pixels.flags["C_CONTIGUOUS"] and frame.pixels.dtype == np.uint8


def test_a_video_file_is_read_as_rgb_and_loops(watch, tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (160, 120))
    assert writer.isOpened()
    for i in range(5):
        bgr = np.zeros((120, 160, 3), dtype=np.uint8)
        bgr[:, :, 0] = 255  # blue in OpenCV's BGR order
        bgr[:8, :8] = 40 * i  # each frame differs a little, so it is not "frozen"
        writer.write(bgr)
    writer.release()
    cam = watch(path, fps=60)
    frames = cam.frames(8)
    assert frames[-1].sequence >= 7  # more frames than the file holds: it looped
    assert {(f.width, f.height) for f in frames} == {(160, 120)}
    red, green, blue = (int(v) for v in frames[-1].pixels[60, 80])
    assert blue > 200 and red < 40 and green < 40
    assert cam.camera.health().code == "ok"


def test_a_single_image_that_is_too_large_is_scaled_down(watch, tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    assert cv2.imwrite(str(big), noisy(1, width=3840, height=1600))
    frame = watch(big).frames(1)[0]
    assert frame.width <= MAX_WIDTH and frame.height <= MAX_HEIGHT
    assert frame.width == MAX_WIDTH  # the aspect is kept: the width binds
    assert abs(frame.width / frame.height - 3840 / 1600) < 0.01


def test_one_image_looped_is_frozen(watch, tmp_path: Path) -> None:
    folder = write_images(tmp_path / "still", [noisy(2)])
    cam = watch(folder, fps=60, frozen_after_s=0.3)
    cam.health_code("ok")
    event = cam.health_code("frozen")
    assert event.health.state == "degraded"
    assert cam.camera.latest_frame() is not None  # frames keep coming: frozen is no outage


def test_changing_frames_are_not_frozen(watch, tmp_path: Path) -> None:
    folder = write_images(tmp_path / "moving", [noisy(i) for i in range(3)])
    cam = watch(folder, fps=60, frozen_after_s=0.2)
    cam.frames(40)  # well over 0.2 s of frames
    assert cam.camera.health().code == "ok"
    assert not [e for e in list(cam.events.queue)
                if isinstance(e, HealthChanged) and e.health.code == "frozen"]


def test_black_frames_are_too_dark_before_they_are_frozen(watch, tmp_path: Path) -> None:
    folder = write_images(tmp_path / "dark", [solid((3, 3, 3)), solid((5, 5, 5))])
    cam = watch(folder, fps=60, dark_after_s=0.2, frozen_after_s=0.2)
    event = cam.health_code("too-dark")
    assert event.health.state == "degraded"


def test_a_missing_folder_is_missing_then_found(watch, tmp_path: Path) -> None:
    folder = tmp_path / "later"
    cam = watch(folder)
    assert cam.health_code("camera-missing").health.state == "missing"
    write_images(folder, [noisy(i) for i in range(2)])
    cam.health_code("ok")
    assert cam.camera.next_frame(timeout_s=WAIT_S) is not None


def test_an_mjpeg_url_gives_frames(watch) -> None:
    with MjpegServer(streaming(lambda: (part(j) for j in noise_frames()))) as server:
        cam = watch(server.url)
        frames = cam.frames(5)
        assert (frames[0].width, frames[0].height) == (160, 120)
        cam.health_code("ok")


def test_a_closed_port_is_missing_until_the_camera_comes_up(watch) -> None:
    port = free_port()
    cam = watch(f"http://127.0.0.1:{port}/stream.mjpg")
    assert cam.health_code("camera-missing").health.state == "missing"
    with MjpegServer(streaming(lambda: (part(j) for j in noise_frames())), port=port):
        cam.health_code("ok")
        assert cam.camera.next_frame(timeout_s=WAIT_S) is not None


def test_garbage_parts_are_skipped_alone(watch) -> None:
    def parts() -> Iterator[bytes]:
        frames = noise_frames()
        while True:
            yield b"\x00garbage before the boundary\r\n"
            yield part(b"not a jpeg at all")
            yield part(b"<html>", content_type=b"text/html")
            yield part(next(frames))

    with MjpegServer(streaming(parts)) as server:
        cam = watch(server.url)
        cam.frames(4)
        assert server.connections == 1  # no reconnect: each bad part was dropped by itself


def test_an_oversized_part_drops_the_connection_and_reconnects(watch) -> None:
    def parts() -> Iterator[bytes]:
        frames = noise_frames()
        yield part(next(frames))
        # Announces more than a frame may be; the driver must not wait for (or buffer) it.
        yield part(b"x" * 1024, length=MAX_PART_BYTES + 1)
        yield from (part(next(frames)) for _ in range(1000))

    with MjpegServer(streaming(parts)) as server:
        cam = watch(server.url)
        cam.health_code("ok")
        cam.health_code("camera-error")
        cam.health_code("ok")
        assert server.connections >= 2


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_part_of_too_many_pixels_is_not_decoded(watch) -> None:
    from PIL import Image

    # A PNG of 10000 x 10000 pixels compresses to a few hundred KB: a decompression bomb.
    buffer = io.BytesIO()
    Image.new("L", (10000, 10000)).save(buffer, "PNG")
    bomb = buffer.getvalue()
    assert len(bomb) < MAX_PART_BYTES

    def parts() -> Iterator[bytes]:
        frames = noise_frames()
        while True:
            yield part(bomb, content_type=b"image/png")
            yield part(next(frames))

    with MjpegServer(streaming(parts, fps=60)) as server:
        frames = watch(server.url).frames(3)
        assert {(f.width, f.height) for f in frames} == {(160, 120)}


def test_stop_is_prompt_while_the_stream_hangs(watch) -> None:
    with MjpegServer(hanging) as server:
        cam = watch(server.url, read_timeout_s=30.0)
        assert server.accepted.wait(WAIT_S)
        began = time.monotonic()
        assert cam.camera.next_frame(timeout_s=0.2) is None  # bounded by its timeout
        assert cam.camera.latest_frame() is None  # never blocks
        waited = time.monotonic() - began
        began = time.monotonic()
        cam.camera.stop()
        stopped = time.monotonic() - began
        assert waited < 1.0 and stopped < 1.0
        cam.events.queue.clear()
        cam.camera.stop()  # idempotent
        assert cam.events.empty()  # nothing published after stop()


def test_a_stream_that_goes_silent_is_an_error_then_reconnects(watch) -> None:
    def parts() -> Iterator[bytes]:
        frames = noise_frames()
        yield from (part(next(frames)) for _ in range(3))
        yield b""  # then silence, without closing: only the read deadline notices

    def silent_after_three(conn, stop) -> None:
        streaming(parts)(conn, stop)
        stop.wait()

    with MjpegServer(silent_after_three) as server:
        cam = watch(server.url, read_timeout_s=0.5)
        cam.health_code("ok")
        assert "no frame in time" in cam.health_code("camera-error").health.reason
        cam.health_code("ok")  # reconnected: the next connection starts with frames again
        assert server.connections >= 2


def test_next_frame_wakes_at_stop_and_restart_counts_from_zero(watch, tmp_path: Path) -> None:
    folder = write_images(tmp_path / "frames", [noisy(i) for i in range(2)])
    cam = watch(folder, fps=30)
    cam.frames(2)
    cam.camera.stop()
    assert cam.camera.next_frame(timeout_s=0.1) is None and cam.camera.latest_frame() is None
    cam.camera.start()
    assert cam.camera.next_frame(-1, timeout_s=WAIT_S).sequence == 0


class StuckSource:
    """A source whose read cannot be interrupted (as an OpenCV read on a wedged device)."""

    description = "stuck"
    paced = True

    def __init__(self) -> None:
        self.reading = threading.Event()
        self.release = threading.Event()
        self.closed = threading.Event()

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        self.reading.set()
        self.release.wait(WAIT_S)  # ignores interrupt() on purpose
        return noisy(0)

    def close(self) -> None:
        self.closed.set()

    def interrupt(self) -> None:
        pass


def test_stop_abandons_a_read_that_cannot_be_interrupted() -> None:
    source = StuckSource()
    camera = CaptureCamera(lambda: source, description="stuck", backoff=FAST)
    watched = Watched(camera)
    camera.start()
    assert source.reading.wait(WAIT_S)
    began = time.monotonic()
    camera.stop()
    assert time.monotonic() - began < 1.0
    watched.events.queue.clear()
    source.release.set()  # the read returns late: its frame is dropped, the source closed
    assert source.closed.wait(WAIT_S)
    assert camera.latest_frame() is None and watched.events.empty()


@pytest.mark.parametrize("device", [63, "63", "/dev/video63"])
def test_an_absent_v4l2_device_is_missing(watch, device: object) -> None:
    cam = watch(device)
    event = cam.health_code("camera-missing")
    assert "/dev/video63" in event.health.reason
    began = time.monotonic()
    cam.camera.stop()
    assert time.monotonic() - began < 1.0


def test_the_registry_builds_it_for_real_and_simulated_cameras(tmp_path: Path) -> None:
    from drivers.registry import REGISTRY

    # A lease on the process's one OpenCvCamera of that device (drivers/camera/shared.py).
    simulated = REGISTRY.build("camera", "simulated")
    assert isinstance(simulated.owner.camera, OpenCvCamera)  # type: ignore[attr-defined]
    assert simulated.description == "http://127.0.0.1:8710/stream.mjpg"  # type: ignore[attr-defined]
    real = REGISTRY.build("camera", "real", source=str(tmp_path))
    assert isinstance(real.owner.camera, OpenCvCamera)  # type: ignore[attr-defined]
    assert real.description == str(tmp_path)  # type: ignore[attr-defined]
    assert REGISTRY.build("camera", "real", source="http://[bad").health().code == (
        "driver-unavailable")


def test_a_url_is_described_without_its_credentials() -> None:
    camera = OpenCvCamera("http://admin:secret@10.0.0.7:8080/video.mjpg?token=abc")
    assert camera.description == "http://10.0.0.7:8080/video.mjpg"
