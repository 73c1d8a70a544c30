"""What one central simulator process serves: population, credential and business date."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from common.clock import CHINA_TZ
from simulators.central.faults import Faults
from simulators.central.population import DEFAULT_SEED, DEFAULT_SIZE


@dataclass(frozen=True)
class CentralSimConfig:
    seed: int = DEFAULT_SEED
    population: int = DEFAULT_SIZE
    api_key: str = "central-dev-key"  # the documented simulator default
    # Fixed business date (payments, "the last 24 months"); None follows the clock.
    today: dt.date | None = None
    # The faults it starts with (`--hostile` etc.); /sim/v1/faults changes them at run time.
    faults: Faults = field(default_factory=Faults)
    # Where the mutable state lives (SQLite); None: a fresh temporary directory, removed when
    # the simulator stops. The same directory after a restart continues where it stopped.
    data_dir: Path | None = None

    def business_date(self, now: dt.datetime) -> dt.date:
        """`today`, else the date in Beijing at `now` (the simulator's clock, UTC): halls are
        in China, so "today" for payments and ages is not the date in UTC."""
        return self.today or now.astimezone(CHINA_TZ).date()

    @property
    def token_secret(self) -> bytes:
        """Key of the electronic-card tokens. Derived rather than random so that tokens issued
        before a restart of the simulator stay valid, as they would with a real platform."""
        material = f"hrss central-sim ecard v1\0{self.seed}\0{self.api_key}".encode()
        return hashlib.sha256(material).digest()
