"""Voice prompts: the hook the UI calls on every screen change, and espeak-ng behind it.

An implementation must return at once (speak on its own thread) and cut off the previous prompt
when a new one starts: elderly users should hear what is on the screen now, not a queue.
`make_voice(settings)` picks the implementation: espeak-ng where it is installed (Mandarin
"cmn" for zh_CN, an English voice for en), silence otherwise. A `Tunable` voice follows the
citizen's on-screen choices (kiosk.flow.prefs): mute, the volume step, the language.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kiosk.flow.prefs import DEFAULT_VOLUME, VOLUME_LEVELS

if TYPE_CHECKING:
    from kiosk.settings import KioskSettings

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
MANDARIN = "cmn"  # espeak-ng-data's Mandarin voice
ENGLISH = "en-us"
# espeak-ng's amplitude (-a, 0..200; its own default 100) for each on-screen volume step.
AMPLITUDES = (40, 70, 100, 140, 190)
assert len(AMPLITUDES) == VOLUME_LEVELS
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


@runtime_checkable
class Tunable(Protocol):
    """A voice that follows the citizen's sound and language choices."""

    def set_muted(self, muted: bool) -> None: ...

    def set_volume(self, level: int) -> None:
        """1..VOLUME_LEVELS, the on-screen step."""
        ...

    def set_language(self, language: str) -> None:
        """The language of the prompts that follow ("zh_CN", "en")."""
        ...


def amplitude(level: int) -> int:
    """espeak-ng's -a for an on-screen volume step (clamped to the steps there are)."""
    return AMPLITUDES[min(max(level, 1), VOLUME_LEVELS) - 1]


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
    Muted, it starts no process at all. `voices` names the espeak-ng voice of each language
    (`voice` is the one used for any other).
    """

    def __init__(self, executable: str = ESPEAK, voice: str = MANDARIN, *, speed: int = 150,
                 muted: bool = False, extra_args: Sequence[str] = (),
                 volume: int = DEFAULT_VOLUME, voices: Mapping[str, str] | None = None) -> None:
        self._executable, self._speed, self._extra = executable, speed, tuple(extra_args)
        self._default_voice = voice
        self._voices = dict(voices) if voices is not None else {"zh_CN": voice, "en": ENGLISH}
        self._voice = voice
        self._amplitude = amplitude(volume)
        self._muted = muted
        self._lock = threading.Condition()
        self._wanted: tuple[str, str, list[str]] | None = None
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

    def set_volume(self, level: int) -> None:
        self._amplitude = amplitude(level)  # from the next prompt on

    def set_language(self, language: str) -> None:
        self._voice = self._voices.get(language, self._default_voice)

    @property
    def argv(self) -> list[str]:
        """The command of the next prompt (its text goes on stdin)."""
        return [self._executable, "-v", self._voice, "-s", str(self._speed),
                "-a", str(self._amplitude), *self._extra, "--stdin"]

    def say(self, key: str, text: str) -> None:
        if self._muted or self._closed:
            log.debug("voice (muted): %s", key)
            return
        with self._lock:
            # The command is fixed now: a language switch right after cannot change the
            # voice of a prompt already asked for.
            self._wanted = (key, text[:MAX_TEXT], self.argv)
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

    def _start(self, key: str, text: str, argv: list[str]) -> None:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        except OSError as exc:
            log.warning("voice: %s cannot start (%s); prompt %s not spoken", argv[0],
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
                               speed=settings.voice_speed, muted=settings.voice_muted,
                               volume=settings.voice_volume,
                               voices={"zh_CN": settings.voice_name,
                                       "en": settings.voice_name_en})
        log.warning("voice: %s is not installed; prompts are not spoken",
                    settings.voice_executable)
    return SilentVoice()
