"""Wiring of the kiosk process: settings in, a running app out, a clean exit on SIGTERM.

Kivy is imported here lazily and only after its environment and Config are set (ui.boot).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from types import FrameType

from common.version import __version__
from kiosk.edge.client import EdgeClient
from kiosk.edge.credentials import TokenRenewer, load_credentials
from kiosk.peripherals import build_peripherals
from kiosk.settings import KioskSettings
from kiosk.status_server import StatusServer
from kiosk.ui import boot

log = logging.getLogger(__name__)


def run_kiosk(settings: KioskSettings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit status (2: cannot start here)."""
    boot.prepare_environment()
    boot.limit_malloc_arenas()
    try:
        boot.configure_kivy(settings)
        # Bind the status port before any window exists: a taken port is a clear start-up
        # error, not a window that comes up and then cannot be watched.
        status = StatusServer(settings.status_host, settings.status_port)
    except (boot.MissingFont, OSError) as exc:
        log.error("kiosk cannot start: %s", exc)
        return 2

    from kivy.clock import Clock

    from kiosk.ui.app import KioskApp  # creates the window

    boot.finish_frames()
    peripherals = build_peripherals(settings)
    configured_token = settings.device_token.get_secret_value()
    credentials, token_file = load_credentials(
        settings.device_id, configured_token, settings.resolved_state_dir(),
        assumed_lifetime=dt.timedelta(seconds=settings.device_token_lifetime_s),
    )
    edge = EdgeClient(
        settings.edge_url,
        settings.device_id,
        credentials.token.token if credentials.token else configured_token,
        deadline_s=settings.edge_timeout_s,  # the whole call, not each read
        connect_timeout_s=settings.edge_connect_timeout_s,
        on_credential_refused=credentials.refused,  # any call's 401: out of service
    )
    renewer = TokenRenewer(edge, credentials, token_file)
    app = KioskApp(settings, peripherals, edge, status=status, credentials=credentials)

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Python runs this on the main thread between bytecodes; Kivy's loop is Python, so
        # the stop is picked up within a frame. SDL's own handlers are off (ui.boot).
        log.info("%s received; stopping", signal.Signals(signum).name)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("starting kiosk %s (edge %s, peripherals %s)", __version__, settings.edge_url,
             " ".join(f"{p.kind}={p.impl}" for p in peripherals))
    renewer.start()
    try:
        app.run()
    except Exception:
        # Logged through the redacting handler rather than left to Python's bare traceback.
        log.exception("kiosk event loop failed")
        return 1
    finally:
        renewer.stop()
        app.shutdown()  # already done by on_stop, unless the event loop died with an exception
        edge.close()
    log.info("kiosk stopped")
    return 0
