"""A small typed MQTT 5 client over paho-mqtt 2.x, shared by the fleet agent and manager.

In the spirit of aiomqtt, but threaded (the notes measured paho well ahead of aiomqtt): one error
type (`MqttError`) split like aiomqtt v3's (`MqttUnavailable`: retry later; `MqttRefused`: the
broker said no; `MqttProtocolError`: the call itself is wrong, a bug), typed publish/subscribe,
reconnection with jittered exponential backoff (common.backoff), and a Will that is rebuilt
before every connection attempt.

Every connection gets a fresh paho client. paho's own reconnect would reuse the Will of the first
connection and replay its queued messages into the next session; the agent needs a new session
sequence in the Will of each connection, and a stale health message from an old session is worth
nothing. Publishing is refused while disconnected: the caller decides what is worth keeping.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from common.backoff import Backoff

log = logging.getLogger(__name__)


class _PahoNoiseFilter(logging.Filter):
    """paho 2.2 logs "Client is not connected" at ERROR after every clean disconnect."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_paho_log = logging.getLogger("paho.mqtt")
_paho_log.addFilter(_PahoNoiseFilter())

QoS = Literal[0, 1, 2]


class MqttError(Exception):
    """Anything that went wrong talking to the broker. `retryable`: worth trying again later."""

    retryable: ClassVar[bool] = False


class MqttUnavailable(MqttError):
    """Not connected, the connection was lost, no acknowledgement in time, or the outgoing queue
    is full: the broker may take it later."""

    retryable = True


# MQTT 5 reason codes that say "later", not "never": unspecified, implementation specific,
# server unavailable, server busy, quota exceeded, connection rate exceeded.
_TRANSIENT_REASONS = frozenset({0x80, 0x83, 0x88, 0x89, 0x97, 0x9F})


class MqttRefused(MqttError):
    """The broker answered with a failure reason code (CONNACK, PUBACK, SUBACK)."""

    def __init__(self, message: str, reason_code: int | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.reason_code in _TRANSIENT_REASONS


class MqttProtocolError(MqttError):
    """The call itself is wrong (bad URL, topic or payload, client used twice): a bug or a
    misconfiguration, never fixed by retrying."""


@dataclass(frozen=True)
class BrokerAddress:
    """`mqtt://[user[:password]@]host[:port]` or `mqtts://...` (TLS, default port 8883)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise MqttProtocolError(
                f"broker URL must start with mqtt:// or mqtts://, not {parts.scheme!r}")
        if not parts.hostname:
            raise MqttProtocolError("broker URL has no host")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise MqttProtocolError(f"broker URL has a bad port: {exc}") from None
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __str__(self) -> str:  # never shows the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsFiles:
    """CA bundle to verify the broker, and the client's own certificate (provisioning)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: QoS = 1
    retain: bool = False


@dataclass(frozen=True)
class ConnectOptions:
    client_id: str
    clean_start: bool = True
    session_expiry_s: int = 0
    keepalive_s: int = 30
    # MQTT 5 Receive Maximum: how many unacknowledged QoS 1 messages the broker may send us.
    receive_maximum: int | None = None
    # Acknowledge incoming QoS 1 messages only when the application calls `IncomingMessage.ack`
    # (the manager acknowledges after its database commit).
    manual_ack: bool = False
    max_inflight: int = 100
    max_queued: int = 10_000
    connect_timeout_s: float = 10.0
    # Equal jitter: after a broker restart thousands of terminals must not all come back in the
    # same second, yet none should wait longer than `max_s`.
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.5, max_s=30.0))
    tls: TlsFiles | None = None


class IncomingMessage:
    """One received message. Built per message on the network thread."""

    __slots__ = ("_ack", "payload", "qos", "received_at", "retain", "topic")

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool = False,
        received_at: float = 0.0,  # time.time() on the network thread
        ack: Callable[[], None] | None = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.received_at = received_at
        self._ack = ack

    def __repr__(self) -> str:
        return f"IncomingMessage(topic={self.topic!r}, qos={self.qos}, {len(self.payload)} bytes)"

    def ack(self) -> None:
        """Acknowledge (manual-ack clients only; a no-op otherwise). Only the first call sends a
        PUBACK: the broker reuses packet ids, so a second one could acknowledge another, not yet
        processed message. A no-op too once the connection that delivered the message is gone
        (a persistent session then gets it again)."""
        ack, self._ack = self._ack, None
        if ack is not None:
            ack()


MessageHandler = Callable[[IncomingMessage], None]


