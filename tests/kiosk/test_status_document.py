"""The status document (hrss.kiosk-status/1): every kind of the registry, an allow-list, and
never an ID number or a name, whatever a driver puts in its reason."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import jsonschema_rs
import pytest
from pydantic import ValidationError

from drivers.base import Health, HealthState
from drivers.card.fake import FakeCardReader
from drivers.registry import Impl, PeripheralKind
from fleet.agent import kiosk_status as agent
from kiosk.edge.credentials import CredentialState, CredentialStatus
from kiosk.peripherals import Peripheral, Peripherals
from kiosk.status_document import KioskStatus, build_status

ID_LIKE = re.compile(r"\d{15,}|\d{17}[\dXx]")
HAN = re.compile(r"[\u3400-\u9fff\U00020000-\U0003134f]")


class Reader(FakeCardReader):
    def __init__(self, health: Health) -> None:
        super().__init__()
        self._health = health


def _status(health: Health) -> KioskStatus:
    peripherals = Peripherals([Peripheral(PeripheralKind.CARD, Impl.SIMULATED, Reader(health))])
    return build_status(app_version="0.1.0", device_id="hall-3-kiosk-07", screen="home",
                        session_active=True, peripherals=peripherals)


def _absent(title: str, impl: str = "absent") -> dict[str, object]:
    return {"state": "missing", "code": "not-configured", "impl": impl,
            "reason": f"this terminal is configured without a {title}"}


def test_snapshot_every_kind_and_nothing_personal() -> None:
    # A driver that (wrongly) quotes card data in its reason: the document still holds none.
    health = Health(HealthState.DEGRADED, code="reader-error",
                    reason="answer 6A82 for 110105194912310021 (张三丰)", checked_at=1780000000.5)
    document = _status(health).as_json()
    for name, entry in document["peripherals"].items():  # absent ones: stamped when built
        if name != "card_reader":
            assert isinstance(entry.pop("checked_at"), float)
    assert document == {
        "schema": "hrss.kiosk-status/1",
        "app_version": "0.1.0",
        "device_id": "hall-3-kiosk-07",
        "screen": "home",
        "session_active": True,
        "peripherals": {
            "card_reader": {"state": "degraded", "code": "reader-error", "impl": "simulated",
                            "reason": "answer 6A82 for 110105********0021 (张**)",
                            "checked_at": 1780000000.5},
            "qr_scanner": _absent("QR scanner"),
            "camera": _absent("camera"),
            "face": _absent("face engine"),
            "printer": _absent("printer"),
            "pinpad": _absent("PIN pad"),
            "idcard_reader": _absent("resident ID card reader"),
            "document_printer": _absent("document printer"),
        },
        "credential": None,  # built without credentials
    }
    text = json.dumps(document, ensure_ascii=False)
    assert not ID_LIKE.search(text)
    assert len(HAN.findall(text)) <= 1  # a masked name keeps one character at most


def test_a_health_outside_the_contract_is_reported_not_raised() -> None:
    odd = Health(HealthState.OK, code="Reader Error!", reason="x" * 5000, checked_at=float("nan"))
    entry = _status(odd).peripherals["card_reader"]
    assert (entry.state, entry.code, entry.checked_at) == ("degraded", "bad-health", 0.0)
    long = Health(HealthState.MISSING, code="reader-missing", reason="y" * 5000)
    assert len(_status(long).peripherals["card_reader"].reason) == 512


@pytest.mark.parametrize("change", [
    {"screen": "Home Screen"}, {"device_id": "bad id"}, {"app_version": ""},
    {"schema": "hrss.kiosk-status/2"}, {"citizen_id": "110105194912310021"},
])
def test_the_kiosk_cannot_send_a_document_outside_the_contract(change: dict[str, str]) -> None:
    document = {**_status(Health(HealthState.OK)).as_json(), **change}
    with pytest.raises(ValidationError):
        KioskStatus.model_validate(document)


@pytest.mark.parametrize(("state", "out_of_service"), [
    (CredentialState.VALID, False), (CredentialState.RENEWING, False),
    (CredentialState.EXPIRED, True), (CredentialState.REFUSED, True),
])
def test_the_credential_state_and_expiry_are_reported_never_the_token(
    state: CredentialState, out_of_service: bool
) -> None:
    expires_at = dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC)
    peripherals = Peripherals([Peripheral(PeripheralKind.CARD, Impl.SIMULATED, FakeCardReader())])
    document = build_status(app_version="0.1.0", device_id="hall-3-kiosk-07", screen="home",
                            session_active=False, peripherals=peripherals,
                            credential=CredentialStatus(state, expires_at)).as_json()
    assert document["credential"] == {"state": str(state), "out_of_service": out_of_service,
                                      "expires_at": expires_at.timestamp()}
    assert "dev2" not in json.dumps(document)


def test_a_legacy_token_has_no_expiry() -> None:
    peripherals = Peripherals([Peripheral(PeripheralKind.CARD, Impl.SIMULATED, FakeCardReader())])
    document = build_status(app_version="0.1.0", device_id="hall-3-kiosk-07", screen="home",
                            session_active=False, peripherals=peripherals,
                            credential=CredentialStatus(CredentialState.VALID, None)).as_json()
    assert document["credential"] == {"state": "valid", "out_of_service": False,
                                      "expires_at": None}


def test_a_document_with_a_credential_keeps_the_schema_and_the_agent_reads_it() -> None:
    schema = json.loads((Path(__file__).resolve().parents[2]
                         / "docs/contracts/kiosk-status.schema.json").read_text())
    validator = jsonschema_rs.validator_for(schema)
    peripherals = Peripherals([Peripheral(PeripheralKind.CARD, Impl.SIMULATED, FakeCardReader())])
    expiry = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    for status in (CredentialStatus(CredentialState.EXPIRED, expiry),
                   CredentialStatus(CredentialState.VALID, None), None):
        document = build_status(app_version="0.1.0", device_id="hall-3-kiosk-07",
                                screen="home", session_active=False, peripherals=peripherals,
                                credential=status).as_json()
        assert validator.is_valid(document), list(validator.iter_errors(document))[:3]
        agent.read_kiosk_status(json.dumps(document).encode())
    document["credential"] = {"state": "forged", "out_of_service": "no"}
    assert not validator.is_valid(document)
