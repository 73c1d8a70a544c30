"""Worker threads for blocking edge calls, reporting back through a `post` function.

Daemon threads on purpose: an edge call stuck in its timeout must not hold up a service stop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kiosk.flow.ports import Outcome

log = logging.getLogger(__name__)

T = TypeVar("T")
Post = Callable[[Callable[[], None]], None]  # run a callable on the flow's (UI) thread
_STOP = object()


class WorkerPool:
    """A TaskRunner: `submit(job, done)` runs `job` on a worker, then `post`s `done(outcome)`."""

    def __init__(self, post: Post, workers: int = 2, name: str = "edge") -> None:
        self._post = post
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], T], done: Callable[[Outcome[T]], None]) -> None:
        if self._closed:
            log.warning("workers: job submitted after close; dropped")
            return
        self._queue.put((job, done))

    def close(self, timeout_s: float = 3.0) -> bool:
        """Finish queued jobs (e.g. the last session's DELETE) for at most `timeout_s`.

        Returns True when every worker finished in time.
        """
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            job, done = item
            try:
                outcome: Outcome[Any] = Outcome(value=job())
            except Exception as exc:
                outcome = Outcome(error=exc)
            try:
                self._post(lambda done=done, outcome=outcome: done(outcome))
            except Exception:
                log.exception("workers: could not hand a result back")
