"""The shell's half of the commands answered with their work's result (restart-app, reboot,
maintenance, logs, screenshot; `fleet.agent.commands.shell_work`).

`take` sees every incoming command on the agent's main thread before the core does. A command
of these kinds that the core would run (ours, unexpired, not answered, arguments valid) is
queued for this module's one worker thread; everything else goes to the core unchanged. When
the work ends, the command goes to the core with the result under `WORK_KEY` (`Worked`), dated
when the work started (so a command taken within its TTL is not answered `expired` because
the work took a while); the core records and publishes the answer as for any command.

Work that must never happen twice (a restart, a reboot: either may end this process before the
answer is recorded) writes a marker first; a redelivery of a command whose marker is there is
answered from it, never run again. Every call has a total deadline; `stop` leaves a running
hook running (a restart cut in half is worse) and returns promptly.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import queue
import stat
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from common.clock import Clock, Deadline
from common.files import write_atomically
from common.masking import redact
from fleet.agent.commands.base import BadArgs, CommandHandler
from fleet.agent.commands.logs import MAX_RESULT_BYTES
from fleet.agent.commands.screenshot import MAX_PNG_B64_BYTES
from fleet.agent.commands.shell_work import WORK_KEY, is_shell_command, without_work
from fleet.agent.kiosk_control import KioskControl, KioskControlError
from fleet.agent.records import AnsweredCommand
from fleet.agent.settings import AgentSettings
from fleet.agent.update.health import TerminalStatus, lock_free
from fleet.protocol.codec import ProtocolError, decode, encode
from fleet.protocol.messages import Command

log = logging.getLogger(__name__)

#: Commands waiting for the worker; more are answered `error` ("busy") at once.
MAX_PENDING = 8
#: `logs` reads at most this much of a file's end (a log line past it is not read at all).
TAIL_READ_BYTES = 128 * 1024
MAX_LINE_CHARS = 2000
#: Screenshots: the largest image decoded (pixels), and the narrowest one sent.
MAX_PIXELS = 16_000_000
MIN_WIDTH = 32
POLL_S = 0.05

Work = dict[str, Any]  # {"status": "ok"|"error", "output": {...}}


def ok(**output: Any) -> Work:
    return {"status": "ok", "output": output}


def failed(error: str, **output: Any) -> Work:
    return {"status": "error", "output": {"error": error, **output}}


@dataclass(frozen=True)
class Worked:
    """A command whose work ended: hand `payload` to the core with `now=started_at`."""

    command_id: str
    payload: bytes
    started_at: datetime


@dataclass(frozen=True)
class _Item:
    command: Command
    args: dict[str, Any]


class ShellCommands:
    def __init__(
        self,
        settings: AgentSettings,
        handlers: Mapping[str, CommandHandler],
        answered: Callable[[str], AnsweredCommand | None],
        done: Callable[[Worked], None],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self._handlers = handlers
        self._answered = answered
        self._done = done
        self._clock = clock
        self._stop = threading.Event()
        self._queue: queue.Queue[_Item] = queue.Queue(MAX_PENDING)
        self._in_flight: set[str] = set()  # taken, not yet answered by the core (main thread)
        self._markers = settings.state_dir / "shell-commands"
        self._control = KioskControl(settings.kiosk_status_url, settings.kiosk_control_token_file,
                                     settings.kiosk_control_timeout_s, self._stop)
        # One read per command, not one per health interval: the longer control deadline.
        self._status = TerminalStatus(settings.kiosk_status_url,
                                      settings.kiosk_control_timeout_s, None,
                                      settings.edge_timeout_s, self._stop)
        self._worker = threading.Thread(target=self._work, name="shell-commands", daemon=True)

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout_s: float) -> None:
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(timeout_s)

    # -- main thread ------------------------------------------------------------------------

    def take(self, payload: bytes) -> bytes | None:
        """The payload for the core now, or None: the work was queued (or is under way) and
        the command comes back as a `Worked`."""
        try:
            command = decode(payload, Command)
        except ProtocolError:
            return payload  # the core drops it, and says why
        assert isinstance(command, Command)
        handler = self._handlers.get(command.name)
        if not is_shell_command(handler):
            return payload
        if WORK_KEY in command.args:  # only this module may say what the work did
            command = command.model_copy(update={"args": without_work(command.args)})
            payload = encode(command)
        if command.id in self._in_flight:
            log.info("command %s (%s) is under way; the redelivery waits for it", command.id,
                     command.name)
            return None
        args = self._runnable(command, handler)
        if args is None:
            return payload  # the core rejects, expires or repeats it
        try:
            self._queue.put_nowait(_Item(command, args))
        except queue.Full:
            return self._with_work(command, failed("busy", pending=MAX_PENDING))
        self._in_flight.add(command.id)
        return None

    def _runnable(self, command: Command, handler: Any) -> dict[str, Any] | None:
        """The validated arguments when the core would run `command`, else None."""
        if command.device_id != self.settings.device_id or command.expired(self._clock()) \
                or self._answered(command.id) is not None:
            return None
        try:
            return dict(handler.parse(dict(command.args)))
        except BadArgs:
            return None  # the core answers `rejected`

    def handed_back(self, command_id: str) -> None:
        """The core has answered a `Worked` command (a redelivery now finds its record)."""
        self._in_flight.discard(command_id)

    @staticmethod
    def _with_work(command: Command, work: Work) -> bytes:
        return encode(command.model_copy(update={"args": {**command.args, WORK_KEY: work}}))

    # -- the worker thread ------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=POLL_S * 5)
            except queue.Empty:
                continue
            started = self._clock()
            if item.command.expired(started):  # waited past its TTL: the core says `expired`
                self._done(Worked(item.command.id, encode(item.command), started))
                continue
            try:
                work = self.run(item.command, item.args)
            except Exception as exc:  # a bug must not stop the worker
                log.exception("command %s (%s) failed", item.command.id, item.command.name)
                work = failed(type(exc).__name__)
            if work is None:
                continue  # stopping mid-work: the next process answers the redelivery
            try:
                payload = self._with_work(item.command, work)
            except ProtocolError:  # over the payload limit: a bug in a bound above
                log.error("command %s (%s): its result is too large", item.command.id,
                          item.command.name)
                payload = self._with_work(item.command, failed("result-too-large"))
            self._done(Worked(item.command.id, payload, started))

    def run(self, command: Command, args: dict[str, Any]) -> Work | None:
        """Do the work of `command` (validated `args`); None when the agent stopped first."""
        match command.name:
            case "restart-app":
                return self._restart_app(command)
            case "reboot":
                return self._reboot(command, args)
            case "maintenance":
                return self._maintenance(args)
            case "logs":
                return self._logs(args)
            case "screenshot":
                return self._screenshot()
        return failed("no work for this command here")

    # restart-app and reboot: never twice ---------------------------------------------------

    def _marker(self, command: Command) -> Path:
        return self._markers / f"{command.name}.json"

    def _marked(self, command: Command) -> dict[str, Any] | None:
        try:
            marker = json.loads(self._marker(command).read_bytes()[:4096])
        except (OSError, ValueError):
            return None
        return marker if isinstance(marker, dict) and marker.get("id") == command.id else None

    def _mark(self, command: Command) -> None:
        self._markers.mkdir(parents=True, exist_ok=True)
        write_atomically(self._marker(command),
                         json.dumps({"id": command.id, "boot_time": psutil.boot_time()}))

    @staticmethod
    def _ran_before(marker: dict[str, Any]) -> Work:
        """It ran, and this process (or the host) was restarted before the answer was kept."""
        return ok(ran_before=True, rebooted=marker.get("boot_time") != psutil.boot_time())

    def _restart_app(self, command: Command) -> Work | None:
        marker = self._marked(command)
        if marker is not None:
            return self._ran_before(marker)
        self._mark(command)
        return self._run_hook(list(self.settings.restart_command),
                              self.settings.restart_timeout_s, "restart-app")

    def _reboot(self, command: Command, args: dict[str, Any]) -> Work | None:
        marker = self._marked(command)
        if marker is not None:
            return self._ran_before(marker)
        observation = self._status.observe()
        if observation.kiosk is not None and observation.kiosk.session_active:
            return failed("session-active")
        free, why = lock_free(observation)
        if not free and not args["force"]:
            return failed("kiosk-unavailable", detail=why[:200])
        self._mark(command)
        return self._run_hook(list(self.settings.reboot_command),
                              self.settings.reboot_timeout_s, "reboot")

    def _run_hook(self, argv: list[str], timeout_s: float, what: str) -> Work | None:
        if not argv:
            return failed("not-configured")
        self._markers.mkdir(parents=True, exist_ok=True)
        with (self._markers / f"{what}.log").open("wb") as out:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                log.error("%s: %s cannot run: %s", what, argv[0], exc)
                return failed("cannot-run", detail=type(exc).__name__)
            deadline = Deadline(timeout_s)
            while proc.poll() is None:
                if deadline.expired:
                    log.error("%s: %s still running after %gs; killed", what, argv[0], timeout_s)
                    proc.kill()
                    proc.wait()
                    return failed("timed-out", timeout_s=timeout_s)
                if self._stop.wait(POLL_S):
                    return None  # left running; its marker answers the redelivery
        log.info("%s: %s exited with %s", what, argv[0], proc.returncode)
        if proc.returncode != 0:
            return failed(f"exited with {proc.returncode}", exit_status=proc.returncode)
        return ok(exit_status=0)

    # maintenance and screenshot: the kiosk's control API ------------------------------------

    def _maintenance(self, args: dict[str, Any]) -> Work:
        try:
            state = self._control.maintenance(args["on"], args["reason"])
        except KioskControlError as exc:
            return failed(exc.code, detail=exc.detail[:200])
        return ok(on=state.on, pending=state.pending)

    def _screenshot(self) -> Work:
        # The kiosk refuses during a session; asking only when it reports none is a second
        # guard for the citizen's privacy (a kiosk bug must not leak their screen).
        observation = self._status.observe()
        if observation.kiosk is not None and observation.kiosk.session_active:
            return failed("session-active")
        try:
            png = self._control.screenshot(self.settings.screenshot_max_width)
        except KioskControlError as exc:
            return failed(exc.code, detail=exc.detail[:200])
        try:
            return ok(**fit_png(png, MAX_PNG_B64_BYTES))
        except ValueError as exc:
            return failed("bad-image", detail=str(exc)[:200])

    # logs ----------------------------------------------------------------------------------

    def _logs(self, args: dict[str, Any]) -> Work:
        source = args["source"]
        path = self.settings.agent_log_file if source == "agent" else self.settings.kiosk_log_file
        if path is None:
            return failed("not-configured", source=source)
        try:
            lines, truncated = tail_lines(path, args["lines"], MAX_RESULT_BYTES)
        except OSError as exc:
            return failed("unreadable", source=source, detail=type(exc).__name__)
        return ok(source=source, lines=lines, truncated=truncated)


def tail_lines(path: Path, count: int, max_bytes: int) -> tuple[list[str], bool]:
    """The last `count` lines of `path`, masked, at most `max_bytes` as a JSON list; reads
    only the file's last TAIL_READ_BYTES. `truncated`: fewer lines or shorter ones than asked."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO at the path must not block us
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError("not a regular file")
        start = max(0, info.st_size - TAIL_READ_BYTES)
        f.seek(start)
        data = f.read(TAIL_READ_BYTES)
    lines = data.decode("utf-8", "replace").splitlines()
    truncated = False
    if start > 0 and lines:
        lines = lines[1:]  # begins mid-line (an ID cut in half would escape the masking)
        truncated = len(lines) < count
    lines = lines[-count:]
    # Masked before cut: a cut through an ID would leave a short, unmatched digit run.
    masked = [redact(line) for line in lines]
    cut = [m[:MAX_LINE_CHARS] for m in masked]
    truncated = truncated or cut != masked
    size = len(json.dumps(cut, ensure_ascii=False).encode())
    while cut and size > max_bytes:  # oldest first: the newest lines matter most
        size -= len(json.dumps(cut.pop(0), ensure_ascii=False).encode()) + 2
        truncated = True
    return cut, truncated


