"""Blocking calls on threads of their own, so that whoever waits for them can give up.

pcsc-lite cannot interrupt a call in progress from another thread: SCardTransmit,
SCardConnect and SCardBeginTransaction hold their context's mutex until the reader answers,
so SCardDisconnect or SCardReleaseContext from another thread only queue behind them, and
SCardCancel wakes SCardGetStatusChange alone. A card that stops answering mid-APDU, a reader
another program keeps in a transaction, or a frozen pcscd would each hold the caller for as
long as they like. So the call runs on a daemon thread; the caller waits with a deadline and,
when it passes, abandons the thread instead of joining it. An abandoned thread cleans up after
itself when its call finally returns (`on_late`), and its `cancelled` flag tells it to stop at
its next step rather than carry on with a read nobody awaits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from common.clock import Deadline

T = TypeVar("T")


class Abandoned(Exception):
    """Raised inside a worker that checks `cancelled` after its caller gave up."""


class CallTimedOut(Exception):
    """The call did not return before the deadline; its thread was abandoned."""

    def __init__(self, name: str, phase: str) -> None:
        super().__init__(f"{name} did not return in time (during {phase})")
        self.name = name
        self.phase = phase


class Worker(Generic[T]):
    """`target(worker)` on a daemon thread. The target may set `phase` (a word for what it is
    doing now, e.g. "transaction") and should raise Abandoned at its next step once
    `cancelled` is set."""

    def __init__(
        self,
        target: Callable[[Worker[T]], T],
        name: str,
        on_late: Callable[[T], None] | None = None,
        *,
        start: bool = True,
    ) -> None:
        """`start=False`: no thread of its own; a WorkerThread runs it (`run()`)."""
        self.name = name
        self.phase = "start"
        self.cancelled = threading.Event()
        # Set when the target returns, and by interrupt(): one event to wait on for both.
        self.wake = threading.Event()
        self._target = target
        self._on_late = on_late
        self._lock = threading.Lock()
        self._finished = False
        self._result: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def check(self) -> None:
        """Raise Abandoned if the caller gave up: call it between steps."""
        if self.cancelled.is_set():
            raise Abandoned(self.name)

    def interrupt(self) -> None:
        """Wake the waiting caller now (stop()); the worker is cancelled as well."""
        self.cancelled.set()
        self.wake.set()

    @property
    def alive(self) -> bool:
        if self._thread is not None:
            return self._thread.is_alive()
        return not self._done.is_set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return self._done.wait(timeout)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run(self) -> None:
        """Run the target on the calling thread (a WorkerThread's)."""
        self._run()

    def wait(self, deadline: Deadline) -> T:
        """The target's result, or its exception re-raised; CallTimedOut when the deadline
        passes first or interrupt() is called (then the worker is abandoned)."""
        self.wake.wait(max(deadline.remaining(), 0.0))
        with self._lock:
            if self._finished:
                if self._error is not None:
                    raise self._error
                return self._result  # type: ignore[return-value]
            self.cancelled.set()  # from now on the result is late: on_late gets it
        raise CallTimedOut(self.name, self.phase)

    def _run(self) -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = self._target(self)
        except BaseException as exc:  # handed to the caller, who decides
            error = exc
        with self._lock:
            self._finished = True
            late = self.cancelled.is_set()
            self._result, self._error = result, error
        self.wake.set()
        try:
            if late and error is None and self._on_late is not None:
                self._on_late(result)  # type: ignore[arg-type]
        finally:
            self._done.set()


class WorkerThread:
    """A long-lived daemon thread that runs Workers one after another, so that a call does
    not pay for creating a thread (on a loaded terminal that hand-over is dearer than the
    PC/SC calls themselves).

    The thread stays only while its workers end: one that is still running when the next is
    submitted (its caller gave up on it, or two callers overlap) keeps its thread, and the
    next worker gets a new one; the old thread ends once its worker returns. An idle thread
    ends after `idle_s`, so that nothing lingers between bursts of calls.
    """

    def __init__(self, name: str, idle_s: float = 1.0) -> None:
        self.name = name
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Worker[object] | None] | None = None
        self._last: Worker[object] | None = None

    def submit(
        self, target: Callable[[Worker[T]], T], on_late: Callable[[T], None] | None = None
    ) -> Worker[T]:
        worker: Worker[T] = Worker(target, self.name, on_late, start=False)
        with self._lock:
            if self._queue is None or (self._last is not None and not self._last.finished):
                if self._queue is not None:
                    self._queue.put(None)  # the busy thread ends after its worker
                self._queue = queue.SimpleQueue()
                threading.Thread(
                    target=self._loop, args=(self._queue,), name=self.name, daemon=True
                ).start()
            self._last = worker  # type: ignore[assignment]
            self._queue.put(worker)  # type: ignore[arg-type]
        return worker

    def close(self) -> None:
        """Let the thread end (it is a daemon, so this is tidiness, not a must)."""
        with self._lock:
            if self._queue is not None:
                self._queue.put(None)
            self._queue, self._last = None, None

    def _loop(self, jobs: queue.SimpleQueue[Worker[object] | None]) -> None:
        while True:
            try:
                worker = jobs.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:  # submit() puts under this lock: nothing can slip in now
                    if not jobs.empty():
                        continue
                    if self._queue is jobs:
                        self._queue, self._last = None, None
                    return
            if worker is None:
                return
            worker.run()


def call_within(
    call: Callable[[], T],
    timeout_s: float,
    name: str,
    on_late: Callable[[T], None] | None = None,
) -> T:
    """`call()` with a deadline: its result, or CallTimedOut (the thread is abandoned and
    `on_late` releases what the call returns when it finally does)."""
    return Worker(lambda _: call(), name, on_late).wait(Deadline(timeout_s))
