"""Misbehaviour on request: outage, latency and random server errors for `/central/v1`."""

from __future__ import annotations

import random
import threading

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """The fault settings; `PUT /sim/v1/faults` replaces all of them (omitted = off)."""

    model_config = ConfigDict(extra="forbid")

    outage: bool = Field(False, description="Answer every contract call but health with 503.")
    latency_ms: int = Field(0, ge=0, le=60_000, description="Delay before every contract call.")
    error_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Fraction of contract calls answered with 500."
    )


class FaultState:
    """The current faults, shared by the server's threads."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
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
        with self._lock:
            rate = self._faults.error_rate
            return rate > 0 and self._rng.random() < rate