class _Connection:
    """One network connection and its paho client (paho's `userdata` in every callback)."""

    def __init__(self, client: paho.Client) -> None:
        self.client = client
        self.connack = threading.Event()  # CONNACK with success
        self.ready = threading.Event()  # and every subscription granted
        self.closed = threading.Event()
        self.session_present = False
        self.subscribe_mid: int | None = None
        # UNSUBACK waiters by mid. `unsubscribe` holds the lock from sending the UNSUBSCRIBE to
        # registering its waiter, so an early UNSUBACK (the network thread) waits for it.
        self.unsub_lock = threading.Lock()
        self.unsub_waiters: dict[int, threading.Event] = {}
        # Only refusals are kept (the usual PUBACK needs no record); read by PublishHandle.
        self.refused_pubacks: dict[int, ReasonCode] = {}
        self._disconnect_lock = threading.Lock()
        self.disconnect_requested = False

    def ack(self, mid: int, qos: int) -> None:
        if not self.closed.is_set():
            self.client.ack(mid, qos)

    def request_disconnect(self, *, send_will: bool = False) -> None:
        """Send DISCONNECT once, from whichever thread asks first."""
        with self._disconnect_lock:
            if self.disconnect_requested:
                return
            self.disconnect_requested = True
        reason = ReasonCode(
            PacketTypes.DISCONNECT,
            "Disconnect with will message" if send_will else "Normal disconnection",
        )
        self.client.disconnect(reasoncode=reason)

    def close(self) -> None:
        self.closed.set()
        # Nobody will acknowledge these any more. Not under `unsub_lock`: paho may report a
        # disconnect from inside `unsubscribe` on the thread holding it. A waiter registered
        # after this snapshot sees `closed` itself.
        for done in list(self.unsub_waiters.values()):
            done.set()


class PublishHandle:
    """Tracks one outgoing message until the broker acknowledges it."""

    def __init__(self, info: paho.MQTTMessageInfo, conn: _Connection) -> None:
        self._info = info
        self._conn = conn

    def wait(self, timeout: float) -> None:
        """Block until acknowledged (QoS 1/2) or written (QoS 0); raise MqttError on refusal,
        loss of the connection or timeout."""
        deadline = time.monotonic() + timeout
        try:
            while not self._info.is_published():
                if self._conn.closed.is_set():
                    raise MqttUnavailable(
                        "connection lost before the broker acknowledged the message")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MqttUnavailable(
                        f"no acknowledgement from the broker within {timeout:g}s")
                self._info.wait_for_publish(min(remaining, 0.1))
        except (RuntimeError, ValueError) as exc:  # paho's ways of saying "not sent"
            raise MqttUnavailable(str(exc)) from None
        refused = self._conn.refused_pubacks.pop(self._info.mid, None)
        if refused is not None:
            raise MqttRefused(f"broker refused the message: {refused}", refused.value)


@dataclass(frozen=True)
class _Subscription:
    topic_filter: str
    qos: QoS
    handler: MessageHandler
    levels: tuple[str, ...]


def _filter_levels(topic_filter: str) -> tuple[str, ...]:
    # `$share/<group>/<filter>` delivers messages on the plain topic: match on <filter>.
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2]
    return tuple(topic_filter.split("/"))


def topic_matches(levels: tuple[str, ...], topic: str) -> bool:
    """MQTT filter matching (`+` one level, `#` the rest, including the parent level)."""
    parts = topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or (level != "+" and level != parts[i]):
            return False
    return len(parts) == len(levels)


