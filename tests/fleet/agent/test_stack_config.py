"""Desired configuration and the 1.3 health fields through real processes: Mosquitto, a manager,
an agent (`kioskctl fleet agent`), a stub kiosk and a fake thermal directory."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.fleet.support import FakeKiosk, FleetStack, kiosk_status, wait_for


def _config(stack: FleetStack, device_id: str) -> dict[str, Any]:
    r = httpx.get(f"{stack.api}/devices/{device_id}/config", timeout=5)
    r.raise_for_status()
    return r.json()


def _put(stack: FleetStack, device_id: str, desired: dict[str, Any]) -> dict[str, Any]:
    r = httpx.put(f"{stack.api}/devices/{device_id}/config", json={"desired": desired},
                  timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _wait_config(stack: FleetStack, device_id: str, check: Any, what: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        config = _config(stack, device_id)
        return config if check(config) else None

    return wait_for(probe, f"{device_id}: {what}", 30, diagnostics=stack.logs)


def _thermal(root: Path, *millidegrees: int) -> Path:
    for i, value in enumerate(millidegrees):
        (root / f"thermal_zone{i}").mkdir(parents=True, exist_ok=True)
        (root / f"thermal_zone{i}" / "temp").write_text(f"{value}\n")
    return root


def test_health_carries_temperature_and_the_kiosks_edge_and_outbox(
    stack: FleetStack, fake_kiosk: FakeKiosk, tmp_path: Path
) -> None:
    thermal = _thermal(tmp_path / "thermal", 41_000, 58_500)
    fake_kiosk.status = {**kiosk_status(), "edge": {"reachable": False, "checked_at": 1.78e9},
                         "outbox": {"depth": 3, "oldest_age_s": 42.0},
                         "maintenance": {"on": True, "pending": True}}
    stack.start_agent("T-0301", fake_kiosk.url, AGENT_THERMAL_DIR=str(thermal))

    d = stack.wait_device("T-0301", lambda d: d["temperature_c"] is not None, "temperature")
    assert d["temperature_c"] == 58.5
    assert d["edge_reachable"] is False
    assert d["outbox"] == {"depth": 3, "oldest_age_s": 42.0}
    assert d["maintenance"] == {"on": True, "pending": True}

    # They follow the kiosk and the sensors; an older kiosk's document has none of them.
    _thermal(thermal, 71_000)
    fake_kiosk.status = kiosk_status()
    d = stack.wait_device("T-0301", lambda d: d["temperature_c"] == 71.0
                          and d["outbox"] is None, "the new readings")
    assert (d["edge_reachable"], d["maintenance"]) == (None, None)


def test_a_config_set_while_offline_is_applied_when_the_terminal_is_back(
    stack: FleetStack, fake_kiosk: FakeKiosk
) -> None:
    agent = stack.start_agent("T-0302", fake_kiosk.url)
    stack.wait_device("T-0302", lambda d: d["online"] and d["health"], "online")
    assert _config(stack, "T-0302")["reported"]["revision"] == 0
    assert agent.stop() == 0
    stack.wait_device("T-0302", lambda d: not d["online"], "offline")

    put = _put(stack, "T-0302", {"health_interval_s": 0.3, "log_level": "DEBUG"})
    assert put["revision"] == 1 and put["drift"] == ["health_interval_s", "log_level"]
    superseded = _put(stack, "T-0302", {"health_interval_s": 0.4, "log_level": "DEBUG"})
    assert superseded["revision"] == 2

    stack.start_agent("T-0302", fake_kiosk.url)
    config = _wait_config(stack, "T-0302", lambda c: c["in_sync"], "in sync")
    assert config["reported"]["revision"] == 2 and config["drift"] == []
    assert config["reported"]["values"]["health_interval_s"] == 0.4
    assert config["reported"]["values"]["log_level"] == "DEBUG"
    assert httpx.get(f"{stack.api}/commands/{put['command_id']}").json()["status"] \
        == "superseded"
    answer = httpx.get(f"{stack.api}/commands/{superseded['command_id']}").json()
    assert answer["status"] == "ok" and answer["output"]["refused"] == {}
    assert stack.device("T-0302")["health_interval_s"] == 0.4  # the sweep allows for it

    # The agent runs it: health comes every 0.4 s (seq rises by several within 2 s).
    seq = stack.device("T-0302")["health"]["seq"]
    stack.wait_device("T-0302", lambda d: d["health"]["seq"] >= seq + 4, "faster health",
                      timeout=5)

    # Kept in the state directory: a restart runs (and reports in its birth) the same.
    assert stack.agents["T-0302"].stop() == 0
    state = json.loads((stack.workdir / "agents" / "T-0302" / "config.json").read_text())
    assert state == {"revision": 2, "values": {"health_interval_s": 0.4, "log_level": "DEBUG"}}
    stack.start_agent("T-0302", fake_kiosk.url)
    d = stack.wait_device("T-0302", lambda d: d["online"], "online again")
    assert d["health_interval_s"] == 0.4
    assert _config(stack, "T-0302")["in_sync"]


def test_a_bad_value_is_refused_and_reported(stack: FleetStack, fake_kiosk: FakeKiosk) -> None:
    stack.start_agent("T-0303", fake_kiosk.url)
    stack.wait_device("T-0303", lambda d: d["online"] and d["health"], "online")

    # The manager refuses it itself...
    r = httpx.put(f"{stack.api}/devices/T-0303/config",
                  json={"desired": {"health_interval_s": -1}}, timeout=5)
    assert r.status_code == 422 and r.json()["code"] == "config-invalid"

    # ...and so does the agent when it comes another way (a raw command, a newer manager).
    raw = stack.post_command("T-0303", {"name": "set-config", "ttl_s": 30, "args": {
        "revision": 5, "values": {"health_interval_s": -1, "log_level": "WARNING"}}},
        str(uuid.uuid4()))
    assert raw.status_code == 202, raw.text
    answer = wait_for(lambda: (c := stack.command(raw.json()["id"]))["answered_at"] and c,
                      "the set-config answer", diagnostics=stack.logs)
    assert answer["status"] == "ok"
    assert set(answer["output"]["refused"]) == {"health_interval_s"}
    assert answer["output"]["applied"] == {"log_level": "WARNING"}
    config = _wait_config(stack, "T-0303", lambda c: c["reported"]["revision"] == 5, "reported")
    assert "health_interval_s" in config["refused"]
    assert config["reported"]["values"]["health_interval_s"] == 0.5  # still the provisioned one

    # The next desired revision goes above what the terminal runs, so it is taken.
    put = _put(stack, "T-0303", {"health_interval_s": 1})
    assert put["revision"] == 6
    config = _wait_config(stack, "T-0303", lambda c: c["in_sync"], "in sync")
    assert config["reported"]["values"] == {"health_interval_s": 1.0, "commit_deadline_s": 300.0,
                                            "log_level": "INFO"}
