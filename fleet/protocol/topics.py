"""The `hrss/v1` topic tree: builders, a parser, and the managers' shared subscription.

Topic names are built here and nowhere else (provisioning uses them for broker ACLs).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from common.device_id import DEVICE_ID_PATTERN, is_device_id

PREFIX = "hrss/v1"
DEVICES_ROOT = f"{PREFIX}/dev"
MANAGER_SHARE_GROUP = "hrss-fleet-managers"


class Channel(StrEnum):
    """The last topic level under a device."""

    BIRTH = "birth"
    DEATH = "death"
    HEALTH = "health"
    COMMAND = "cmd"
    COMMAND_RESULT = "cmd-result"
    JOB = "job"


#: Channels an agent publishes on; the manager publishes only on `cmd`.
AGENT_CHANNELS = frozenset(
    {Channel.BIRTH, Channel.DEATH, Channel.HEALTH, Channel.COMMAND_RESULT, Channel.JOB}
)


class TopicError(ValueError):
    """A topic or device id outside the hrss/v1 tree."""


def is_valid_device_id(device_id: str) -> bool:
    # The one rule (common.device_id): safe in topics (no '/', '+', '#') and in file names.
    return is_device_id(device_id)


def check_device_id(device_id: str) -> str:
    if not is_valid_device_id(device_id):
        raise TopicError(f"invalid device id {device_id!r} (must match {DEVICE_ID_PATTERN})")
    return device_id


def device_topic(device_id: str, channel: Channel) -> str:
    """`hrss/v1/dev/<device_id>/<channel>`."""
    return f"{DEVICES_ROOT}/{check_device_id(device_id)}/{channel.value}"


def device_filter(device_id: str) -> str:
    """Everything one terminal may publish and subscribe to (the broker ACL's pattern)."""
    return f"{DEVICES_ROOT}/{check_device_id(device_id)}/#"


#: Every device channel of every terminal.
ALL_DEVICES_FILTER = f"{DEVICES_ROOT}/+/+"


def shared_subscription(group: str, topic_filter: str) -> str:
    """MQTT 5 shared subscription: each message goes to one subscriber of `group`."""
    if not group or any(c in group for c in "/+#"):
        raise TopicError(f"invalid share group {group!r}")
    return f"$share/{group}/{topic_filter}"


#: What every manager process subscribes to; the broker splits the load between them.
MANAGER_SUBSCRIPTION = shared_subscription(MANAGER_SHARE_GROUP, ALL_DEVICES_FILTER)


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    device_id: str
    channel: Channel


_ROOT_PARTS = DEVICES_ROOT.split("/")
_CHANNELS = {c.value: c for c in Channel}


def parse_device_topic(topic: str) -> DeviceTopic:
    """Split `hrss/v1/dev/<id>/<channel>`; raise TopicError for anything else."""
    parts = topic.split("/")
    if len(parts) != len(_ROOT_PARTS) + 2 or parts[: len(_ROOT_PARTS)] != _ROOT_PARTS:
        raise TopicError(f"not a device topic: {topic!r}")
    device_id, channel = parts[-2], parts[-1]
    if not is_valid_device_id(device_id):
        raise TopicError(f"invalid device id in topic {topic!r}")
    try:
        return DeviceTopic(device_id, _CHANNELS[channel])
    except KeyError:
        raise TopicError(f"unknown channel in topic {topic!r}") from None
