"""fleet.mqtt against a real Mosquitto: publish/subscribe, Will per connection, reconnection."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest

from common.backoff import Backoff
from fleet.mqtt import (
    BrokerAddress,
    ConnectOptions,
    IncomingMessage,
    MqttClient,
    MqttError,
    MqttProtocolError,
    MqttRefused,
    MqttUnavailable,
    Will,
    topic_matches,
)
from simulators.stack import services
from tests.fleet.support import MqttProbe, silent_broker
from tests.harness.stack import supervised

FAST = Backoff(initial_s=0.1, max_s=0.5)


def test_broker_urls() -> None:
    a = BrokerAddress.parse("mqtts://dev%40x:s3cret@broker.example:8884")
    assert (a.host, a.port, a.tls, a.username, a.password) == (
        "broker.example", 8884, True, "dev@x", "s3cret")
    assert "s3cret" not in str(a) and "s3cret" not in repr(a)
    assert BrokerAddress.parse("mqtt://h").port == 1883
    assert BrokerAddress.parse("mqtts://h").port == 8883
    with pytest.raises(MqttError):
        BrokerAddress.parse("http://h")


def test_filter_matching() -> None:
    levels = ("hrss", "v1", "dev", "+", "+")
    assert topic_matches(levels, "hrss/v1/dev/T-1/health")
    assert not topic_matches(levels, "hrss/v1/dev/T-1/health/x")
    assert not topic_matches(levels, "hrss/v1/dev/T-1")
    assert topic_matches(("a", "#"), "a") and topic_matches(("a", "#"), "a/b/c")


def test_errors_say_retry_later_or_bug() -> None:
    assert MqttUnavailable("x").retryable
    assert not MqttProtocolError("x").retryable
    assert MqttRefused("busy", 0x89).retryable  # server busy
    assert MqttRefused("quota", 0x97).retryable
    assert not MqttRefused("not authorised", 0x87).retryable
    assert all(issubclass(e, MqttError) for e in (MqttUnavailable, MqttRefused,
                                                  MqttProtocolError))
    with pytest.raises(MqttProtocolError):
        BrokerAddress.parse("mqtt://")


def test_publish_subscribe_and_refusal_when_disconnected(
    mosquitto: services.Mosquitto,
) -> None:
    got: list[IncomingMessage] = []
    arrived = threading.Event()

    def handler(m: IncomingMessage) -> None:
        got.append(m)
        arrived.set()

    client = MqttClient(BrokerAddress.parse(mosquitto.url), ConnectOptions("unit-1"))
    with pytest.raises(MqttUnavailable, match="not connected"):
        client.publish("t/x", b"early")
    client.subscribe("$share/g/t/+", handler)
    client.start()
    try:
        assert client.wait_ready(10)
        client.publish("t/x", b"hello", qos=1).wait(5)
        assert arrived.wait(5)
        assert (got[0].topic, got[0].payload, got[0].qos) == ("t/x", b"hello", 1)
        with pytest.raises(MqttProtocolError):  # a bug, however often it is retried
            client.publish("t/+", b"wildcard")
        with pytest.raises(MqttProtocolError):
            client.start()
    finally:
        client.stop()
    assert not client.connected
    with pytest.raises(MqttUnavailable):
        client.publish("t/x", b"late")


@pytest.mark.parametrize("send_will", [False, True])
def test_will_only_when_asked_on_stop(mosquitto: services.Mosquitto, send_will: bool) -> None:
    probe = MqttProbe(mosquitto.url)
    probe.subscribe("w/#")
    client = MqttClient(
        BrokerAddress.parse(mosquitto.url), ConnectOptions("unit-will"),
        will=lambda: Will("w/death", b'{"n": 1}'),
    )
    client.start()
    assert client.wait_ready(10)
    client.stop(send_will=send_will)
    # stop() returns once the DISCONNECT is on the wire, so the broker has it before the marker
    # below; a Will (sent while handling the DISCONNECT) reaches the probe before the marker.
    probe.publish("w/marker", {"n": 2})
    seen = probe.wait(lambda m: m.topic == "w/marker", "the marker")
    topics = [m.topic for m in probe.messages]
    assert topics == (["w/death", "w/marker"] if send_will else ["w/marker"])
    assert seen
    probe.close()


def test_reconnects_with_a_fresh_will_after_a_broker_restart(tmp_path: Path) -> None:
    wills: list[int] = []
    connects = threading.Semaphore(0)

    def will() -> Will:
        wills.append(len(wills) + 1)
        return Will("w/death", str(wills[-1]).encode())

    with supervised(tmp_path / "logs") as sup:
        broker = services.mosquitto(tmp_path / "broker")
        proc = sup.start(broker.spec)
        client = MqttClient(
            BrokerAddress.parse(broker.url), ConnectOptions("unit-re", backoff=FAST),
            will=will, on_connected=lambda _present: connects.release(),
        )
        client.start()
        try:
            assert connects.acquire(timeout=10)
            sup.restart(proc)
            assert connects.acquire(timeout=20)
            assert client.connections == 2
            # One Will per connection attempt (failed attempts while the broker was down too).
            assert len(wills) >= 2
            client.publish("t/after", b"x").wait(5)
            probe = MqttProbe(broker.url)
            probe.subscribe("w/#")
        finally:
            client.stop(send_will=True)
        # The broker holds the Will built for the live connection, not the first one.
        [death] = probe.wait(lambda m: m.topic == "w/death", "the Will")
        assert death.payload == wills[-1] > 1
        probe.close()


def test_an_acknowledgement_counts_once() -> None:
    sent: list[str] = []
    message = IncomingMessage("t/x", b"", 1, ack=lambda: sent.append("puback"))
    message.ack()
    message.ack()  # e.g. a failure path acknowledging again: must not ack a reused packet id
    assert sent == ["puback"]
    IncomingMessage("t/x", b"", 1).ack()  # automatic acknowledgement: nothing to do


def test_manual_ack_leaves_unacknowledged_messages_with_the_broker(
    mosquitto: services.Mosquitto,
) -> None:
    """What the manager relies on: a message not acknowledged (not committed) before the
    connection ends is delivered again to the persistent session; an acknowledged one is not."""
    options = ConnectOptions("unit-ack", clean_start=False, session_expiry_s=60, manual_ack=True)
    probe = MqttProbe(mosquitto.url)

    def connect() -> tuple[MqttClient, queue.Queue[IncomingMessage]]:
        inbox: queue.Queue[IncomingMessage] = queue.Queue()
        client = MqttClient(BrokerAddress.parse(mosquitto.url), options)
        client.subscribe("ack/+", inbox.put)
        client.start()
        assert client.wait_ready(10)
        return client, inbox

    client, inbox = connect()
    try:
        probe.publish("ack/a", {"n": 1})
        probe.publish("ack/b", {"n": 2})
        a, b = inbox.get(timeout=5), inbox.get(timeout=5)
        assert (a.topic, b.topic) == ("ack/a", "ack/b")
        a.ack()
    finally:
        client.stop()

    client, inbox = connect()
    try:
        probe.publish("ack/marker", {"n": 3})
        # The broker resends its in-flight messages before anything new: b, then the marker.
        first, second = inbox.get(timeout=5), inbox.get(timeout=5)
        assert (first.topic, second.topic) == ("ack/b", "ack/marker")
        first.ack()
        second.ack()
    finally:
        client.stop()
        probe.close()


def test_unsubscribe_stops_delivery_at_once(mosquitto: services.Mosquitto) -> None:
    inbox: queue.Queue[IncomingMessage] = queue.Queue()
    client = MqttClient(BrokerAddress.parse(mosquitto.url), ConnectOptions("unit-unsub"))
    client.subscribe("u/+", inbox.put)
    client.subscribe("marker/+", inbox.put)
    client.start()
    try:
        assert client.wait_ready(10)
        client.unsubscribe("u/+")  # returns after the UNSUBACK
        client.publish("u/x", b"after").wait(5)
        client.publish("marker/x", b"m").wait(5)  # same connection: delivered in order
        assert inbox.get(timeout=5).topic == "marker/x"
        assert inbox.empty()
    finally:
        client.stop()
    client.unsubscribe("marker/+")  # not connected: forgotten for later connections only


def test_a_broker_that_never_answers_is_given_up_and_retried() -> None:
    """TCP accepted, CONNECT never answered: the attempt times out, the next one comes, and
    stop() still ends the client's thread."""
    with silent_broker() as (port, accepted):
        client = MqttClient(
            BrokerAddress.parse(f"mqtt://127.0.0.1:{port}"),
            ConnectOptions("unit-silent", connect_timeout_s=0.3, backoff=FAST),
        )
        client.start()
        try:
            assert accepted.acquire(timeout=10)
            assert accepted.acquire(timeout=10)  # the first attempt timed out; a second came
            assert not client.ready
        finally:
            client.stop(timeout=5)
    assert not [t for t in threading.enumerate() if t.name == "mqtt-unit-silent"]
