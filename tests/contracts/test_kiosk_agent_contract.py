"""The kiosk's status document (kiosk/status_document.py) and the agent's reader of it
(fleet/agent/kiosk_status.py) against the one JSON Schema, docs/contracts/kiosk-status.schema.json.

The two sides are written independently (the agent may not import the kiosk), so this is where
a renamed field, a loosened pattern or a new required field shows before a terminal meets it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.base import Health, HealthState
from drivers.card.fake import FakeCardReader
from drivers.registry import REGISTRY, Impl, PeripheralKind
from fleet.agent import kiosk_status as agent
from kiosk import status_document as kiosk
from kiosk.edge.reachability import EdgeContact
from kiosk.peripherals import Peripheral, Peripherals

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs/contracts/kiosk-status.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema_rs.validator_for(SCHEMA)
PERIPHERAL = SCHEMA["$defs"]["peripheral"]
# The entries added within major 1 that the agent reads, with its model and the kiosk's.
ADDED = {"maintenance": (agent.MaintenanceStatus, kiosk.MaintenanceEntry),
         "edge": (agent.EdgeStatus, kiosk.EdgeEntry),
         "outbox": (agent.OutboxStatus, kiosk.OutboxEntry)}
# The hall kiosk keeps no local durable queue (the outbox is the edge's): it never sends one.
NEVER_SENT = {"outbox"}


def _kiosk_document(impl: Impl = Impl.REAL, health: Health | None = None) -> dict[str, Any]:
    """What the kiosk's own code builds, every kind from the real registry."""
    reader = FakeCardReader()
    if health is not None:
        reader.set_health(health)
    items = [Peripheral(PeripheralKind.CARD, impl, reader)]
    items += [Peripheral(kind, impl, REGISTRY.build(kind, impl))
              for kind in PeripheralKind if kind is not PeripheralKind.CARD]
    return kiosk.build_status(app_version="0.1.0", device_id="hall-3-kiosk-07",
                              screen="starting", session_active=False,
                              peripherals=Peripherals(items), maintenance=(True, True),
                              edge=EdgeContact(False, 1780000000.5)).as_json()


def _agent_accepts(document: Any) -> bool:
    try:
        agent.check_kiosk_status(document)
    except agent.KioskStatusRejected:
        return False
    return True


def test_the_schema_is_a_valid_json_schema() -> None:
    assert jsonschema_rs.meta.is_valid(SCHEMA)
    assert SCHEMA["properties"]["schema"]["const"] == kiosk.SCHEMA
    assert f"{agent.SCHEMA_NAME}/{agent.SUPPORTED_MAJOR}" == kiosk.SCHEMA


@pytest.mark.parametrize("impl", list(Impl))
@pytest.mark.parametrize("health", [
    None, Health(HealthState.MISSING, "pcsc-unavailable", "pcscd is not running"),
    Health(HealthState.DEGRADED, "reader-busy", "another program holds the reader"),
])
def test_every_document_the_kiosk_builds_keeps_the_schema_and_the_agent_reads_it(
    impl: Impl, health: Health | None
) -> None:
    document = _kiosk_document(impl, health)
    assert VALIDATOR.is_valid(document), list(VALIDATOR.iter_errors(document))[:3]
    read = agent.read_kiosk_status(json.dumps(document).encode())
    assert set(read.peripherals) == {"card_reader", "qr_scanner", "camera", "face", "printer",
                                     "pinpad", "idcard_reader", "document_printer"}
    for name, entry in document["peripherals"].items():
        got = read.peripherals[name]
        assert (got.state, got.code, got.reason) == (entry["state"], entry["code"],
                                                     entry["reason"])
    assert (read.screen, read.session_active, read.app_version) == ("starting", False, "0.1.0")
    assert read.maintenance is not None and read.edge is not None and read.outbox is None
    assert (read.maintenance.on, read.maintenance.pending) == (True, True)
    assert (read.edge.reachable, read.edge.checked_at) == (False, 1780000000.5)


def test_an_older_kiosks_document_reads_as_none_for_the_added_entries() -> None:
    document = {k: v for k, v in _kiosk_document().items() if k not in ADDED}
    assert VALIDATOR.is_valid(document)
    read = agent.check_kiosk_status(document)
    assert (read.maintenance, read.edge, read.outbox) == (None, None, None)
    nulls = {**document, **dict.fromkeys(ADDED)}
    assert VALIDATOR.is_valid(nulls) and agent.check_kiosk_status(nulls).edge is None


def _model_fields(model: Any) -> tuple[set[str], set[str]]:
    names = {f.alias or n for n, f in model.model_fields.items()}
    required = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
    return names, required


def test_both_models_have_the_schemas_fields() -> None:
    top, entry = set(SCHEMA["properties"]), set(PERIPHERAL["properties"])
    required, entry_required = set(SCHEMA["required"]), set(PERIPHERAL["required"])

    # The kiosk writes every field the schema knows: nothing optional is left out.
    k_top, _ = _model_fields(kiosk.KioskStatus)
    k_entry, _ = _model_fields(kiosk.PeripheralEntry)
    assert (k_top, k_entry) == (top, entry)
    assert set(_kiosk_document()) == top - NEVER_SENT
    assert all(set(e) == entry for e in _kiosk_document()["peripherals"].values())

    # The agent requires exactly what the schema requires, and knows no field it does not.
    a_top, a_required = _model_fields(agent.KioskStatus)
    a_entry, a_entry_required = _model_fields(agent.PeripheralStatus)
    assert a_required == required and a_entry_required == entry_required
    assert a_top <= top and a_entry <= entry
    assert set(ADDED) <= a_top  # the agent reads every added entry

    for name, (agent_model, kiosk_model) in ADDED.items():
        definition = SCHEMA["$defs"][name]
        a_names, a_req = _model_fields(agent_model)
        k_names, k_req = _model_fields(kiosk_model)
        assert a_names == k_names == set(definition["properties"]), name
        assert a_req == k_req == set(definition["required"]), name


