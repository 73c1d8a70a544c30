"""Ranges and lengths of every field of the hrss/v1 payloads (docs/contracts/fleet-mqtt.md).

Each bound is one that a real terminal can never leave, so that a value outside it is a bug or
a forgery, and decoding the message that carries it fails alone (a `seq` of 2^63 once dropped a
whole batch at the manager; a huge `health_interval_s` once made every offline sweep raise).
They are also small enough that every consumer can do arithmetic on them without overflow:
integers fit a SQLite/PostgreSQL BIGINT and a JSON number (2^53 - 1), timestamps and intervals
can be added to each other without leaving Python's datetime range.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

#: Largest payload any receiver decodes; a real health message is about 500 bytes.
MAX_PAYLOAD_BYTES = 64 * 1024

#: Counters (`session_seq`, `seq`, job `update`): integers exact in every JSON implementation.
MAX_COUNTER = 2**53 - 1

#: Intervals and durations in seconds (`health_interval_s`, job `seconds`).
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86_400.0

#: Uptime: a century is more than any terminal runs.
MAX_UPTIME_S = 100 * 365 * 86_400.0

#: Ages (the edge's oldest pending submission): as long as any uptime.
MAX_AGE_S = MAX_UPTIME_S

#: Timestamps (`ts`, `expires_at`): from the Unix epoch (a terminal whose clock battery died
#: boots in 1970) to 2200.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)

#: String lengths, in characters.
MAX_VERSION_LEN = 64
MAX_NAME_LEN = 64  # peripheral names and codes, screens, death reasons, job and command names
MAX_SITE_LEN = 128
MAX_HOSTNAME_LEN = 255  # RFC 1035
MAX_TEXT_LEN = 512  # human-readable reasons and errors

#: Entries of the peripherals map of one health message (five kinds today).
MAX_PERIPHERALS = 32


def _to_utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset: before datetime.min in UTC
        raise ValueError("timestamp out of range") from None
    if not MIN_TIME <= value <= MAX_TIME:
        raise ValueError("timestamp out of range")
    return value


Counter = Annotated[int, Field(ge=0, le=MAX_COUNTER, strict=True)]
IntervalS = Annotated[float, Field(ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
UptimeS = Annotated[float, Field(ge=0, le=MAX_UPTIME_S, allow_inf_nan=False)]
AgeS = Annotated[float, Field(ge=0, le=MAX_AGE_S, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
#: ISO 8601 with an offset (a naive timestamp is rejected), normalised to UTC, within range.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]

Version = Annotated[str, StringConstraints(max_length=MAX_VERSION_LEN)]
ShortName = Annotated[str, StringConstraints(max_length=MAX_NAME_LEN)]
Site = Annotated[str, StringConstraints(max_length=MAX_SITE_LEN)]
Hostname = Annotated[str, StringConstraints(max_length=MAX_HOSTNAME_LEN)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_LEN)]
