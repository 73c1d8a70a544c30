"""Health's 1.3 fields: the hottest thermal zone, and the kiosk's optional edge, outbox and
maintenance entries, each validated alone."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fleet.agent.health import kiosk_extras, read_temperature
from fleet.protocol import Health, decode, encode
from fleet.protocol.messages import MaintenanceHealth, OutboxHealth


def _zones(root: Path, *raw: str) -> Path:
    for i, value in enumerate(raw):
        zone = root / f"thermal_zone{i}"
        zone.mkdir(parents=True)
        (zone / "temp").write_text(value)
    return root


def test_the_hottest_readable_zone_in_degrees(tmp_path: Path) -> None:
    thermal = _zones(tmp_path, "41500\n", "67250\n", "garbage", "-273000", "2147483647")
    (tmp_path / "cooling_device0").mkdir()  # not a zone
    assert read_temperature(thermal) == 67.2  # rounded to a tenth; the bogus zones left out


@pytest.mark.parametrize("raw", [(), ("-274000",), ("",)])
def test_no_usable_zone_is_none(tmp_path: Path, raw: tuple[str, ...]) -> None:
    assert read_temperature(_zones(tmp_path / "t", *raw)) is None


def test_a_missing_directory_is_none(tmp_path: Path) -> None:
    assert read_temperature(tmp_path / "absent") is None


def test_the_kiosk_entries_as_models_or_dicts() -> None:
    status = SimpleNamespace(
        edge=SimpleNamespace(reachable=False, checked_at=1.0),
        outbox={"depth": 3, "oldest_age_s": 12.5},
        maintenance=SimpleNamespace(on=False, pending=True),
    )
    assert kiosk_extras(status) == {
        "edge_reachable": False,
        "outbox": OutboxHealth(depth=3, oldest_age_s=12.5),
        "maintenance": MaintenanceHealth(on=False, pending=True),
    }


def test_an_older_kiosk_gives_none_and_a_bad_entry_stands_alone() -> None:
    assert kiosk_extras(SimpleNamespace()) == {}
    status = SimpleNamespace(edge={"reachable": "yes"}, outbox={"depth": -1},
                             maintenance={"on": True})
    assert kiosk_extras(status) == {"maintenance": MaintenanceHealth(on=True, pending=False)}
    assert kiosk_extras(SimpleNamespace(outbox={"depth": 2, "oldest_age_s": None})) == {
        "outbox": OutboxHealth(depth=2)}


def test_health_bounds_its_new_fields() -> None:
    base = {"device_id": "T-1", "session_seq": 1, "seq": 1, "app_version": "1",
            "system": {"cpu_percent": 1, "memory_percent": 1, "disk_percent": 1, "uptime_s": 1},
            "kiosk": {"reachable": True}}
    ok = Health.model_validate({**base, "temperature_c": 55.5, "edge_reachable": True,
                                "outbox": {"depth": 0, "oldest_age_s": None},
                                "maintenance": {"on": True, "pending": False}})
    assert decode(encode(ok)) == ok
    assert Health.model_validate(base).temperature_c is None  # older agents
    for bad in ({"temperature_c": 151}, {"temperature_c": -41}, {"outbox": {"depth": -1}}):
        with pytest.raises(ValueError):
            Health.model_validate({**base, **bad})
