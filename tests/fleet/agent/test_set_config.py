"""`set-config` on the core (pure) and its state file: validation per key, revisions that only
rise, what the birth and the result report, persistence across a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleet.agent.commands.set_config import (
    ConfigStore,
    RunningConfig,
    apply_live,
    check_values,
    config_defaults,
)
from fleet.agent.core import AgentCore, ConfigChanged, Effect, Identity, Publish, RecordAnswer
from fleet.agent.settings import AgentSettings
from fleet.agent.update.runner import RunnerConfig, UpdateRunner
from fleet.protocol import Birth, Command, CommandResult, decode, encode

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
IDENT = Identity(device_id="T-1", site="hall-1", hostname="kiosk-1", agent_version="1.0.0",
                 health_interval_s=30)


def _online(core: AgentCore) -> AgentCore:
    core.connecting(1_000)
    core.connected("2.0.0", T0)
    return core


def _set_config(core: AgentCore, revision: Any, values: Any, cid: str = "c1",
                **extra: Any) -> list[Effect]:
    payload = encode(Command(device_id="T-1", id=cid, name="set-config",
                             args={"revision": revision, "values": values, **extra},
                             expires_at=T0 + timedelta(seconds=60)))
    return core.command(payload, T0, lambda _cid: None)


def _result(effects: list[Effect]) -> CommandResult:
    [result] = [m for m in (decode(e.payload) for e in effects if isinstance(e, Publish))
                if isinstance(m, CommandResult)]
    return result


def _birth(core: AgentCore) -> Birth:
    [birth] = [m for m in (decode(e.payload) for e in core.connected("2.0.0", T0)
                           if isinstance(e, Publish)) if isinstance(m, Birth)]
    return birth


def test_a_new_revision_is_applied_kept_and_reported() -> None:
    core = _online(AgentCore(IDENT))
    assert _birth(core).config.model_dump(exclude_none=True) == {
        "revision": 0, "values": {"health_interval_s": 30.0}}

    effects = _set_config(core, 3, {"health_interval_s": 5, "log_level": "DEBUG"})

    result = _result(effects)
    assert result.status == "ok"
    assert result.output == {
        "config": {"revision": 3, "values": {"health_interval_s": 5.0, "log_level": "DEBUG"}},
        "applied": {"health_interval_s": 5.0, "log_level": "DEBUG"},
        "refused": {},
    }
    # Kept before the answer is recorded and sent.
    kinds = [type(e) for e in effects]
    assert kinds.index(ConfigChanged) < kinds.index(RecordAnswer)
    assert core.health_interval_s == 5.0
    birth = _birth(core)
    assert birth.health_interval_s == 5.0
    assert birth.config is not None and birth.config.revision == 3


def test_bad_values_are_refused_alone_with_their_reason() -> None:
    core = _online(AgentCore(IDENT))
    output = _result(_set_config(core, 1, {
        "health_interval_s": -1, "log_level": "LOUD", "commit_deadline_s": 120,
        "maintenance_window": "25:00-03:00", "kiosk_volume": 3, "log_level_x": None,
    })).output
    assert output["applied"] == {"commit_deadline_s": 120.0}
    assert set(output["refused"]) == {"health_interval_s", "log_level", "maintenance_window",
                                      "kiosk_volume", "log_level_x"}
    assert "not a setting" in output["refused"]["kiosk_volume"]
    assert core.health_interval_s == 30.0  # the refused value did not replace the running one
    assert output["config"]["revision"] == 1


def test_a_string_is_not_a_number() -> None:
    accepted, refused = check_values({"health_interval_s": "5", "commit_deadline_s": True})
    assert accepted == {} and set(refused) == {"health_interval_s", "commit_deadline_s"}


@pytest.mark.parametrize("args", [
    {"revision": 0, "values": {}},
    {"revision": True, "values": {}},
    {"revision": "2", "values": {}},
    {"revision": 2, "values": ["health_interval_s"]},
    {"revision": 2, "values": {f"k{i}": 1 for i in range(33)}},
])
def test_malformed_arguments_are_rejected(args: dict[str, Any]) -> None:
    core = _online(AgentCore(IDENT))
    result = _result(_set_config(core, args["revision"], args["values"]))
    assert result.status == "rejected"
    assert core.config.revision == 0


def test_an_older_or_the_same_revision_changes_nothing() -> None:
    core = _online(AgentCore(IDENT))
    _set_config(core, 5, {"health_interval_s": 10}, cid="c5")
    for revision, cid in ((4, "c4"), (5, "c5b")):
        effects = _set_config(core, revision, {"health_interval_s": 99}, cid=cid)
        assert not any(isinstance(e, ConfigChanged) for e in effects)
        output = _result(effects).output
        assert output["config"]["revision"] == 5 and output["applied"] == {}
        assert "not newer" in output["ignored"]
    assert core.health_interval_s == 10.0


def test_a_key_no_longer_desired_goes_back_to_the_provisioned_value() -> None:
    core = _online(AgentCore(IDENT))
    _set_config(core, 1, {"health_interval_s": 10}, cid="a")
    _set_config(core, 2, {"log_level": "ERROR"}, cid="b")
    assert core.health_interval_s == 30.0
    assert core.config.values == {"health_interval_s": 30, "log_level": "ERROR"}


def test_the_store_survives_a_restart_and_never_goes_back(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    assert store.load() == (0, {})
    assert store.save(4, {"health_interval_s": 7.0})
    assert not store.save(3, {"health_interval_s": 99.0})  # older: the newer one stays
    assert ConfigStore(tmp_path).load() == (4, {"health_interval_s": 7.0})

    # A new core from the file runs what the old one reported.
    core = AgentCore(IDENT, config=RunningConfig(*store.load(), defaults={"health_interval_s": 30}))
    assert core.health_interval_s == 7.0 and _birth(_online(core)).config.revision == 4


def test_an_edited_file_loses_its_bad_values_only(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(
        {"revision": 2, "values": {"health_interval_s": "fast", "log_level": "INFO"}}))
    assert ConfigStore(tmp_path).load() == (2, {"log_level": "INFO"})
    (tmp_path / "config.json").write_text("{not json")
    assert ConfigStore(tmp_path).load() == (0, {})


def test_values_are_applied_to_the_running_process(tmp_path: Path) -> None:
    import logging

    settings = AgentSettings(device_id="T-1", state_dir=tmp_path, log_level="info")
    runner = UpdateRunner(RunnerConfig.from_settings(settings), status=None)  # type: ignore[arg-type]
    defaults = config_defaults(settings)
    assert defaults == {"health_interval_s": 30.0, "commit_deadline_s": 300.0, "log_level": "INFO"}
    root = logging.getLogger()
    before = root.level
    try:
        apply_live(RunningConfig(2, {"maintenance_window": "01:00-03:00", "log_level": "ERROR",
                                     "commit_deadline_s": 60.0}, defaults), runner)
        assert root.level == logging.ERROR
        assert runner.config.window is not None and runner.config.commit_deadline_s == 60.0
        apply_live(RunningConfig(3, {}, defaults), runner)
        assert runner.config.window is None and runner.config.commit_deadline_s == 300.0
    finally:
        root.setLevel(before)


def test_a_birth_with_values_this_receiver_would_refuse_still_decodes() -> None:
    birth = _birth(_online(AgentCore(IDENT)))
    body = json.loads(encode(birth))
    body["config"] = {"revision": 9, "values": {"log_level": "TRACE", "kiosk_volume": 3}}
    decoded = decode(json.dumps(body).encode())
    assert isinstance(decoded, Birth) and decoded.config is not None
    assert decoded.config.values == {"log_level": "TRACE", "kiosk_volume": 3}
    body["config"] = {"revision": 9, "values": {"x": {"nested": 1}}}
    with pytest.raises(ValueError):  # still bounded: scalars only
        decode(json.dumps(body).encode())
