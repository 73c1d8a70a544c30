"""OpenCvCamera: the kiosk's camera driver, on a V4L2 device, a file, a folder or an MJPEG URL.

    OpenCvCamera(0)                                   # /dev/video0 through OpenCV's V4L2 backend
    OpenCvCamera("/dev/video2", width=1280, height=720)
    OpenCvCamera("clip.mp4") / OpenCvCamera("frames/") / OpenCvCamera("still.jpg")  # looped
    OpenCvCamera("http://127.0.0.1:8710/stream.mjpg") # an MJPEG IP camera, or the camera simulator

Constructing does no I/O (the registry builds drivers at start-up); start() opens the source
on the capture thread (capture.py) and keeps retrying while it is missing.
"""

from __future__ import annotations

import time
from pathlib import Path

from common.backoff import Backoff
from common.clock import Monotonic
from drivers.camera.capture import CaptureCamera
from drivers.camera.sources import FrameSource, describe, make_source

DEFAULT_SIMULATOR_URL = "http://127.0.0.1:8710/stream.mjpg"  # `kioskctl sim camera serve`


class OpenCvCamera(CaptureCamera):
    def __init__(
        self,
        source: str | int | Path = 0,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        frozen_after_s: float = 3.0,
        dark_after_s: float = 2.0,
        dark_luma: float = 25.0,
        backoff: Backoff | None = None,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 3.0,
        clock: Monotonic = time.monotonic,
    ) -> None:
        if not (0 < width <= 4096 and 0 < height <= 4096):
            raise ValueError("width and height are in (0, 4096]")
        if open_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("timeouts are positive")
        self.source = source

        def build() -> FrameSource:
            return make_source(source, width=width, height=height, fps=fps,
                               open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s)

        build()  # a URL that is no URL fails here, at set-up, not in the thread
        super().__init__(
            build, description=describe(source), fps=fps, frozen_after_s=frozen_after_s,
            dark_after_s=dark_after_s, dark_luma=dark_luma, backoff=backoff, clock=clock,
        )


def simulated_camera(source: str = DEFAULT_SIMULATOR_URL, **options: object) -> OpenCvCamera:
    """The production driver reading the camera simulator's MJPEG stream (drivers/registry.py):
    `kioskctl sim camera serve` on its default port unless `source` names another URL."""
    return OpenCvCamera(source, **options)  # type: ignore[arg-type]