class MqttClient:
    """A connection that keeps itself up until `stop()`.

    `will` is called before every connection attempt and returns the Will for that connection.
    `on_connected(session_present)` runs on the network thread once every subscription is
    granted; it may publish but must not block. Handlers also run on the network thread: hand
    messages to a queue rather than doing slow work there.
    """

    def __init__(
        self,
        broker: BrokerAddress,
        options: ConnectOptions,
        *,
        will: Callable[[], Will | None] | None = None,
        on_connected: Callable[[bool], None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
    ) -> None:
        self.broker = broker
        self.options = options
        self._will = will
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._subscriptions: list[_Subscription] = []
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._stop_with_will = False
        self._thread: threading.Thread | None = None
        self.connections = 0  # successful connections so far (for logs and tests)

    # -- public API -------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: QoS = 1) -> None:
        """Subscribe on this and every later connection. Register before `start()`: a
        subscription added while connected takes effect on the next connection."""
        sub = _Subscription(topic_filter, qos, handler, _filter_levels(topic_filter))
        with self._lock:
            self._subscriptions = [*self._subscriptions, sub]

    def unsubscribe(self, topic_filter: str, timeout: float = 5.0) -> None:
        """Stop receiving `topic_filter` now and on later connections."""
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions if s.topic_filter != topic_filter]
            conn = self._conn
        if conn is None or not conn.connack.is_set() or conn.closed.is_set():
            return
        done = threading.Event()
        with conn.unsub_lock:
            rc, mid = conn.client.unsubscribe(topic_filter)
            if rc != paho.MQTT_ERR_SUCCESS or mid is None:
                raise MqttUnavailable(f"unsubscribe failed: {paho.error_string(rc)}")
            conn.unsub_waiters[mid] = done
        # Woken by the UNSUBACK, or by the connection closing (then nothing is left to stop).
        if conn.closed.is_set() or done.wait(timeout) or conn.closed.is_set():
            return
        raise MqttUnavailable(f"no UNSUBACK within {timeout:g}s")

    def start(self) -> None:
        if self._thread is not None:
            raise MqttProtocolError("already started")
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt-{self.options.client_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0, *, send_will: bool = False) -> None:
        """Disconnect and stop reconnecting. Normally the broker then discards the Will;
        `send_will` asks it to publish the Will anyway (MQTT 5 reason code 0x04)."""
        with self._lock:
            self._stop_with_will = send_will
            self._stopping.set()
            conn = self._conn
        if conn is not None:
            conn.request_disconnect(send_will=send_will)
        # A connection still being set up is closed by its own thread, which sees `_stopping`.
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and conn.connack.is_set() and not conn.closed.is_set()

    @property
    def ready(self) -> bool:
        """Connected and every subscription granted."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: QoS = 1,
        retain: bool = False,
        message_expiry_s: int | None = None,
    ) -> PublishHandle:
        """Send now, or raise MqttUnavailable when not connected. Thread-safe."""
        conn = self._conn
        if conn is None or not conn.connack.is_set() or conn.closed.is_set():
            raise MqttUnavailable(f"not connected to {self.broker}")
        props = None
        if message_expiry_s is not None:
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = max(1, int(message_expiry_s))
        try:
            info = conn.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
        except ValueError as exc:  # wildcards in the topic, payload too large, bad QoS
            raise MqttProtocolError(f"cannot publish on {topic!r}: {exc}") from None
        if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
            raise MqttUnavailable("outgoing queue full")
        if info.rc == paho.MQTT_ERR_NO_CONN:
            raise MqttUnavailable(f"not connected to {self.broker}")
        return PublishHandle(info, conn)

    # -- connection management --------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                established = self._run_connection()
            except Exception:
                log.exception("MQTT connection to %s failed unexpectedly", self.broker)
                established = False
            if established:
                attempt = 0
            if self._stopping.is_set():
                break
            attempt += 1  # 1 = the first retry after a connection that held
            delay = self.options.backoff.delay(attempt)
            log.info("reconnecting to %s in %.1fs", self.broker, delay)
            self._stopping.wait(delay)

    def _new_connection(self) -> _Connection:
        opts = self.options
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=opts.client_id,
            protocol=paho.MQTTv5,
            reconnect_on_failure=False,  # reconnection is ours (new client, new Will)
            manual_ack=opts.manual_ack,
        )
        conn = _Connection(client)
        client.user_data_set(conn)  # every callback below gets its connection
        client.enable_logger(_paho_log)
        client.max_inflight_messages_set(opts.max_inflight)
        client.max_queued_messages_set(opts.max_queued)
        client.connect_timeout = opts.connect_timeout_s
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            tls = opts.tls or TlsFiles()
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
            )
        client.on_connect = self._on_connack
        client.on_subscribe = self._on_suback
        client.on_unsubscribe = self._on_unsuback
        client.on_publish = self._on_puback
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return conn

    def _run_connection(self) -> bool:
        """One connection from attempt to close; True if the broker accepted it."""
        conn = self._new_connection()
        client = conn.client
        if self._will is not None:
            will = self._will()
            if will is not None:
                client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        props = Properties(PacketTypes.CONNECT)
        if self.options.session_expiry_s > 0:
            props.SessionExpiryInterval = self.options.session_expiry_s
        if self.options.receive_maximum:
            props.ReceiveMaximum = self.options.receive_maximum
        try:
            client.connect(
                self.broker.host,
                self.broker.port,
                keepalive=self.options.keepalive_s,
                clean_start=self.options.clean_start,
                properties=props,
            )
        except (OSError, ValueError) as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError)
            log.warning("cannot connect to %s: %s", self.broker, exc)
            return False
        with self._lock:
            self._conn = conn
        client.loop_start()
        deadline = time.monotonic() + self.options.connect_timeout_s
        try:
            while not conn.closed.is_set():
                if self._stopping.is_set():  # also when stop() came before `_conn` was set
                    conn.request_disconnect(send_will=self._stop_with_will)
                elif (not conn.ready.is_set() and not conn.disconnect_requested
                      and time.monotonic() >= deadline):
                    log.warning("no CONNACK/SUBACK from %s within %gs", self.broker,
                                self.options.connect_timeout_s)
                    conn.request_disconnect()
                # Safety net: paho's thread ended without reporting a disconnect (an exception
                # escaped a callback). `_thread` is paho-internal; it is None once the loop ends.
                if getattr(client, "_thread", None) is None:
                    break
                conn.closed.wait(0.25)
        finally:
            client.loop_stop()
            conn.close()
            self._ready.clear()
            with self._lock:
                if self._conn is conn:
                    self._conn = None
        return conn.connack.is_set()

    # -- paho callbacks (network thread; `conn` is paho's userdata) -------------------------

    def _on_connack(
        self,
        _client: paho.Client,
        conn: _Connection,
        flags: paho.ConnectFlags,
        rc: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if rc.is_failure:
            log.error("broker %s refused the connection: %s", self.broker, rc)
            return  # the broker closes the connection; we back off and retry
        conn.connack.set()
        conn.session_present = bool(flags.session_present)
        self.connections += 1
        log.info("connected to %s as %s", self.broker, self.options.client_id)
        subs = self._subscriptions
        if not subs:
            self._become_ready(conn)
            return
        rc_sub, mid = conn.client.subscribe(
            [(s.topic_filter, SubscribeOptions(qos=s.qos)) for s in subs]
        )
        if rc_sub != paho.MQTT_ERR_SUCCESS:
            log.error("subscribe failed: %s", paho.error_string(rc_sub))
            conn.request_disconnect()
            return
        conn.subscribe_mid = mid

    def _on_suback(
        self,
        _client: paho.Client,
        conn: _Connection,
        mid: int,
        codes: list[ReasonCode],
        _props: Properties | None,
    ) -> None:
        if mid != conn.subscribe_mid:
            return
        refused = [str(c) for c in codes if c.is_failure]
        if refused:
            # Usually the broker's ACL; retrying with backoff keeps the process visible as
            # not ready instead of silently deaf.
            log.error("broker %s refused subscriptions: %s", self.broker, ", ".join(refused))
            conn.request_disconnect()
            return
        self._become_ready(conn)

    def _on_unsuback(
        self,
        _client: paho.Client,
        conn: _Connection,
        mid: int,
        _codes: list[ReasonCode],
        _props: Properties | None,
    ) -> None:
        with conn.unsub_lock:
            done = conn.unsub_waiters.pop(mid, None)
        if done is not None:
            done.set()

    def _on_puback(
        self,
        _client: paho.Client,
        conn: _Connection,
        mid: int,
        rc: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if rc.is_failure:
            conn.refused_pubacks[mid] = rc

    def _become_ready(self, conn: _Connection) -> None:
        conn.ready.set()
        self._ready.set()
        if self._on_connected is not None:
            try:
                self._on_connected(conn.session_present)
            except Exception:
                log.exception("on_connected callback failed")

    def _on_disconnect(
        self,
        _client: paho.Client,
        conn: _Connection,
        _flags: paho.DisconnectFlags,
        rc: ReasonCode,
        _props: Properties | None,
    ) -> None:
        was_up = conn.connack.is_set() and not conn.closed.is_set()
        self._ready.clear()
        conn.close()
        if was_up:
            if conn.disconnect_requested:
                log.info("disconnected from %s", self.broker)
            else:
                log.warning("connection to %s lost: %s", self.broker, rc)
            if self._on_disconnected is not None:
                try:
                    self._on_disconnected(str(rc))
                except Exception:
                    log.exception("on_disconnected callback failed")

    def _on_message(self, _client: paho.Client, conn: _Connection, m: paho.MQTTMessage) -> None:
        ack = partial(conn.ack, m.mid, m.qos) if self.options.manual_ack and m.qos > 0 else None
        try:
            topic = m.topic
        except UnicodeDecodeError:
            log.warning("dropping a message whose topic is not UTF-8")
            if ack is not None:
                ack()
            return
        msg = IncomingMessage(topic, m.payload, m.qos, bool(m.retain), time.time(), ack)
        # With manual acknowledgement one handler owns each message: the first that matches.
        handler = next(
            (s.handler for s in self._subscriptions if topic_matches(s.levels, topic)), None
        )
        if handler is None:
            msg.ack()
            return
        try:
            handler(msg)
        except Exception:
            log.exception("handler for %s failed", topic)
            msg.ack()


def default_client_id(prefix: str) -> str:
    """A client id unique per process: `<prefix>-<host>-<pid>-<random>`."""
    host = socket.gethostname().split(".")[0][:20] or "host"
    return f"{prefix}-{host}-{os.getpid()}-{random.getrandbits(24):06x}"
