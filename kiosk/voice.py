"""Voice prompts: the hook the UI calls on every screen change, and espeak-ng behind it.

An implementation must return at once (speak on its own thread) and cut off the previous prompt
when a new one starts: elderly users should hear what is on the screen now, not a queue.
`make_voice(settings)` picks the implementation: espeak-ng's Mandarin voice where it is
installed, silence otherwise (or when muted).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kiosk.settings import KioskSettings

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
MANDARIN = "cmn"  # espeak-ng-data's Mandarin voice
MAX_TEXT = 500  # characters: a prompt is a sentence or two, never a page
_KILL_WAIT_S = 0.5  # after SIGTERM, before SIGKILL


@runtime_checkable
class Voice(Protocol):
    def say(self, key: str, text: str) -> None:
        """Speak `text` (already translated); `key` names the prompt for logs and caching."""
        ...

    def stop(self) -> None:
        """Stop speaking (the session ended, the card was pulled)."""
        ...


class SilentVoice:
    """No speech: logs the prompt key (never the text, which may hold a masked name)."""

    def say(self, key: str, text: str) -> None:
        log.debug("voice: %s", key)

    def stop(self) -> None:
        pass


class EspeakVoice:
    """espeak-ng in a subprocess per prompt, started from a thread of its own.

    `say()` only hands the prompt over and returns; the speaker thread ends the previous
    process (SIGTERM, then SIGKILL) before it starts the next, so a new screen always cuts off
    the last one. The text goes in on stdin, not argv: `ps` must not show a masked name.
    Muted, it starts no process at all.
    """

    def __init__(self, executable: str = ESPEAK, voice: str = MANDARIN, *, speed: int = 150,
                 muted: bool = False, extra_args: Sequence[str] = ()) -> None:
        self._argv = [executable, "-v", voice, "-s", str(speed), *extra_args, "--stdin"]
        self._muted = muted
        self._lock = threading.Condition()
        self._wanted: tuple[str, str] | None = None
        self._stop_wanted = False
        self._closed = False
        self._process: subprocess.Popen[bytes] | None = None
        self._spoken = 0  # prompts started (tests and the status of the voice)
        self._thread = threading.Thread(target=self._speak_loop, name="voice", daemon=True)
        self._thread.start()

    @property
    def muted(self) -> bool:
        return self._muted

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if muted:
            self.stop()

    def say(self, key: str, text: str) -> None:
        if self._muted or self._closed:
            log.debug("voice (muted): %s", key)
            return
        with self._lock:
            self._wanted = (key, text[:MAX_TEXT])
            self._lock.notify()

    def stop(self) -> None:
        with self._lock:
            self._wanted = None
            self._stop_wanted = True
            self._lock.notify()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop speaking and end the speaker thread (the app is stopping)."""
        with self._lock:
            self._closed = True
            self._wanted = None
            self._lock.notify()
        self._thread.join(timeout_s)

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The espeak-ng process of the current prompt (tests watch it being cut off)."""
        return self._process

    @property
    def spoken(self) -> int:
        return self._spoken

    def _speak_loop(self) -> None:
        while True:
            with self._lock:
                while self._wanted is None and not self._stop_wanted and not self._closed:
                    self._lock.wait()
                wanted, self._wanted = self._wanted, None
                self._stop_wanted = False
                closed = self._closed
            self._end_current()
            if closed:
                return
            if wanted is not None:
                self._start(*wanted)

    def _start(self, key: str, text: str) -> None:
        try:
            process = subprocess.Popen(self._argv, stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        except OSError as exc:
            log.warning("voice: %s cannot start (%s); prompt %s not spoken", self._argv[0],
                        exc, key)
            return
        self._process = process
        self._spoken += 1
        log.debug("voice: %s", key)
        try:
            assert process.stdin is not None
            process.stdin.write(text.encode("utf-8"))
            process.stdin.close()
        except OSError:  # it died at once (no audio device): nothing more to say
            pass

    def _end_current(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_KILL_WAIT_S)


def espeak_available(executable: str = ESPEAK) -> bool:
    return shutil.which(executable) is not None


def make_voice(settings: KioskSettings) -> Voice:
    """The voice `settings.voice` asks for: "espeak" (when installed), else silence."""
    if settings.voice == "espeak":
        if espeak_available(settings.voice_executable):
            return EspeakVoice(settings.voice_executable, settings.voice_name,
                               speed=settings.voice_speed, muted=settings.voice_muted)
        log.warning("voice: %s is not installed; prompts are not spoken",
                    settings.voice_executable)
    return SilentVoice()
