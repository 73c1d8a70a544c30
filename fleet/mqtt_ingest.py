"""A receive-only MQTT 5 subscription over gmqtt, for the fleet manager's ingest.

paho parses every MQTT 5 PUBLISH's properties in Python: a bare paho subscriber counts about
12,000 messages/s on a 2-core terminal-class machine, gmqtt about 50,000, and the manager has its
decoding and database work on top (benchmarks/fleet_ingest measures both libraries beside the
manager). So the high-rate path, and only it, uses gmqtt; publishing, Wills and everything the
agent does stay on `fleet.mqtt` (paho).

The surface is `fleet.mqtt`'s: `BrokerAddress`, `ConnectOptions`, `IncomingMessage` with
`ack()` after the commit, `connected`/`ready`, and a `stop()` that returns within its timeout.
An asyncio loop runs in a thread of its own. Every connection is a fresh gmqtt client (its own
reconnect has no deadline on the TCP connect or the CONNACK); ours has a total deadline per
attempt and jittered backoff between them.

Acknowledgement after commit: gmqtt's public API acknowledges when an async handler returns, a
task per message (a third of the throughput measured here). Instead the QoS 1 PUBLISH is taken
before gmqtt would acknowledge it (`_handle_qos_1_publish_packet`, gmqtt pinned in
pyproject.toml and checked below), and the PUBACKs are sent in bursts from the loop, each only on
the connection that delivered its message, and a burst in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import threading
import time
from collections import deque
from typing import Any

import gmqtt
from gmqtt.mqtt.constants import MQTTv50
from gmqtt.mqtt.handler import MQTTError, MqttPackageHandler

from fleet.mqtt import (
    BrokerAddress,
    ConnectOptions,
    IncomingMessage,
    MessageHandler,
    MqttProtocolError,
    QoS,
)

log = logging.getLogger(__name__)

_HOOK = "_handle_qos_1_publish_packet"
_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id
_DISCONNECT_TIMEOUT_S = 2.0


class _Client(gmqtt.Client):  # type: ignore[misc]
    async def reconnect(self, delay: bool = False) -> None:
        """Reconnection is ours (a fresh client, a deadline, backoff): gmqtt's never runs."""
        del delay


