"""fleet.protocol.topics: builders, parser, shared subscription."""

from __future__ import annotations

import pytest

from fleet.protocol import (
    ALL_DEVICES_FILTER,
    MANAGER_SUBSCRIPTION,
    Channel,
    TopicError,
    device_filter,
    device_topic,
    parse_device_topic,
)


def test_topic_builders_and_parser_round_trip() -> None:
    for channel in Channel:
        topic = device_topic("T-0001", channel)
        assert topic == f"hrss/v1/dev/T-0001/{channel.value}"
        parsed = parse_device_topic(topic)
        assert (parsed.device_id, parsed.channel) == ("T-0001", channel)
    assert device_filter("T-0001") == "hrss/v1/dev/T-0001/#"
    assert ALL_DEVICES_FILTER == "hrss/v1/dev/+/+"
    assert MANAGER_SUBSCRIPTION == "$share/hrss-fleet-managers/hrss/v1/dev/+/+"


@pytest.mark.parametrize("device_id", ["", "a/b", "+", "#", "-lead", "x" * 65, "空"])
def test_device_ids_that_could_escape_the_tree_are_rejected(device_id: str) -> None:
    with pytest.raises(TopicError):
        device_topic(device_id, Channel.BIRTH)


@pytest.mark.parametrize(
    "topic",
    ["hrss/v2/dev/T-1/birth", "hrss/v1/dev/T-1", "hrss/v1/dev/T-1/birth/x",
     "hrss/v1/dev/T-1/reboot", "hrss/v1/dev/a+b/birth", "other/v1/dev/T-1/birth"],
)
def test_parser_rejects_foreign_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_device_topic(topic)


