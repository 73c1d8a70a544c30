"""What applying a batch did: counts for the stats, and follow-ups for the command service."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fleet.protocol import Payload


class RejectReason(StrEnum):
    """Why a message was acknowledged without being stored (counted per reason)."""

    TOPIC = "topic"  # not a device topic we know
    DECODE = "decode"  # not JSON, unknown schema, a field out of range
    DEVICE_MISMATCH = "device-mismatch"  # the payload names another device than its topic
    SESSION_AHEAD = "session-ahead"  # session_seq too far ahead of the wall clock
    STORE_FAILED = "store-failed"  # the database refused it (alone, not with its batch)
    TOO_LARGE = "too-large"  # valid, but bigger than the registry keeps (a job's output)


@dataclass
class BatchOutcome:
    reborn: list[str] = field(default_factory=list)  # devices whose birth was accepted
    # Health from a session this registry has no birth for: (device, session_seq). The birth was
    # lost or is late; the manager asks the device to announce it again.
    unborn: list[tuple[str, int]] = field(default_factory=list)
    rejected: list[tuple[Payload, RejectReason]] = field(default_factory=list)
    presence_accepted: int = 0
    presence_ignored: int = 0
    health_ignored: int = 0
    results_applied: int = 0
    results_ignored: int = 0
    jobs_applied: int = 0
    jobs_ignored: int = 0  # older than the stored update, or a job no command of ours started

    def merge(self, other: BatchOutcome) -> None:
        self.reborn.extend(other.reborn)
        self.unborn.extend(other.unborn)
        self.rejected.extend(other.rejected)
        self.presence_accepted += other.presence_accepted
        self.presence_ignored += other.presence_ignored
        self.health_ignored += other.health_ignored
        self.results_applied += other.results_applied
        self.results_ignored += other.results_ignored
        self.jobs_applied += other.jobs_applied
        self.jobs_ignored += other.jobs_ignored
