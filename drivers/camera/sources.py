"""Where a camera's pixels come from: a V4L2 device, a video file, images, or an MJPEG URL.

Each source is opened and read on the capture thread only (capture.py). `read()` returns one
RGB frame within a bounded time or raises: a device through OpenCV's V4L2 backend with its
read timeout, files and folders from disk, and MJPEG over HTTP through our own small reader.
The URL is read without OpenCV's FFmpeg backend on purpose: FFmpeg decides on its own how
much of a garbage or oversized stream it buffers and how long a read may wait, whereas here
every part is bounded in bytes and pixels and every read has a deadline. `interrupt()`,
called from another thread, makes a blocked read return soon (best effort: stop() does not
wait for it anyway).
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

import numpy as np

from common.clock import Deadline
from drivers.camera.interface import MAX_HEIGHT, MAX_WIDTH

if TYPE_CHECKING:
    import cv2
    from numpy.typing import NDArray

# A JPEG of a 1920x1080 frame is 0.2-1 MB; a part beyond this is no camera frame.
MAX_PART_BYTES = 4 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024
# Images are decoded at a reduced scale when they are larger than a frame may be; beyond this
# many pixels (a decompression bomb, or no camera) they are refused without decoding.
MAX_SOURCE_PIXELS = 64_000_000
MAX_IMAGE_FILE_BYTES = 32 * 1024 * 1024
MAX_FOLDER_IMAGES = 10_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".mjpg", ".mjpeg", ".m4v")
# A stream that sends this many undecodable parts in a row is broken, not unlucky.
MAX_BAD_PARTS = 5
_POLL_S = 0.2  # socket timeout: how often a blocked URL read looks at interrupt()


class SourceMissing(Exception):
    """The source cannot be opened: no such device or file, nobody listening."""


class SourceFailed(Exception):
    """The source opened but does not give frames (read error, timeout, broken stream)."""


class FrameSource(Protocol):
    description: str  # for logs and CameraStarted: no credentials, no personal data
    paced: bool  # True when reads wait for the next frame (devices, streams); files are not

    def open(self) -> None: ...

    def read(self) -> NDArray[np.uint8]: ...

    def close(self) -> None: ...

    def interrupt(self) -> None: ...


def fit_within(rgb: NDArray[np.uint8], max_width: int = MAX_WIDTH,
               max_height: int = MAX_HEIGHT) -> NDArray[np.uint8]:
    """Scale down (keeping the aspect) to at most max_width x max_height; C-contiguous."""
    import cv2  # here, not at import: OpenCV costs a start ~0.4 s and RSS
    height, width = rgb.shape[:2]
    scale = min(max_width / width, max_height / height, 1.0)
    if scale < 1.0:
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def bgr_to_rgb(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """OpenCV's BGR (or gray, or BGRA) to the RGB the face engine needs."""
    import cv2
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the image's header without decoding it; None if it is no image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def decode_image(data: bytes) -> NDArray[np.uint8] | None:
    """An encoded image (JPEG, PNG, ...) as an RGB frame within the size limits, or None.

    The header is read first: an image bigger than a frame is decoded at 1/2, 1/4 or 1/8
    scale by libjpeg itself (cheap), one beyond MAX_SOURCE_PIXELS is not decoded at all.
    """
    import cv2
    size = _image_size(data)
    if size is None or size[0] <= 0 or size[1] <= 0 or size[0] * size[1] > MAX_SOURCE_PIXELS:
        return None
    flag = cv2.IMREAD_COLOR
    for reduction, reduced_flag in ((8, cv2.IMREAD_REDUCED_COLOR_8),
                                    (4, cv2.IMREAD_REDUCED_COLOR_4),
                                    (2, cv2.IMREAD_REDUCED_COLOR_2)):
        # The largest reduction that still leaves at least a frame's worth of pixels.
        if size[0] // reduction >= MAX_WIDTH or size[1] // reduction >= MAX_HEIGHT:
            flag = reduced_flag
            break
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if image is None or image.size == 0:
        return None
    return fit_within(bgr_to_rgb(image))


def describe(source: str | int | Path) -> str:
    """A printable name of a source: a URL without its user and password."""
    if isinstance(source, str) and re.match(r"^https?://", source, re.IGNORECASE):
        parts = urlsplit(source)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    return str(source)


