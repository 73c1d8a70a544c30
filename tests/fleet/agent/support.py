"""Agent test helpers: an in-memory transport for the agent shell (the `Transport` protocol,
over the fleet simulator's in-memory broker: the real `Agent` driven without sockets), a kiosk
that trickles its answer, and a stub edge health endpoint."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fleet.agent.transport import Callbacks
from fleet.mqtt import IncomingMessage, MessageHandler, MqttUnavailable
from simulators.fleet.memory import Connection, MemoryBroker


class _Delivered:
    def wait(self, timeout: float) -> None:
        return None


class MemoryTransport:
    def __init__(self, broker: MemoryBroker, client_id: str, callbacks: Callbacks) -> None:
        self.broker = broker
        self.client_id = client_id
        self.callbacks = callbacks
        self._subs: list[tuple[str, MessageHandler]] = []
        self._conn: Connection | None = None
        self.stopped_with_will: bool | None = None
        self.connections = 0
        self.refuse_publishes = False

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.open

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 1) -> None:
        self._subs.append((topic_filter, handler))

    def _deliver(self, topic: str, payload: bytes) -> None:
        for _filter, handler in self._subs:
            handler(IncomingMessage(topic, payload, 1, received_at=time.time()))

    def start(self) -> None:
        will = self.callbacks.will()
        self._conn = self.broker.connect(
            self.client_id, self._deliver, (will.topic, will.payload) if will else None
        )
        for topic_filter, _ in self._subs:
            self._conn.subscribe(topic_filter)
        self.connections += 1
        self.callbacks.on_connected(False)

    def lose_connection(self) -> None:
        """As if the network went away: the broker sends the Will."""
        assert self._conn is not None
        self._conn.kill()
        self.callbacks.on_disconnected("connection lost")

    def stop(self, timeout: float = 5.0, *, send_will: bool = False) -> None:
        self.stopped_with_will = send_will
        if self._conn is not None:
            if send_will:
                self._conn.kill()
            else:
                self._conn.disconnect()

    def publish(self, topic: str, payload: bytes, **_options: Any) -> _Delivered:
        if not self.connected or self.refuse_publishes:
            raise MqttUnavailable("not connected")
        assert self._conn is not None
        self._conn.publish(topic, payload)
        return _Delivered()


class Recorder:
    """Everything published on the broker, with a condition to wait on."""

    def __init__(self, broker: MemoryBroker, topic_filter: str = "hrss/v1/dev/+/+") -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        broker.connect("recorder", self._on).subscribe(topic_filter)

    def _on(self, topic: str, payload: bytes) -> None:
        with self._cond:
            self.messages.append((topic, payload))
            self._cond.notify_all()

    def wait(self, suffix: str, count: int = 1, timeout: float = 10.0) -> list[bytes]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.on(suffix)) >= count, timeout)
            assert ok, f"waited for {count} on */{suffix}; saw {[t for t, _ in self.messages]}"
            return self.on(suffix)

    def on(self, suffix: str) -> list[bytes]:
        return [p for t, p in self.messages if t.endswith("/" + suffix)]


class Trickler:
    """A kiosk status endpoint that answers its headers, then one body byte every 0.2 s, for
    ever: no single read ever times out."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while not self.stopping.is_set():
                conn, _ = self.server.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
            while not self.stopping.wait(0.2):
                conn.sendall(b" ")

    def close(self) -> None:
        self.stopping.set()
        self.server.close()


EDGE_HEALTH = {  # the edge's GET /api/v1/health (docs/contracts/edge-api.md, contracts 2)
    "status": "ok", "version": "0.3.0", "central": "unreachable",
    "outbox": {"depth": 12, "oldest_pending_age_s": 30.5, "dead_letters": 1, "full": False},
    "cache_hit_ratio": 0.75,
}


class StubEdge:
    """`GET /api/v1/health` answering whatever body the test sets."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.paths: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
