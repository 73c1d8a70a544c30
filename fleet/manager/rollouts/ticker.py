"""Drives every unfinished rollout: one state-machine step each per tick, in its own locked
transaction, then publishes what the step stored. Commands stored but never acknowledged by the
broker (kill -9 between commit and publish) are published again, by whichever manager ticks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from common.clock import Clock, utc_now
from fleet.manager.commands import CommandService
from fleet.manager.db import Database
from fleet.manager.rollouts import store

log = logging.getLogger(__name__)

#: A stored rollout command still pending after this long is published again.
REPUBLISH_AFTER_S = 5.0


class RolloutTicker:
    def __init__(self, db: Database, commands: CommandService, *, interval_s: float,
                 clock: Clock = utc_now) -> None:
        self._db = db
        self._commands = commands
        self.interval_s = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-rollouts", daemon=True)
        self.on_tick: Callable[[datetime], None] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def poke(self) -> None:
        """Tick now (after an operator action or a new rollout)."""
        self._wake.set()

    def tick(self) -> None:
        now = self._clock()
        try:
            stale = store.unpublished(self._db, now, REPUBLISH_AFTER_S)
            if stale:
                log.info("publishing %d stored rollout commands again", len(stale))
                self._commands.publish_stored(stale)
        except Exception:
            log.warning("re-publishing rollout commands failed", exc_info=True)
        for rollout_id in store.active_ids(self._db):
            if self._stop.is_set():
                return
            try:
                records = store.tick(self._db, rollout_id, self._clock())
            except Exception:
                log.exception("rollout %s: step failed; retrying next tick", rollout_id)
                continue
            if records:
                self._commands.publish_stored(records)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.warning("rollout tick failed", exc_info=True)
            self._wake.wait(self.interval_s)
            self._wake.clear()