def make_source(source: str | int | Path, *, width: int, height: int, fps: float,
                open_timeout_s: float, read_timeout_s: float) -> FrameSource:
    """The FrameSource for what a setting names (nothing is opened yet)."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return DeviceSource(int(source), width=width, height=height, fps=fps,
                            open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s)
    if isinstance(source, str) and re.match(r"^https?://", source, re.IGNORECASE):
        return MjpegUrlSource(source, open_timeout_s=open_timeout_s,
                              read_timeout_s=read_timeout_s)
    path = Path(source)
    if str(path).startswith("/dev/"):
        return DeviceSource(str(path), width=width, height=height, fps=fps,
                            open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return VideoFileSource(path)
    # Not there yet, or a folder: decided when it opens (a folder may be mounted later).
    return ImageSource(path) if not path.is_file() else VideoFileSource(path)


class DeviceSource:
    """A V4L2 camera through OpenCV (index N or /dev/videoN)."""

    paced = True

    def __init__(self, device: int | str, *, width: int, height: int, fps: float,
                 open_timeout_s: float, read_timeout_s: float) -> None:
        self.device = device
        self.description = f"/dev/video{device}" if isinstance(device, int) else device
        self._size = (width, height)
        self._fps = fps
        self._open_ms = int(open_timeout_s * 1000)
        self._read_ms = int(read_timeout_s * 1000)
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        # Looked up first: OpenCV would log two warnings for each retry of an absent camera.
        if not Path(self.description).exists():
            raise SourceMissing(f"no device {self.description}")
        import cv2

        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._open_ms,
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, self._read_ms]
        capture = cv2.VideoCapture(self.device, cv2.CAP_V4L2, params)
        if not capture.isOpened():
            capture.release()
            raise SourceMissing(f"cannot open {self.description}")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
        capture.set(cv2.CAP_PROP_FPS, self._fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of old ones
        self._capture = capture

    def read(self) -> NDArray[np.uint8]:
        if self._capture is None:
            raise SourceFailed("not open")
        ok, image = self._capture.read()
        if not ok or image is None or image.size == 0:
            raise SourceFailed(f"{self.description} gave no frame")
        return fit_within(bgr_to_rgb(image))

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def interrupt(self) -> None:
        pass  # V4L2 reads end by their own read timeout


class VideoFileSource:
    """A video file, played in a loop at the camera's pace (the capture loop paces it)."""

    paced = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self._capture: cv2.VideoCapture | None = None

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceMissing(f"no video file {self.path}")
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceMissing(f"cannot open video {self.path}")
        self._capture = capture

    def read(self) -> NDArray[np.uint8]:
        if self._capture is None:
            raise SourceFailed("not open")
        ok, image = self._capture.read()
        if not ok:  # the end: loop
            import cv2

            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        if not ok or image is None or image.size == 0:
            raise SourceFailed(f"{self.path} gave no frame")
        return fit_within(bgr_to_rgb(image))

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def interrupt(self) -> None:
        pass


