"""Command results: applied once, only from the addressee; a late result beats timed-out."""

from __future__ import annotations

from datetime import timedelta

from common.clock import utc_now
from fleet.manager.models import CommandRecord
from fleet.manager.registry import Registry
from fleet.protocol import CommandResult, CommandStatus
from tests.fleet.manager.support import DEV, S1, apply, birth


def _command(registry: Registry, command_id: str, device_id: str = DEV) -> None:
    now = utc_now()
    registry.insert_command(CommandRecord(
        id=command_id, device_id=device_id, name="ping", args={}, idempotency_key=command_id,
        request_hash="h", issued_at=now, expires_at=now + timedelta(seconds=60),
    ))


def test_command_results_apply_once_and_only_from_the_addressee(registry: Registry) -> None:
    apply(registry, birth(S1))
    _command(registry, "c1")
    impostor = CommandResult(device_id="T-2", id="c1", status=CommandStatus.ERROR)
    out = apply(registry, impostor)
    assert out.results_ignored == 1
    ok = CommandResult(device_id=DEV, id="c1", status=CommandStatus.OK, output={"pong": True})
    out = apply(registry, ok, ok)
    assert (out.results_applied, out.results_ignored) == (1, 1)
    c = registry.get_command("c1")
    assert c is not None and c.status == "ok" and c.output == {"pong": True}


def test_a_late_result_beats_timed_out(registry: Registry) -> None:
    apply(registry, birth(S1))
    _command(registry, "c2")
    assert registry.time_out_commands(utc_now() + timedelta(seconds=61)) == 1
    assert registry.get_command("c2").status == "timed-out"
    apply(registry, CommandResult(device_id=DEV, id="c2", status=CommandStatus.OK))
    assert registry.get_command("c2").status == "ok"
