"""`maintenance`: validated arguments, and the kiosk's control API reached with the token."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.protocol import CommandStatus, encode
from tests.fleet.agent.commands.support import answer, command, settings_for, work
from tests.fleet.agent.control_stub import TOKEN, StubKiosk, write_token


@pytest.mark.parametrize("args", [
    {}, {"on": "yes"}, {"on": True, "reason": "x" * 201}, {"on": True, "reason": 5},
    {"on": True, "screen": "custom"},
])
def test_core_rejects_bad_arguments(args: dict) -> None:
    assert answer(encode(command("maintenance", **args))).status is CommandStatus.REJECTED


def test_turns_the_screen_on_and_off(tmp_path: Path, kiosk: StubKiosk) -> None:
    settings = settings_for(tmp_path, kiosk)
    on = work(settings, command("maintenance", cid="m-1", on=True, reason="card reader swap"))
    assert (on.status, on.output) == (CommandStatus.OK, {"on": True, "pending": False})
    kiosk.pending = True  # a citizen is being served: the kiosk shows it afterwards
    pending = work(settings, command("maintenance", cid="m-2", on=True, reason="r" * 200))
    assert pending.output == {"on": True, "pending": True}
    off = work(settings, command("maintenance", cid="m-3", on=False))
    assert off.output == {"on": False, "pending": True}
    seen = kiosk.control_requests("/control/maintenance")
    assert [s.body for s in seen] == [{"on": True, "reason": "card reader swap"},
                                      {"on": True, "reason": "r" * 200},
                                      {"on": False, "reason": ""}]
    assert {s.authorization for s in seen} == {f"Bearer {TOKEN}"}


def test_refusals_become_clear_errors(tmp_path: Path, kiosk: StubKiosk) -> None:
    (tmp_path / "other").mkdir()
    wrong = settings_for(tmp_path, kiosk,
                         kiosk_control_token_file=write_token(tmp_path / "other", "wrong"))
    assert work(wrong, command("maintenance", on=True)).output["error"] == "unauthorized"
    unset = settings_for(tmp_path, kiosk, kiosk_control_token_file=None)
    result = work(unset, command("maintenance", on=True))
    assert result.status is CommandStatus.ERROR and result.output["error"] == "not-configured"
    assert kiosk.control_requests("/control/maintenance")[-1].authorization == "Bearer wrong"
    kiosk.maintenance = (404, {"error": "not-configured"})
    off = work(settings_for(tmp_path, kiosk), command("maintenance", on=False))
    assert off.output["error"] == "not-configured"
