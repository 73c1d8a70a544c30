"""fleet.mqtt_ingest (gmqtt) against a real Mosquitto: acknowledgement after the application's
call, persistent sessions, reconnection, and a broker that never answers."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from common.backoff import Backoff
from fleet.mqtt import BrokerAddress, ConnectOptions, IncomingMessage
from fleet.mqtt_ingest import IngestSubscription
from simulators.stack import services
from tests.fleet.support import MqttProbe, silent_broker
from tests.harness.stack import supervised
from tests.harness.waiting import wait_for

FAST = Backoff(initial_s=0.1, max_s=0.5)


def _subscription(url: str, client_id: str, topic_filter: str,
                  inbox: queue.Queue[IncomingMessage], **options: object) -> IngestSubscription:
    sub = IngestSubscription(BrokerAddress.parse(url),
                             ConnectOptions(client_id, backoff=FAST, **options),  # type: ignore[arg-type]
                             topic_filter, inbox.put)
    sub.start()
    assert sub.wait_ready(10)
    return sub


def test_messages_arrive_in_order_with_their_topic(mosquitto: services.Mosquitto) -> None:
    inbox: queue.Queue[IncomingMessage] = queue.Queue()
    sub = _subscription(mosquitto.url, "ingest-order", "in/+", inbox)
    probe = MqttProbe(mosquitto.url)
    try:
        for n in range(50):
            probe.publish(f"in/{n % 3}", {"n": n})
        got = [inbox.get(timeout=5) for _ in range(50)]
        assert [m.topic for m in got] == [f"in/{n % 3}" for n in range(50)]
        assert [m.payload for m in got] == [f'{{"n": {n}}}'.encode() for n in range(50)]
        assert all(m.qos == 1 and m.received_at > 0 for m in got)
        assert sub.connected and sub.connections == 1
    finally:
        sub.stop()
        probe.close()
    assert not sub.ready


def test_manual_ack_leaves_unacknowledged_messages_with_the_broker(
    mosquitto: services.Mosquitto,
) -> None:
    """What the manager relies on: a message not acknowledged (not committed) before the
    connection ends is delivered again to the persistent session; an acknowledged one is not,
    even when its acknowledgement went out in a burst with others."""
    inbox: queue.Queue[IncomingMessage] = queue.Queue()
    options = {"clean_start": False, "session_expiry_s": 60, "manual_ack": True,
               "receive_maximum": 100}
    probe = MqttProbe(mosquitto.url)
    sub = _subscription(mosquitto.url, "ingest-ack", "ack/+", inbox, **options)
    try:
        for n in range(20):
            probe.publish(f"ack/{n}", {"n": n})
        got = [inbox.get(timeout=5) for _ in range(20)]
        for m in got:
            if m.topic not in ("ack/7", "ack/13"):
                m.ack()
        # The burst is sent before anything the loop does next: a marker's round trip.
        probe.publish("ack/marker", {"n": -1})
        marker = inbox.get(timeout=5)
        marker.ack()
    finally:
        sub.stop()

    sub = _subscription(mosquitto.url, "ingest-ack", "ack/+", inbox, **options)
    try:
        probe.publish("ack/after", {"n": 99})
        again = [inbox.get(timeout=5) for _ in range(3)]
        # In-flight messages come back first, in order, then the new one.
        assert [m.topic for m in again] == ["ack/7", "ack/13", "ack/after"]
        for m in again:
            m.ack()
    finally:
        sub.stop()
        probe.close()
    assert inbox.empty()


def test_without_manual_ack_everything_is_acknowledged_on_receipt(
    mosquitto: services.Mosquitto,
) -> None:
    inbox: queue.Queue[IncomingMessage] = queue.Queue()
    options = {"clean_start": False, "session_expiry_s": 60}
    probe = MqttProbe(mosquitto.url)
    sub = _subscription(mosquitto.url, "ingest-auto", "auto/+", inbox, **options)
    try:
        probe.publish("auto/a", {"n": 1})
        assert inbox.get(timeout=5).topic == "auto/a"
    finally:
        sub.stop()
    sub = _subscription(mosquitto.url, "ingest-auto", "auto/+", inbox, **options)
    try:
        probe.publish("auto/b", {"n": 2})
        assert inbox.get(timeout=5).topic == "auto/b"  # auto/a is not delivered again
    finally:
        sub.stop()
        probe.close()


def test_a_failing_handler_costs_one_message(mosquitto: services.Mosquitto) -> None:
    seen: queue.Queue[str] = queue.Queue()

    def handler(m: IncomingMessage) -> None:
        seen.put(m.topic)
        if m.topic == "h/bad":
            raise RuntimeError("boom")

    sub = IngestSubscription(BrokerAddress.parse(mosquitto.url),
                             ConnectOptions("ingest-handler", manual_ack=True), "h/+", handler)
    sub.start()
    probe = MqttProbe(mosquitto.url)
    try:
        assert sub.wait_ready(10)
        probe.publish("h/bad", {})
        probe.publish("h/good", {})
        assert [seen.get(timeout=5), seen.get(timeout=5)] == ["h/bad", "h/good"]
        assert sub.ready
    finally:
        sub.stop()
        probe.close()


def test_reconnects_and_resubscribes_after_a_broker_restart(tmp_path: Path) -> None:
    inbox: queue.Queue[IncomingMessage] = queue.Queue()
    with supervised(tmp_path / "logs") as sup:
        broker = services.mosquitto(tmp_path / "broker")
        proc = sup.start(broker.spec)
        sub = _subscription(broker.url, "ingest-restart", "r/+", inbox)
        try:
            sup.restart(proc)
            wait_for(lambda: sub.connections == 2 and sub.ready, "resubscribed", timeout=20)
            probe = MqttProbe(broker.url)
            probe.publish("r/x", {"n": 1})
            assert inbox.get(timeout=10).topic == "r/x"
            probe.close()
        finally:
            sub.stop()


def test_a_broker_that_never_answers_is_given_up_and_retried() -> None:
    """TCP accepted, CONNECT never answered: the attempt times out, the next one comes, and
    stop() still ends the loop's thread."""
    with silent_broker() as (port, accepted):
        sub = IngestSubscription(
            BrokerAddress.parse(f"mqtt://127.0.0.1:{port}"),
            ConnectOptions("ingest-silent", connect_timeout_s=0.3, backoff=FAST),
            "s/+", lambda _m: None,
        )
        sub.start()
        try:
            assert accepted.acquire(timeout=10)
            assert accepted.acquire(timeout=10)  # the first attempt timed out; a second came
            assert not sub.ready and sub.connections == 0
        finally:
            sub.stop(timeout=5)
    assert not [t for t in threading.enumerate() if t.name == "mqtt-ingest-ingest-silent"]


def test_stop_before_start_and_twice_returns() -> None:
    sub = IngestSubscription(BrokerAddress.parse("mqtt://127.0.0.1:1"),
                             ConnectOptions("ingest-idle", backoff=FAST), "x/+", lambda _m: None)
    sub.stop(timeout=1)
    sub.start()
    sub.stop(timeout=5)
    sub.stop(timeout=1)
    assert not [t for t in threading.enumerate() if t.name == "mqtt-ingest-ingest-idle"]
