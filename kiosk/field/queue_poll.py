"""The field screen's queue figures, kept current: a worker asks the terminal's own edge for
its queue (`GET /api/v1/field/queue`) every few seconds and hands the answer (or None: the
edge did not answer) to a callback, which the UI marshals onto its own thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kiosk.field.edge_calls import FieldPort, FieldQueue

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 1.0


class QueuePoller:
    def __init__(self, port: FieldPort, on_queue: Callable[[FieldQueue | None], None], *,
                 interval_s: float = 5.0) -> None:
        self._port = port
        self._on_queue = on_queue
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="field-queue", daemon=True)
        self._thread.start()

    def poll_once(self) -> FieldQueue | None:
        try:
            found: FieldQueue | None = self._port.field_queue()
        except Exception as exc:  # the edge is restarting, or refused: shown as unknown
            log.info("field queue unavailable: %s", type(exc).__name__)
            found = None
        self._on_queue(found)
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self._interval_s)

    def stop(self) -> None:
        """Returns within STOP_TIMEOUT_S (a call in flight is bounded by the client's own
        deadline and its answer dropped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
