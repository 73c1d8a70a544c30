"""The agent's view of its MQTT connection: the part of `fleet.mqtt.MqttClient` it uses.

Injected into the agent (`fleet.agent.service.Agent`), so tests can drive the agent over an
in-memory transport and the real one stays the only code that talks to a broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fleet.mqtt import (
    BrokerAddress,
    ConnectOptions,
    MessageHandler,
    MqttClient,
    QoS,
    TlsFiles,
    Will,
)


class Delivery(Protocol):
    def wait(self, timeout: float) -> None:
        """Until the broker acknowledged; raises MqttError (MqttUnavailable on timeout)."""
        ...


class Transport(Protocol):
    @property
    def connected(self) -> bool: ...

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: QoS = 1) -> None: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0, *, send_will: bool = False) -> None: ...

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: QoS = 1,
        retain: bool = False,
        message_expiry_s: int | None = None,
    ) -> Delivery: ...


@dataclass(frozen=True)
class Callbacks:
    """What the agent asks of its transport: a Will per connection attempt (called on the
    transport's thread before it connects), and to hear when a connection is up or lost."""

    will: Callable[[], Will | None]
    on_connected: Callable[[bool], None]
    on_disconnected: Callable[[str], None]


TransportFactory = Callable[[Callbacks], Transport]


@dataclass(frozen=True)
class MqttTransport:
    """The production factory: an `MqttClient` to the configured broker."""

    broker: BrokerAddress
    options: ConnectOptions
    tls: TlsFiles | None = None

    def __call__(self, callbacks: Callbacks) -> Transport:
        return MqttClient(
            self.broker,
            self.options,
            will=callbacks.will,
            on_connected=callbacks.on_connected,
            on_disconnected=callbacks.on_disconnected,
        )
