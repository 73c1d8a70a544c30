"""The agent's reader of the kiosk's status document: it validates, refuses with a distinct
reason (too large, unknown major, invalid), and lets one bad peripheral entry stand alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleet.agent.health import KioskProbe
from fleet.agent.kiosk_status import (
    MAX_STATUS_BYTES,
    KioskStatusRejected,
    StatusRejection,
    read_kiosk_status,
)
from fleet.agent.state import PeripheralMemory
from tests.fleet.support import FakeKiosk, kiosk_status


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


def _refused(body: bytes) -> KioskStatusRejected:
    with pytest.raises(KioskStatusRejected) as excinfo:
        read_kiosk_status(body)
    return excinfo.value


def test_a_valid_document_is_read() -> None:
    status = read_kiosk_status(_bytes({**kiosk_status(), "added_in_1_1": {"x": 1}}))
    assert (status.app_version, status.screen, status.session_active) == ("2.3.4", "attract",
                                                                          False)
    assert status.peripherals["card_reader"].code == "ok"  # unknown fields ignored (minor)


def test_too_large_unknown_major_and_invalid_are_told_apart() -> None:
    assert _refused(b" " * (MAX_STATUS_BYTES + 1)).rejection is StatusRejection.TOO_LARGE
    v2 = {**kiosk_status(), "schema": "hrss.kiosk-status/2"}
    refused = _refused(_bytes(v2))
    assert refused.rejection is StatusRejection.UNSUPPORTED_VERSION and "version 2" in str(refused)
    for body in (b"not json", b"[1]", b"[" * 10_000 + b"]" * 10_000, b'"x"',
                 _bytes({k: v for k, v in kiosk_status().items() if k != "schema"}),
                 _bytes({**kiosk_status(), "schema": "hrss.other/1"}),
                 _bytes({**kiosk_status(), "schema": 1}),
                 _bytes({**kiosk_status(), "session_active": "yes"}),
                 _bytes({**kiosk_status(), "peripherals": {f"p{i}": {} for i in range(40)}})):
        assert _refused(body).rejection is StatusRejection.INVALID, body[:40]


def test_a_refusal_names_fields_never_values() -> None:
    document = {**kiosk_status(), "device_id": "110105194912310021 张三", "screen": "张三丰"}
    refused = _refused(_bytes(document))
    assert "device_id" in refused.detail and "screen" in refused.detail
    assert "110105194912310021" not in str(refused) and "张三" not in str(refused)


def test_one_bad_peripheral_entry_stands_alone() -> None:
    document = kiosk_status()
    document["peripherals"].update({
        "printer": {"state": "paper-low?", "code": "paper-low"},
        "camera": {"state": "ok", "code": "Not A Code!"},
        "pinpad": "ok",
    })
    status = read_kiosk_status(_bytes(document))
    assert status.peripherals["card_reader"].state == "ok"
    assert (status.peripherals["printer"].state, status.peripherals["printer"].code) == (
        "degraded", "paper-low")
    assert {status.peripherals[n].code for n in ("camera", "pinpad")} == {"bad-status"}
    assert "outside the contract" in status.peripherals["pinpad"].reason


@pytest.mark.parametrize(("document", "code"), [
    ({**kiosk_status(), "schema": "hrss.kiosk-status/9"}, "kiosk-status-unsupported"),
    ({**kiosk_status(), "screen": 42}, "kiosk-status-invalid"),
    ({**kiosk_status(), "padding": "x" * (MAX_STATUS_BYTES + 10)}, "kiosk-status-too-large"),
])
def test_the_probe_reports_a_refused_document_as_its_own_state(
    tmp_path: Path, document: dict[str, Any], code: str, caplog: pytest.LogCaptureFixture
) -> None:
    kiosk = FakeKiosk()
    kiosk.start()
    try:
        probe = KioskProbe(kiosk.url, 5.0, PeripheralMemory(tmp_path), expected=["printer"])
        assert probe.report().peripherals["card_reader"].code == "ok"  # learnt the reader
        kiosk.status = document
        for _ in range(3):
            report = probe.report()
        probe.close()
    finally:
        kiosk.stop()
    assert report.kiosk.reachable and report.kiosk.screen is None  # it answers, unreadably
    assert set(report.peripherals) == {"card_reader", "printer"}
    assert {(p.state, p.code) for p in report.peripherals.values()} == {("missing", code)}
    assert caplog.text.count("document refused") == 1  # once per change, not per poll


def test_maintenance_edge_and_outbox_are_read_and_none_when_absent() -> None:
    older = read_kiosk_status(_bytes(kiosk_status()))
    assert (older.maintenance, older.edge, older.outbox) == (None, None, None)
    status = read_kiosk_status(_bytes({
        **kiosk_status(),
        "maintenance": {"on": True, "pending": True, "added_in_1_9": 1},  # unknown: ignored
        "edge": {"reachable": False, "checked_at": 1780000000},
        "outbox": {"depth": 12, "oldest_age_s": 95.5},
    }))
    assert status.maintenance is not None and status.edge is not None
    assert status.outbox is not None
    assert (status.maintenance.on, status.maintenance.pending) == (True, True)
    assert (status.edge.reachable, status.edge.checked_at) == (False, 1780000000.0)
    assert (status.outbox.depth, status.outbox.oldest_age_s) == (12, 95.5)


@pytest.mark.parametrize(("field", "entry"), [
    ("maintenance", {"on": "yes", "pending": False}), ("maintenance", {"on": True}),
    ("edge", {"reachable": True, "checked_at": "soon"}), ("edge", {"reachable": None}),
    ("outbox", {"depth": -1}), ("outbox", {"depth": 1.5}), ("outbox", "full"),
])
def test_an_added_entry_outside_the_contract_refuses_the_document_naming_it(
    field: str, entry: Any
) -> None:
    refused = _refused(_bytes({**kiosk_status(), field: entry}))
    assert refused.rejection is StatusRejection.INVALID and field in refused.detail
    assert "soon" not in refused.detail and "full" not in refused.detail  # never the values
