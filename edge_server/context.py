"""What every request handler may need, built once per process by `main.create_app`."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy import Engine

from common.clock import utc_now
from edge_server.central import CentralClient
from edge_server.crypto import DataCipher
from edge_server.settings import EdgeSettings

if TYPE_CHECKING:
    from edge_server.outbox.runtime import OutboxRuntime


class CacheStats:
    """Counts of the citizen cache's answers since the process started (health, /metrics).

    A hit is an answer the cache gave without asking central; a miss is one for which central
    was asked (including a refresh and a stale fallback after central failed). Request handlers
    run in a thread pool, hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def hits(self) -> int:
        return self._hits

    @property
    def misses(self) -> int:
        return self._misses

    def hit(self) -> None:
        with self._lock:
            self._hits += 1

    def miss(self) -> None:
        with self._lock:
            self._misses += 1

    def ratio(self) -> float | None:
        """hits / (hits + misses); None before the first lookup."""
        with self._lock:
            total = self._hits + self._misses
            return None if total == 0 else self._hits / total


class OpenedMemo:
    """Recently opened cache entries, in this process's memory only: a sealed row seen again
    (same key id, nonce and ciphertext) is not decrypted and validated again. The row is still
    read on every request, so an entry that changed or went is never answered from here.
    Bounded (least recently used out first)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._lock = threading.Lock()
        self._max = max_entries
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _outbox_runtime() -> OutboxRuntime:
    # Imported here: the outbox package imports this module.
    from edge_server.outbox.runtime import OutboxRuntime

    return OutboxRuntime()


@dataclass
class EdgeContext:
    settings: EdgeSettings
    engine: Engine
    cipher: DataCipher
    central: CentralClient
    # Injectable so that tests move time (TTL, staleness, expiry) without sleeping.
    clock: Callable[[], dt.datetime] = utc_now
    cache_stats: CacheStats = field(default_factory=CacheStats)
    opened: OpenedMemo = field(default_factory=OpenedMemo)
    # The outbox's wake-up call, delivery condition and counters (edge_server/outbox).
    outbox: OutboxRuntime = field(default_factory=_outbox_runtime)
    # Reads already audited in this session (audit.append_view): one entry per session and
    # kind of view, not one per page turn.
    views_audited: OpenedMemo = field(default_factory=lambda: OpenedMemo(4096))
    # Device tokens whose signature verified (auth.verify_device): expiry and revocation are
    # still checked on every request.
    verified_tokens: OpenedMemo = field(default_factory=lambda: OpenedMemo(4096))
    # The event loop's own read-only engine (common.sqlite.make_loop_reader): SQLite only,
    # for the cached benefits read answered without a worker-thread hop.
    loop_reader: Engine | None = None

    def now(self) -> dt.datetime:
        return self.clock()


async def get_context(request: Request) -> EdgeContext:
    # Async: a sync dependency costs a worker-thread hop on every request.
    return request.app.state.edge  # type: ignore[no-any-return]
