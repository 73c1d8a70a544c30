"""Device ids: the one pattern every part checks (topics, tokens, settings, REST paths)."""

from __future__ import annotations

import re

# 1-64 ASCII letters, digits, '-' or '_', starting with a letter or digit: safe in an MQTT topic
# level, a URL path segment, a file name and a token field.
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
DEVICE_ID_RULE = "a device id is 1-64 letters, digits, '-' or '_', starting with a letter or digit"


class InvalidDeviceId(ValueError):
    pass


def is_device_id(value: str) -> bool:
    # fullmatch, not match: "$" would accept a trailing newline.
    return _DEVICE_ID.fullmatch(value) is not None


def check_device_id(value: str) -> str:
    """`value` if it is a valid device id; raises InvalidDeviceId."""
    if not isinstance(value, str) or not is_device_id(value):
        raise InvalidDeviceId(DEVICE_ID_RULE)
    return value