class ImageSource:
    """One image, or a folder of images in name order, looped."""

    paced = False

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self._files: Sequence[Path] = ()
        self._next = 0
        self._bad_in_a_row = 0

    def open(self) -> None:
        if self.path.is_dir():
            files = sorted(p for p in self.path.iterdir()
                           if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            files = files[:MAX_FOLDER_IMAGES]
            if not files:
                raise SourceMissing(f"no images in {self.path}")
        elif self.path.is_file():
            files = [self.path]
        else:
            raise SourceMissing(f"no such image or folder {self.path}")
        self._files, self._next, self._bad_in_a_row = files, 0, 0

    def read(self) -> NDArray[np.uint8]:
        if not self._files:
            raise SourceFailed("not open")
        for _ in range(min(len(self._files), MAX_BAD_PARTS)):
            path = self._files[self._next]
            self._next = (self._next + 1) % len(self._files)
            rgb = self._load(path)
            if rgb is not None:
                return rgb
        raise SourceFailed(f"images in {self.path} do not decode")

    @staticmethod
    def _load(path: Path) -> NDArray[np.uint8] | None:
        try:
            if path.stat().st_size > MAX_IMAGE_FILE_BYTES:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        return decode_image(data)

    def close(self) -> None:
        self._files = ()

    def interrupt(self) -> None:
        pass


class _Connection:
    """A socket read with a deadline per call and a flag that ends a wait from outside."""

    def __init__(self, sock: socket.socket, interrupted: threading.Event) -> None:
        self._sock = sock
        self._interrupted = interrupted
        self._buffer = bytearray()
        sock.settimeout(_POLL_S)

    def _fill(self, deadline: Deadline) -> None:
        while True:
            if self._interrupted.is_set():
                raise SourceFailed("interrupted")
            if deadline.expired:
                raise SourceFailed("the stream sent no frame in time")
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            except (OSError, ssl.SSLError) as exc:
                raise SourceFailed(f"stream read failed: {exc}") from exc
            if not chunk:
                raise SourceFailed("the stream ended")
            self._buffer += chunk
            return

    def read_until(self, delimiter: bytes, limit: int, deadline: Deadline) -> bytes:
        """Bytes up to and including `delimiter`; SourceFailed past `limit` bytes."""
        start = 0
        while True:
            found = self._buffer.find(delimiter, start)
            if found >= 0:
                end = found + len(delimiter)
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            if len(self._buffer) > limit:
                raise SourceFailed("the stream sent an oversized part")
            start = max(0, len(self._buffer) - len(delimiter) + 1)
            self._fill(deadline)

    def read_exactly(self, count: int, deadline: Deadline) -> bytes:
        while len(self._buffer) < count:
            self._fill(deadline)
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise SourceFailed(f"request failed: {exc}") from exc

    def push_back(self, data: bytes) -> None:
        """Put bytes back in front of what is still to be read."""
        self._buffer[:0] = data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


class MjpegUrlSource:
    """An MJPEG IP camera (multipart/x-mixed-replace over HTTP), as the camera simulator serves.

    Each part is bounded (MAX_PART_BYTES, MAX_SOURCE_PIXELS); a part that does not decode is
    skipped alone, MAX_BAD_PARTS in a row end the connection (the capture loop reconnects).
    """

    paced = True

    def __init__(self, url: str, *, open_timeout_s: float, read_timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("an MJPEG source is an http(s) URL")
        self.url = url
        self.description = describe(url)
        self._parts = parts
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._interrupted = threading.Event()
        self._connection: _Connection | None = None
        self._boundary = b""

    def open(self) -> None:
        # Not cleared here: each attempt gets a fresh source, and an interrupt() that came
        # before open() still counts.
        deadline = Deadline(self._open_timeout_s)
        parts = self._parts
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        host = parts.hostname or ""
        try:
            sock = socket.create_connection((host, port), timeout=max(deadline.remaining(), 0.05))
            if https:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as exc:
            raise SourceMissing(f"{self.description} not reachable: {exc}") from exc
        connection = _Connection(sock, self._interrupted)
        try:
            self._boundary = self._handshake(connection, host, port, deadline)
        except SourceFailed as exc:
            connection.close()
            raise SourceMissing(f"{self.description}: {exc}") from exc
        self._connection = connection

    def _handshake(self, connection: _Connection, host: str, port: int,
                   deadline: Deadline) -> bytes:
        parts = self._parts
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}",
                 "Accept: multipart/x-mixed-replace", "Connection: close",
                 "User-Agent: hrss-kiosk-camera"]
        if parts.username is not None:
            credentials = f"{parts.username}:{parts.password or ''}".encode()
            lines.append("Authorization: Basic " + base64.b64encode(credentials).decode())
        connection.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = connection.read_until(b"\r\n\r\n", MAX_HEADER_BYTES, deadline)
        status_line, _, rest = head.partition(b"\r\n")
        match = re.match(rb"^HTTP/1\.[01] (\d{3})", status_line)
        if match is None or match.group(1) != b"200":
            raise SourceFailed(f"answered {status_line[:60]!r}")
        content_type = _headers(rest).get("content-type", "")
        found = re.search(r'boundary="?([^";,\s]{1,70})"?', content_type, re.IGNORECASE)
        if not content_type.lower().startswith("multipart/") or found is None:
            raise SourceFailed("not an MJPEG stream (multipart with a boundary)")
        boundary = found.group(1)
        # Some cameras put the dashes into the header's boundary already.
        return ("--" + boundary.removeprefix("--")).encode("latin-1")

    def read(self) -> NDArray[np.uint8]:
        connection = self._connection
        if connection is None:
            raise SourceFailed("not open")
        deadline = Deadline(self._read_timeout_s)
        for _ in range(MAX_BAD_PARTS):
            data = self._next_part(connection, deadline)
            rgb = decode_image(data) if data is not None else None
            if rgb is not None:
                return rgb
        raise SourceFailed("the stream's parts do not decode as images")

    def _next_part(self, connection: _Connection, deadline: Deadline) -> bytes | None:
        """One part's body (None for a part that is no image); SourceFailed on a broken stream."""
        # Whatever comes before the boundary (the previous part's trailing CRLF, or garbage a
        # camera inserts) is skipped, as long as it stays within a part's size.
        connection.read_until(self._boundary, MAX_PART_BYTES, deadline)
        block = connection.read_until(b"\r\n\r\n", MAX_HEADER_BYTES, deadline)
        headers = _headers(block)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_PART_BYTES:
                raise SourceFailed("the stream announced an oversized part")
            body = connection.read_exactly(int(length), deadline)
        else:  # no length: the body runs to the next boundary, which stays in the buffer
            body = connection.read_until(self._boundary, MAX_PART_BYTES, deadline)
            body = body[: -len(self._boundary)]
            connection.push_back(self._boundary)
        if not headers.get("content-type", "image/jpeg").lower().startswith("image/"):
            return None
        return body

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def interrupt(self) -> None:
        self._interrupted.set()
