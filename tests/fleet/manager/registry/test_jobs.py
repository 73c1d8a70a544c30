"""Job ingest: the highest `update` per job wins whatever the order, duplicates change nothing,
only jobs a command of the same device started are kept, and one oversized message is rejected
alone (the rest of its batch is stored)."""

from __future__ import annotations

import random
from datetime import timedelta

from common.clock import utc_now
from fleet.manager.models import CommandRecord
from fleet.manager.registry import Registry, RejectReason
from fleet.protocol import JobState, JobUpdate
from tests.fleet.manager.support import DEV, S1, apply, birth


def _command(registry: Registry, command_id: str, device_id: str = DEV) -> None:
    now = utc_now()
    registry.insert_command(CommandRecord(
        id=command_id, device_id=device_id, name="wait", args={}, idempotency_key=command_id,
        request_hash="x", issued_at=now, expires_at=now + timedelta(minutes=5)))


def job(update: int, state: JobState = JobState.RUNNING, job_id: str = "c1",
        device_id: str = DEV, **kw: object) -> JobUpdate:
    return JobUpdate(device_id=device_id, job_id=job_id, name="wait", state=state,
                     update=update, **kw)


def test_the_highest_update_wins_in_any_order_and_duplicates_change_nothing(
    registry: Registry,
) -> None:
    apply(registry, birth(S1))
    _command(registry, "c1")
    messages = [job(1, JobState.QUEUED), job(2, progress=0.5), job(3, progress=0.9),
                job(4, JobState.SUCCEEDED, progress=1.0, output={"waited_s": 1.0})]
    shuffled = messages * 2
    random.Random(7).shuffle(shuffled)
    for m in shuffled:  # one at a time: each its own batch, as from different managers
        apply(registry, m)
    stored = registry.get_job(DEV, "c1")
    assert stored is not None
    assert (stored.update, stored.state, stored.output) == (4, "succeeded", {"waited_s": 1.0})
    # A late, older message and a duplicate in one batch: still the newest.
    out = apply(registry, job(2), job(4, JobState.SUCCEEDED, output={"waited_s": 1.0}))
    assert out.jobs_applied == 0 and out.jobs_ignored == 1
    assert registry.get_job(DEV, "c1").update == 4


def test_only_jobs_started_by_a_command_of_the_same_device_are_kept(registry: Registry) -> None:
    apply(registry, birth(S1), birth(S1, device_id="T-2"))
    _command(registry, "c1")  # a command of T-1
    out = apply(registry, job(1, job_id="c1", device_id="T-2"), job(1, job_id="nobody-asked"))
    assert (out.jobs_applied, out.jobs_ignored) == (0, 2)
    assert registry.get_job("T-2", "c1") is None and registry.jobs_of(DEV, 10) == []


def test_an_oversized_job_is_rejected_alone(registry: Registry) -> None:
    apply(registry, birth(S1))
    _command(registry, "c1")
    _command(registry, "c2")
    big = job(1, job_id="c1", output={"log": "x" * 9000})
    out = apply(registry, big, job(1, job_id="c2"))
    assert out.rejected == [(big, RejectReason.TOO_LARGE)]
    assert registry.get_job(DEV, "c1") is None
    assert registry.get_job(DEV, "c2") is not None
