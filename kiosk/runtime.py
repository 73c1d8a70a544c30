"""Wiring of the kiosk process: settings in, a running app out, a clean exit on SIGTERM.

Kivy is imported here lazily and only after its environment and Config are set (ui.boot).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

from kiosk.card_source import build_card_reader
from kiosk.edge_client import EdgeClient
from kiosk.settings import KioskSettings
from kiosk.status_server import StatusServer
from kiosk.ui import boot
from kiosk.version import __version__

log = logging.getLogger(__name__)


def run_kiosk(settings: KioskSettings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit status (2: cannot start here)."""
    boot.prepare_environment()
    try:
        boot.configure_kivy(settings)
        # Bind the status port before any window exists: a taken port is a clear start-up
        # error, not a window that comes up and then cannot be watched.
        status = StatusServer(settings.status_host, settings.status_port)
    except (boot.MissingFont, OSError) as exc:
        log.error("kiosk cannot start: %s", exc)
        return 2

    from kivy.clock import Clock

    from kiosk.ui.app import KioskApp

    reader = build_card_reader(settings.card_driver, settings.card_reader)
    edge = EdgeClient(
        settings.edge_url,
        settings.device_id,
        settings.device_token.get_secret_value(),
        timeout_s=settings.edge_timeout_s,
        connect_timeout_s=settings.edge_connect_timeout_s,
    )
    app = KioskApp(settings, reader, edge, status=status)

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Python runs this on the main thread between bytecodes; Kivy's loop is Python, so
        # the stop is picked up within a frame. SDL's own handlers are off (ui.boot).
        log.info("%s received; stopping", signal.Signals(signum).name)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("starting kiosk %s (edge %s, card driver %s)", __version__, settings.edge_url,
             settings.card_driver)
    try:
        app.run()
    except Exception:
        # Logged through the redacting handler rather than left to Python's bare traceback.
        log.exception("kiosk event loop failed")
        return 1
    finally:
        app.shutdown()  # already done by on_stop, unless the event loop died with an exception
        edge.close()
    log.info("kiosk stopped")
    return 0
