"""An in-memory broker (topic filters, shared subscriptions, Wills) for a fleet of virtual
terminals and whatever consumes their messages (the manager's ingest, a test).

Delivery is synchronous, in publish order, under one re-entrant lock: deterministic and fast
enough for thousands of terminals in one process, with no sockets. QoS is not modelled (every
message is delivered once), which is what a healthy broker gives.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Handler = Callable[[str, bytes], None]


def _levels(topic_filter: str) -> tuple[str | None, tuple[str, ...]]:
    if topic_filter.startswith("$share/"):
        _, group, rest = topic_filter.split("/", 2)
        return group, tuple(rest.split("/"))
    return None, tuple(topic_filter.split("/"))


def matches(levels: tuple[str, ...], topic: str) -> bool:
    parts = topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or (level not in ("+", parts[i])):
            return False
    return len(parts) == len(levels)


@dataclass(eq=False)
class Connection:
    broker: MemoryBroker
    client_id: str
    will: tuple[str, bytes] | None
    handler: Handler | None
    filters: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)
    open: bool = True

    def subscribe(self, topic_filter: str) -> None:
        with self.broker.lock:
            self.filters.append(_levels(topic_filter))
            self.broker.index(self, topic_filter)

    def publish(self, topic: str, payload: bytes) -> None:
        if not self.open:
            raise ConnectionError(f"{self.client_id} is not connected")
        self.broker.publish(topic, payload)

    def disconnect(self) -> None:
        """A clean DISCONNECT: the broker discards the Will."""
        self.broker.drop(self, send_will=False)

    def kill(self) -> None:
        """The connection dies (kill -9, a pulled cable): the broker publishes the Will."""
        self.broker.drop(self, send_will=True)


class MemoryBroker:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._connections: dict[str, Connection] = {}
        # Who may match a topic: exact filters by topic (a terminal's own command topic), the
        # others scanned. Thousands of terminals, so no scan over every connection.
        self._exact: dict[str, list[Connection]] = {}
        self._wild: list[Connection] = []
        self._round_robin = itertools.count()
        self.published = 0

    def index(self, conn: Connection, topic_filter: str) -> None:
        if topic_filter.startswith("$share/") or "+" in topic_filter or "#" in topic_filter:
            if conn not in self._wild:
                self._wild.append(conn)
        else:
            self._exact.setdefault(topic_filter, []).append(conn)

    def connect(self, client_id: str, handler: Handler | None = None,
                will: tuple[str, bytes] | None = None) -> Connection:
        """A new connection; one with the same client id takes over (and the old Will fires,
        as MQTT 5 brokers do on a session takeover)."""
        with self.lock:
            old = self._connections.get(client_id)
            if old is not None:
                self.drop(old, send_will=True)
            conn = Connection(self, client_id, will, handler)
            self._connections[client_id] = conn
            return conn

    def drop(self, conn: Connection, *, send_will: bool) -> None:
        with self.lock:
            if not conn.open:
                return
            conn.open = False
            if self._connections.get(conn.client_id) is conn:
                del self._connections[conn.client_id]
            if conn in self._wild:
                self._wild.remove(conn)
            for group, levels in conn.filters:
                exact = self._exact.get("/".join(levels), [])
                if group is None and conn in exact:
                    exact.remove(conn)
            if send_will and conn.will is not None:
                self.publish(*conn.will)

    def publish(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.published += 1
            shared: dict[str, list[Connection]] = {}
            for conn in [*self._exact.get(topic, ()), *self._wild]:
                for group, levels in conn.filters:
                    if not matches(levels, topic):
                        continue
                    if group is None:
                        if conn.handler is not None:
                            conn.handler(topic, payload)
                    else:
                        shared.setdefault(group, []).append(conn)
                    break  # one delivery per connection, as with overlapping subscriptions
            for members in shared.values():
                chosen = members[next(self._round_robin) % len(members)]
                if chosen.handler is not None:
                    chosen.handler(topic, payload)