def fit_png(png: bytes, max_b64_bytes: int) -> dict[str, Any]:
    """`png` scaled down (and, past the first try, reduced to 256 colours) until its base64
    fits `max_b64_bytes`: {"png_b64", "width", "height"}. ValueError for no usable image."""
    from PIL import Image, UnidentifiedImageError  # only when a screenshot is asked for

    try:
        image = Image.open(io.BytesIO(png), formats=["PNG"])
        if image.width * image.height > MAX_PIXELS:  # checked before decoding: no bombs
            raise ValueError(f"{image.width}x{image.height} is too large")
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a usable PNG: {type(exc).__name__}") from None
    image = image.convert("RGB")
    current = image
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)  # re-encoded: no text chunks pass through
    encoded = base64.b64encode(out.getvalue())
    while len(encoded) > max_b64_bytes:
        # Shrink by the area the size is over (PNG size roughly follows the pixel count).
        factor = min(0.9, (max_b64_bytes / len(encoded)) ** 0.5)
        width = int(current.width * factor)
        if width < MIN_WIDTH:
            raise ValueError("does not fit even at the smallest size")
        height = max(1, round(current.height * width / current.width))
        current = image.resize((width, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        current.quantize(256).save(out, format="PNG", optimize=True)
        encoded = base64.b64encode(out.getvalue())
    return {"png_b64": encoded.decode("ascii"), "width": current.width,
            "height": current.height}
