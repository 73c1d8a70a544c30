"""Moves driver events from the driver's thread to the UI thread.

Drivers call observers on their own thread and expect them to return at once; the flow must only
ever run on the UI thread. The bridge is the observer: it hands each event to `post` (Kivy's
Clock, which is thread-safe and keeps the order of callbacks scheduled for the same frame).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.base import DeviceEvent
from kiosk.workers import Post

log = logging.getLogger(__name__)


class HardwareBridge:
    def __init__(self, post: Post, sink: Callable[[DeviceEvent], None]) -> None:
        self._post = post
        self._sink = sink

    def __call__(self, event: DeviceEvent) -> None:
        """The driver-thread side: never blocks, never touches the UI."""
        log.debug("bridge: %s", type(event).__name__)
        self._post(lambda: self._sink(event))
