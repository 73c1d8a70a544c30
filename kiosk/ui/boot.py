"""Kivy start-up in the only order that works (shared/docs/kivy-notes.md):

1. environment variables, before the first `import kivy`;
2. `Config`, before `kivy.core.window` is imported (that import creates the window);
3. the CJK font as Kivy's default, before any widget exists (else Chinese renders as boxes).
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from pathlib import Path

from kiosk.settings import KioskSettings


class MissingFont(RuntimeError):
    pass


def prepare_environment() -> None:
    """Step 1. Safe to call more than once; the caller's explicit values win where it matters."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our CLI owns the command line
    os.environ.setdefault("KIVY_NO_CONFIG", "1")  # settings come from the device TOML only
    os.environ.setdefault("KIVY_NO_FILELOG", "1")  # no log files beside ours
    os.environ.setdefault("KIVY_WINDOW", "sdl2")  # never fall back to x11 and die (exit 102)
    # Kivy would otherwise install its own root handlers and redirect stderr, bypassing the
    # redacting filter of common.logs.
    os.environ["KIVY_LOG_MODE"] = "PYTHON"
    # SDL turns SIGTERM into a window close request, which a kiosk refuses; we handle SIGTERM.
    os.environ["SDL_NO_SIGNAL_HANDLERS"] = "1"


_M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return None


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Before any thread starts: glibc gives each thread that allocates an arena of its own,
    and the kiosk's dozen threads (drivers, workers, voice, status) hold tens of MB of RSS in
    them for a few small allocations each (benchmarks/kiosk.py, rss_mb)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)


def trim_heap() -> None:
    """Give freed heap pages back to the system (after start-up, after a session)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def configure_kivy(settings: KioskSettings) -> None:
    """Steps 2 and 3. Call after prepare_environment() and before importing kivy.core.window."""
    if not Path(settings.font_path).is_file():
        raise MissingFont(
            f"CJK font not found at {settings.font_path}: install the Debian package"
            " fonts-wqy-microhei or set kiosk.font_path"
        )
    from kivy.config import Config

    Config.set("graphics", "width", str(settings.window_width))
    Config.set("graphics", "height", str(settings.window_height))
    Config.set("graphics", "borderless", int(settings.borderless))
    Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    Config.set("graphics", "resizable", 0)
    Config.set("graphics", "show_cursor", int(settings.show_cursor))
    Config.set("graphics", "allow_screensaver", 0)  # the attract screen is the screensaver
    # Calm animations need no more; it halves the CPU a fanless terminal spends redrawing.
    Config.set("graphics", "maxfps", 30)
    # ...but an answer from another thread (the edge, a driver: kiosk.ui.app.post_to_ui) runs
    # as soon as it arrives, not at the next 33 ms tick: the "free" events of this clock.
    Config.set("kivy", "kivy_clock", "free_all")
    # No multisampling (Kivy's default is 2x): flat shapes on a 1080x1920 screen do not need
    # it, and with a software renderer (llvmpipe) it doubles the work of every frame and costs
    # some 50 MB (benchmarks/kiosk.py). Rounded corners and round marks lose a little smoothing.
    Config.set("graphics", "multisamples", 0)
    Config.set("graphics", "position", "custom")
    Config.set("graphics", "left", 0)
    Config.set("graphics", "top", 0)
    Config.set("kivy", "exit_on_escape", 0)  # a keyboard must not close the kiosk
    Config.set("kivy", "pause_on_minimize", 0)
    Config.set("kivy", "keyboard_mode", "dock")
    Config.set("kivy", "log_enable", 0)
    # Right/middle clicks must not leave multitouch-emulation dots on the screen.
    Config.set("input", "mouse", "mouse,multitouch_on_demand")
    # No inspector, monitor or other debugging modules in front of citizens.
    for module in list(Config.options("modules")) if Config.has_section("modules") else []:
        Config.remove_option("modules", module)

    from kivy.core.text import DEFAULT_FONT, LabelBase

    font = str(settings.font_path)
    LabelBase.register(DEFAULT_FONT, fn_regular=font)


def finish_frames() -> None:
    """Offscreen only (SDL_VIDEODRIVER=offscreen), once the window exists: glFinish at each
    frame, as a display's buffer swap would. Nothing presents an offscreen frame, so Mesa's
    llvmpipe queues frame after frame undrawn until something rewrites a texture in use (a
    label's new text), then draws the whole backlog while the UI thread waits: seconds on the
    home screen's greeting (benchmarks/kiosk.py), and "drawn" frames that were not."""
    if os.environ.get("SDL_VIDEODRIVER") != "offscreen":
        return
    from kivy.core.window import Window

    from kiosk.ui import frames

    finish = frames.finish_frame = _gil_free_gl("glFinish")
    Window.bind(on_flip=lambda *_: finish())


def _gil_free_gl(name: str) -> Callable[[], object]:
    """A GL call (glFinish) through ctypes, which lets go of the GIL while the software
    renderer draws (Kivy's binding holds it): the edge's answer, a driver's event, the status
    server's reply go on meanwhile, as they do beside a display's buffer swap."""
    try:
        call = getattr(ctypes.CDLL("libGL.so.1"), name)
    except (OSError, AttributeError):
        from kivy.graphics import opengl

        return getattr(opengl, name)  # type: ignore[no-any-return]
    call.restype, call.argtypes = None, []
    return call  # type: ignore[no-any-return]
