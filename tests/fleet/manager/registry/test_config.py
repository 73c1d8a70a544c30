"""Desired and reported configuration in the registry: revisions above anything reported,
older set-configs superseded, reports from births and results, terminals left behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.clock import utc_now
from fleet.manager.models import CommandRecord
from fleet.manager.registry import Registry
from fleet.protocol import Birth, CommandResult, CommandStatus
from tests.fleet.manager.support import DEV, S1, S2, apply, birth

TTL = 3600


def _birth(seq: int, revision: int | None, **values: Any) -> Birth:
    b = birth(seq)
    config = None if revision is None else {"revision": revision,
                                            "values": {"health_interval_s": 1.0, **values}}
    return Birth.model_validate({**b.model_dump(), "config": config})


def _answer(command: CommandRecord, revision: int, refused: dict[str, str] | None = None,
            **values: Any) -> CommandResult:
    return CommandResult(device_id=DEV, id=command.id, status=CommandStatus.OK, output={
        "config": {"revision": revision, "values": values}, "applied": values,
        "refused": refused or {}})


def test_births_report_what_the_terminal_runs(registry: Registry) -> None:
    apply(registry, _birth(S1, 3, log_level="INFO"))
    config = registry.get_config(DEV)
    assert config is not None
    assert (config.revision, config.reported_revision) == (0, 3)
    assert config.reported == {"health_interval_s": 1.0, "log_level": "INFO"}
    apply(registry, _birth(S2, None))  # an older agent now: it reports nothing
    config = registry.get_config(DEV)
    assert config is not None and config.reported_revision is None and config.reported is None


def test_each_change_is_a_new_revision_above_the_reported_one(registry: Registry) -> None:
    apply(registry, _birth(S1, 7))
    stored = registry.set_desired(DEV, {"health_interval_s": 5.0}, None, TTL)
    assert stored is not None
    config, first = stored
    assert config.revision == 8 and first.args == {"revision": 8,
                                                   "values": {"health_interval_s": 5.0}}
    assert registry.set_desired(DEV, {}, base_revision=7, ttl_s=TTL) is None  # not current
    stored = registry.set_desired(DEV, {"log_level": "DEBUG"}, base_revision=8, ttl_s=TTL)
    assert stored is not None
    config, second = stored
    assert config.revision == 9 and config.command_id == second.id
    # The older, unanswered one is never sent again.
    old = registry.get_command(first.id)
    assert old is not None and old.status == "superseded"
    assert [c.id for c in registry.deliverable_commands([DEV], utc_now())] == [second.id]


def test_results_report_unless_a_newer_revision_is_known(registry: Registry) -> None:
    apply(registry, _birth(S1, 0))
    _, first = registry.set_desired(DEV, {"health_interval_s": 5.0}, None, TTL) or (None, None)
    _, second = registry.set_desired(DEV, {"health_interval_s": 6.0}, None, TTL) or (None, None)
    assert first is not None and second is not None
    apply(registry, _answer(second, 2, {"log_level": "input should be 'DEBUG', ..."},
                            health_interval_s=6.0))
    apply(registry, _answer(first, 1, health_interval_s=5.0))  # late: superseded
    config = registry.get_config(DEV)
    assert config is not None
    assert (config.reported_revision, config.reported) == (2, {"health_interval_s": 6.0})
    assert config.refused == {"log_level": "input should be 'DEBUG', ..."}
    assert registry.get_command(second.id).status == "ok"  # type: ignore[union-attr]


def test_only_a_set_config_of_the_same_device_reports(registry: Registry) -> None:
    apply(registry, _birth(S1, 0))
    now = utc_now()
    ping = CommandRecord(id="p1", device_id=DEV, name="ping", args={}, idempotency_key="p1",
                         request_hash="h", issued_at=now, expires_at=now + timedelta(seconds=60))
    registry.insert_command(ping)
    apply(registry, _answer(ping, 99, health_interval_s=9.0))
    assert registry.get_config(DEV).reported_revision == 0  # type: ignore[union-attr]


def test_terminals_behind_without_a_set_config_on_its_way(registry: Registry) -> None:
    apply(registry, _birth(S1, 0))
    _, command = registry.set_desired(DEV, {"health_interval_s": 5.0}, None, TTL) or (None, None)
    assert command is not None
    assert registry.configs_behind([DEV], utc_now()) == []  # its set-config is on its way
    apply(registry, _answer(command, 1, health_interval_s=5.0))
    assert registry.configs_behind([DEV], utc_now()) == []  # in step
    apply(registry, _birth(S2, 0))  # its state directory was lost
    [behind] = registry.configs_behind([DEV], utc_now())
    assert (behind.revision, behind.reported_revision) == (1, 0)