# Envelope changes: for each, the schema and the agent must agree on accept/refuse.
MUTATIONS: list[tuple[str, Any]] = [
    ("schema", "hrss.kiosk-status/2"), ("schema", "hrss.kiosk-status/1.1"), ("schema", None),
    ("app_version", ""), ("app_version", "1" * 65), ("app_version", "0.2.0rc1+g1a2b"),
    ("app_version", "0.1 beta"), ("device_id", "bad id"), ("device_id", "a" * 65),
    ("device_id", "T-0201"), ("screen", "attract\n"), ("screen", "Home"), ("screen", 42),
    ("screen", "field-mode_2"), ("session_active", "yes"), ("session_active", 1),
    ("session_active", True), ("peripherals", []), ("peripherals", {}),
    ("peripherals", {"Card Reader": {"state": "ok", "code": "ok"}}),
    ("peripherals", {f"p{i}": {"state": "ok", "code": "ok"} for i in range(33)}),
    ("peripherals", {"fingerprint": {"state": "ok", "code": "ok", "added_in_1_1": 1}}),
    ("added_in_1_1", {"anything": True}),
    ("maintenance", {"on": True, "pending": False}),
    ("maintenance", {"on": "yes", "pending": False}),
    ("maintenance", {"on": True}), ("maintenance", []), ("maintenance", True),
    ("maintenance", {"on": False, "pending": False, "since": 1}),
    ("edge", {"reachable": True, "checked_at": 0}), ("edge", {"reachable": 1, "checked_at": 0}),
    ("edge", {"reachable": True, "checked_at": -1}), ("edge", {"reachable": True}),
    ("edge", {"reachable": True, "checked_at": "1780000000"}),
    ("edge", {"reachable": True, "checked_at": 7258118401}),
    ("outbox", {"depth": 0, "oldest_age_s": None}), ("outbox", {"depth": 3, "oldest_age_s": 9.5}),
    ("outbox", {"depth": 3}), ("outbox", {"depth": -1}), ("outbox", {"depth": 1_000_001}),
    ("outbox", {"depth": True}), ("outbox", {"depth": "3"}), ("outbox", {"oldest_age_s": 1.0}),
    ("outbox", {"depth": 1, "oldest_age_s": -0.5}), ("outbox", {"depth": 1, "oldest_age_s": "1"}),
]


@pytest.mark.parametrize(("field", "value"), MUTATIONS)
def test_the_agent_refuses_exactly_what_the_schema_refuses(field: str, value: Any) -> None:
    document = _kiosk_document()
    if value is None:
        del document[field]
    else:
        document[field] = value
    assert _agent_accepts(document) == VALIDATOR.is_valid(document)


@pytest.mark.parametrize("entry", [
    {"state": "fine", "code": "ok"}, {"state": "ok"}, {"state": "ok", "code": "OK"},
    {"state": "ok", "code": "ok", "reason": "r" * 513}, "ok",
])
def test_a_bad_entry_breaks_the_schema_and_stands_alone_at_the_agent(entry: Any) -> None:
    # The documented difference: the schema refuses the document, the agent reads it and
    # reports that one peripheral as degraded `bad-status` (one bad entry never hides others).
    document = _kiosk_document()
    document["peripherals"]["printer"] = entry
    assert not VALIDATOR.is_valid(document)
    read = agent.check_kiosk_status(document)
    assert read.peripherals["printer"].state == "degraded"
    assert read.peripherals["card_reader"].state == "ok"
    assert kiosk.KioskStatus.model_validate(_kiosk_document())  # the kiosk's own stays valid
    with pytest.raises(ValueError):
        kiosk.KioskStatus.model_validate(document)


_TEXT = st.one_of(st.text(max_size=70), st.from_regex(r"[a-z][a-z0-9_-]{0,70}", fullmatch=True))
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(), _TEXT)


@settings(max_examples=150, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(sorted(SCHEMA["required"])), _VALUE, max_size=3))
def test_schema_and_agent_agree_on_any_envelope(changes: dict[str, Any]) -> None:
    document = copy.deepcopy(_BASE)
    for field, value in changes.items():
        if value is None:
            document.pop(field)
        else:
            document[field] = value
    assert _agent_accepts(document) == VALIDATOR.is_valid(document), changes


_FLAG = st.one_of(st.booleans(), st.integers(-1, 2), st.none(), st.text(max_size=4))
_NUMBER = st.one_of(st.integers(-10, 2_000_000), st.floats(allow_nan=False, allow_infinity=False),
                    st.none(), st.booleans(), st.text(max_size=4))
_ADDED_ENTRY = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"on": _FLAG, "pending": _FLAG}),
    st.fixed_dictionaries({}, optional={"reachable": _FLAG, "checked_at": _NUMBER}),
    st.fixed_dictionaries({}, optional={"depth": st.one_of(st.integers(-10, 2_000_000),
                                                           st.none(), st.booleans()),
                                        "oldest_age_s": _NUMBER}),
)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(ADDED)), entry=_ADDED_ENTRY)
def test_schema_and_agent_agree_on_any_added_entry(name: str, entry: Any) -> None:
    document = {**copy.deepcopy(_BASE), name: entry}
    assert _agent_accepts(document) == VALIDATOR.is_valid(document), (name, entry)


_BASE = _kiosk_document()
