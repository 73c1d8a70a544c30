"""Misbehaviour on request for `/central/v1`: outage, latency, random server errors, and the
hostile answers a tester uses to check that a caller treats the platform's answers as data."""

from __future__ import annotations

import datetime as dt
import random
import threading
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

# What a broken or compromised platform (or a proxy in front of it) can answer; each is
# described in docs/simulators/central.md.
HostileMode = Literal[
    "trickle",             # the answer, one byte every `trickle_interval_ms`
    "oversized",           # a valid answer padded to `oversized_bytes`, streamed, no length
    "other-citizen",       # persons/query answers with another person's record
    "out-of-range",        # negative amounts, birth dates and expiries in the year 2999
    "bare-404",            # 404 text/plain "Not Found", no problem code (a misrouted gateway)
    "deep-nesting",        # JSON nested `nesting_depth` levels deep
    "invalid-utf8",        # the answer with bytes that are not UTF-8 in its first string
    "wrong-content-type",  # the answer as text/html
]
HOSTILE_MODES: tuple[str, ...] = HostileMode.__args__  # type: ignore[attr-defined]


class OutageWindow(BaseModel):
    """A planned maintenance window on the simulator's clock: [start, end)."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> OutageWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def covers(self, now: dt.datetime) -> bool:
        return self.start <= now < self.end


class Faults(BaseModel):
    """The fault settings; `PUT /sim/v1/faults` replaces all of them (omitted = off)."""

    model_config = ConfigDict(extra="forbid")

    outage: bool = Field(False, description="Answer every contract call but health with 503.")
    latency_ms: int = Field(0, ge=0, le=60_000, description="Delay before every contract call.")
    error_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Fraction of contract calls answered with 500."
    )
    hostile: HostileMode | None = Field(
        None, description="Answer every contract call but health this hostile way."
    )
    trickle_interval_ms: int = Field(2000, ge=1, le=60_000)
    oversized_bytes: int = Field(300 * 1024 * 1024, ge=1, le=4 * 1024**3)
    nesting_depth: int = Field(100_000, ge=1, le=10_000_000)
    refuse_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of new submissions refused with code simulated-refusal (recorded).",
    )
    lose_response_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of submission batches committed, then answered with a cut body.",
    )
    duplicate_response_rate: float = Field(
        0.0, ge=0.0, le=1.0,
        description="Share of submission batches (processed) answered with the previous "
                    "batch's answer: the wrong keys.",
    )
    slow_body_ms: int = Field(
        0, ge=0, le=600_000, description="Every contract answer trickles over this long."
    )
    outage_windows: list[OutageWindow] = Field(
        default_factory=list, max_length=32,
        description="503 maintenance inside each window (the simulator's clock, UTC).",
    )

    def outage_until(self, now: dt.datetime) -> dt.datetime | None:
        """The end of the outage window `now` is in, if any."""
        ends = [w.end for w in self.outage_windows if w.covers(now)]
        return max(ends) if ends else None


class FaultState:
    """The current faults, shared by the server's threads."""

    def __init__(self, faults: Faults | None = None, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = faults or Faults()
        self._rng = rng or random.Random()

    def get(self) -> Faults:
        with self._lock:
            return self._faults

    def set(self, faults: Faults) -> Faults:
        with self._lock:
            self._faults = faults
            return faults

    def roll_error(self) -> bool:
        """True when this call should fail under the current error rate."""
        return self.roll("error_rate")

    def roll(self, rate_name: str) -> bool:
        """True with the probability of the named rate (never at 0, always at 1)."""
        with self._lock:
            rate = float(getattr(self._faults, rate_name))
            return rate > 0 and self._rng.random() < rate
