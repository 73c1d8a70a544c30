"""What an operator asks for: a release, a target filter, groups, thresholds, pace. Validated
as data (every field bounded); group sizes and per-terminal jitter are pure functions of it."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from common.device_id import DEVICE_ID_PATTERN

MAX_GROUPS = 20
MAX_TARGETS = 100_000
_GROUP = re.compile(r"^(?:rest|[1-9][0-9]{0,5}|(?:100|[1-9]?[0-9](?:\.[0-9]+)?)%)$")

Label = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
Version = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                           pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]


class TargetFilter(BaseModel):
    """Terminals as the registry knows them: site (from their birth), region and tags (labels an
    operator set), current version (from their birth). Every given criterion must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    region: Label | None = None
    tags: list[Label] = Field(default_factory=list, max_length=16)
    versions: list[Version] = Field(default_factory=list, max_length=32,
                                    description="current app versions (any of them)")
    device_ids: list[Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]] | None = \
        Field(None, max_length=MAX_TARGETS)


class RolloutSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    target: Annotated[str, StringConstraints(min_length=1, max_length=255,
                                             pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+/-]*$")] = \
        Field(description="TUF target path, e.g. kiosk/hrss-kiosk-1.4.0.tar.gz")
    version: Version
    filter: TargetFilter = Field(default_factory=TargetFilter)
    groups: list[str] = Field(default_factory=lambda: ["1%", "10%", "rest"], min_length=1,
                              max_length=MAX_GROUPS,
                              description='each "N" terminals, "N%" of the selection, or "rest"')
    success_threshold_percent: float = Field(100.0, ge=0, le=100, allow_inf_nan=False)
    error_threshold_percent: float = Field(10.0, gt=0, le=100, allow_inf_nan=False)
    error_threshold_count: int | None = Field(None, ge=1, le=MAX_TARGETS)
    rate_per_minute: int | None = Field(None, ge=1, le=1_000_000)
    jitter_s: float = Field(0.0, ge=0, le=3600, allow_inf_nan=False)
    ttl_s: int = Field(3600, ge=1, le=7 * 86_400, description="of each command sent")
    force: bool = Field(False, description="also terminals that run or took this version")
    seed: int | None = Field(None, ge=0, le=2**53 - 1,
                             description="group order and jitter; random if omitted")

    @field_validator("target")
    @classmethod
    def _no_dot_segments(cls, value: str) -> str:
        if any(part in ("", ".", "..") for part in value.split("/")):
            raise ValueError("no empty, '.' or '..' segments")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: list[str]) -> list[str]:
        for g in value:
            if not _GROUP.fullmatch(g):
                raise ValueError('each group is "N", "N%" (0-100) or "rest"')
        if "rest" in value[:-1]:
            raise ValueError('"rest" can only be the last group')
        return value


def group_sizes(total: int, groups: list[str]) -> list[int]:
    """Sizes of the groups for `total` terminals: counts, or percentages of the total rounded up
    (a canary of 1 % of 50 terminals is one terminal, not none). What is left after the last
    group joins it; groups that would be empty are dropped."""
    sizes: list[int] = []
    left = total
    for g in groups:
        if g == "rest":
            n = left
        elif g.endswith("%"):
            n = math.ceil(total * float(g[:-1]) / 100)
        else:
            n = int(g)
        n = min(n, left)
        if n > 0:
            sizes.append(n)
        left -= n
    if left > 0:
        if sizes:
            sizes[-1] += left
        else:
            sizes.append(left)
    return sizes


def _unit(*parts: object) -> float:
    """A number in [0, 1) from `parts`, the same in every process and after every restart."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def order_key(seed: int, device_id: str) -> float:
    """Seeded shuffle of the selection: the first groups are a sample of the fleet, not the
    terminals whose ids sort first."""
    return _unit("order", seed, device_id)


def slot_interval_s(spec: RolloutSpec) -> float:
    return 60.0 / spec.rate_per_minute if spec.rate_per_minute else 0.0


def jitter_s(spec: RolloutSpec, seed: int, rollout_id: str, device_id: str) -> float:
    """Per-terminal random delay in [0, jitter_s). With a rate limit it stays below one slot, so
    the rate holds (at most `rate_per_minute` + 1 sends in any minute)."""
    bound = spec.jitter_s
    interval = slot_interval_s(spec)
    if interval:
        bound = min(bound, interval)
    return bound * _unit("jitter", seed, rollout_id, device_id)