class _Connection:
    """One gmqtt client from connect to close, and the acknowledgements it still owes."""

    def __init__(self, client: _Client, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        self.lost = asyncio.Event()
        self.subscribed = asyncio.Event()
        self.refused: list[int] = []
        self.closed = False
        self._acks: deque[int] = deque()
        self._flush_scheduled = False

    def ack(self, mid: int) -> None:
        """Any thread. Queue first, then look at the flag: `_flush` clears the flag before it
        drains, so a mid queued after a drain always finds the flag clear and schedules one."""
        self._acks.append(mid)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            # A closed loop: the persistent session delivers these again.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        acks = self._acks
        mids = [acks.popleft() for _ in range(len(acks))]
        connection = self.client._connection
        if self.closed or not mids or connection is None:
            return
        # One write for the burst, not a send per PUBACK (a third of the ingest's time when
        # written one by one). MQTT 5 allows leaving out the reason code when it is success.
        connection.send_package(b"".join([_PUBACK.pack(0x40, 2, mid) for mid in mids]))


class IngestSubscription:
    """One subscription kept up until `stop()`; `handler` runs on the loop's thread and must
    only queue. With `options.manual_ack`, a QoS 1 message is acknowledged when the application
    calls `IncomingMessage.ack()`; otherwise at once."""

    def __init__(
        self,
        broker: BrokerAddress,
        options: ConnectOptions,
        topic_filter: str,
        handler: MessageHandler,
        qos: QoS = 1,
    ) -> None:
        if not hasattr(MqttPackageHandler, _HOOK):
            raise MqttProtocolError(f"this gmqtt has no {_HOOK}; see pyproject.toml's pin")
        self.broker = broker
        self.options = options
        self.topic_filter = topic_filter
        self._handler = handler
        self._qos = qos
        self._ready = threading.Event()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0

    # -- public API -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise MqttProtocolError("already started")
        self._thread = threading.Thread(
            target=self._thread_main, name=f"mqtt-ingest-{self.options.client_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect (the persistent session keeps what we did not acknowledge) and stop."""
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(wake.set)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def ready(self) -> bool:
        """Connected and the subscription granted."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    # -- the loop's thread ------------------------------------------------------------------

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("MQTT ingest loop for %s ended unexpectedly", self.broker)
        finally:
            self._ready.clear()
            self._connected.clear()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._stopping.is_set():
            return
        attempt = 0
        while not self._stopping.is_set():
            try:
                established = await self._run_connection()
            except Exception:
                log.exception("MQTT ingest connection to %s failed unexpectedly", self.broker)
                established = False
            if established:
                attempt = 0
            if self._stopping.is_set():
                break
            attempt += 1
            delay = self.options.backoff.delay(attempt)
            log.info("ingest reconnecting to %s in %.1fs", self.broker, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _new_client(self) -> _Client:
        opts = self.options
        kwargs: dict[str, Any] = {}
        if opts.session_expiry_s > 0:
            kwargs["session_expiry_interval"] = opts.session_expiry_s
        if opts.receive_maximum:
            kwargs["receive_maximum"] = opts.receive_maximum
        client = _Client(opts.client_id, clean_session=opts.clean_start,
                         optimistic_acknowledgement=not opts.manual_ack, **kwargs)
        if self.broker.username is not None:
            client.set_auth_credentials(self.broker.username, self.broker.password)
        return client

    def _tls_context(self) -> ssl.SSLContext | bool:
        if not self.broker.tls:
            return False
        tls = self.options.tls
        context = ssl.create_default_context(
            cafile=str(tls.ca_file) if tls is not None and tls.ca_file else None)
        if tls is not None and tls.cert_file:
            context.load_cert_chain(str(tls.cert_file),
                                    str(tls.key_file) if tls.key_file else None)
        return context

    async def _run_connection(self) -> bool:
        """One connection from attempt to close; True if the broker accepted it."""
        assert self._loop is not None and self._wake is not None
        client = self._new_client()
        conn = _Connection(client, self._loop)
        self._wire(conn)
        accepted = False
        try:
            try:
                await asyncio.wait_for(
                    client.connect(self.broker.host, self.broker.port, ssl=self._tls_context(),
                                   keepalive=self.options.keepalive_s, version=MQTTv50),
                    self.options.connect_timeout_s,
                )
            except TimeoutError:
                log.warning("no CONNACK from %s within %gs", self.broker,
                            self.options.connect_timeout_s)
                return False
            except (OSError, MQTTError) as exc:  # refused, unreachable, TLS (ssl.SSLError)
                log.warning("ingest cannot connect to %s: %s", self.broker, exc)
                return False
            accepted = True
            self.connections += 1
            self._connected.set()
            client.subscribe(self.topic_filter, qos=self._qos)
            granted = await self._wait_first(conn.subscribed, conn.lost,
                                             self.options.connect_timeout_s)
            if not granted:
                if not conn.lost.is_set() and not self._stopping.is_set():
                    log.warning("no SUBACK from %s within %gs", self.broker,
                                self.options.connect_timeout_s)
                return accepted
            if conn.refused:
                # Usually the broker's ACL: keep retrying, visible as not ready.
                log.error("broker %s refused the subscription %s: reason %s", self.broker,
                          self.topic_filter, ", ".join(f"0x{c:02x}" for c in conn.refused))
                return accepted
            self._ready.set()
            log.info("ingest subscribed to %s on %s as %s", self.topic_filter, self.broker,
                     self.options.client_id)
            await self._wait_first(conn.lost, None, None)
            if not self._stopping.is_set():
                log.warning("ingest connection to %s lost", self.broker)
            return accepted
        finally:
            self._ready.clear()
            self._connected.clear()
            conn.closed = True
            await self._close(conn)

    async def _wait_first(self, event: asyncio.Event, other: asyncio.Event | None,
                          timeout: float | None) -> bool:
        """Wait for `event`, giving up on `other`, on stop, or after `timeout`."""
        assert self._wake is not None
        waits = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._wake.wait())]
        if other is not None:
            waits.append(asyncio.ensure_future(other.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return event.is_set() and not self._stopping.is_set()

    async def _close(self, conn: _Connection) -> None:
        try:
            await asyncio.wait_for(conn.client.disconnect(), _DISCONNECT_TIMEOUT_S)
        except Exception as exc:  # closing a dead connection may fail any way
            log.debug("ingest disconnect: %s", exc)

    def _wire(self, conn: _Connection) -> None:
        client = conn.client
        manual = self.options.manual_ack
        handler = self._handler

        def deliver(topic: str | bytes, payload: bytes, qos: int, properties: dict[str, Any],
                    ack: Any) -> None:
            if isinstance(topic, bytes):  # gmqtt passes a topic that is not UTF-8 as bytes
                log.warning("dropping a message whose topic is not UTF-8")
                if ack is not None:
                    ack()
                return
            msg = IncomingMessage(topic, payload, qos, bool(properties.get("retain")),
                                  time.time(), ack)
            try:
                handler(msg)
            except Exception:
                log.exception("handler for %s failed", topic)
                msg.ack()

        def on_qos1(mid: int, packet: bytes, topic: str | bytes,
                    properties: dict[str, Any]) -> None:
            deliver(topic, packet, 1, properties, lambda: conn.ack(mid))

        def on_message(_client: Any, topic: str | bytes, payload: bytes, qos: int,
                       properties: dict[str, Any]) -> int:
            deliver(topic, payload, qos, properties, None)  # QoS 0, or gmqtt acknowledges
            return 0

        def on_subscribe(_client: Any, _mid: int, granted: tuple[int, ...],
                         _props: Any) -> None:
            conn.refused = [code for code in granted if code >= 0x80]
            conn.subscribed.set()

        def on_disconnect(_client: Any, _packet: Any, exc: Any = None) -> None:
            del exc
            conn.closed = True
            conn.lost.set()

        client.on_message = on_message
        client.on_subscribe = on_subscribe
        client.on_disconnect = on_disconnect
        if manual:
            setattr(client._package_handler, _HOOK, on_qos1)
