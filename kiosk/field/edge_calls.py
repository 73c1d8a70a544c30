"""The field edge's calls (edge_server/routers/field.py) as the kiosk makes them, through the
kiosk's one edge client (its deadline, bounded answers and problem mapping).

Until kiosk/edge/client.py has these as methods (requested of its owner), `FieldCalls` wraps
the client and goes through its one request function."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kiosk.edge.models import SessionOpened


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TripPrepared(_Answer):
    trip_id: str = Field(max_length=40)
    village: str = Field(max_length=16)
    entries: int = Field(ge=0, le=100_000)
    without_template: int = Field(0, ge=0, le=100_000)
    as_of: AwareDatetime
    prepared_at: AwareDatetime
    expires_at: AwareDatetime


class FieldQueue(_Answer):
    waiting: int = Field(ge=0)
    refused: int = Field(0, ge=0)
    sent: int = Field(0, ge=0)
    last_sync_at: AwareDatetime | None = None
    central_reachable: bool | None = None
    trip: TripPrepared | None = None


class FieldPort(Protocol):
    def prepare_trip(self, village: str) -> TripPrepared: ...

    def field_queue(self) -> FieldQueue: ...

    def open_by_id_number(self, citizen_id: str, *, idempotency_key: str) -> SessionOpened: ...


class FieldCalls:
    """FieldPort over the kiosk's EdgeClient."""

    def __init__(self, edge: Any) -> None:
        self._edge = edge

    def _call(self, method: str, path: str, model: type[BaseModel], **kwargs: Any) -> Any:
        # The client's one request function: deadline, size bound, problem mapping.
        return self._edge._call(method, path, model, label=path, **kwargs)

    def prepare_trip(self, village: str) -> TripPrepared:
        return self._call("POST", "/field/trips", TripPrepared,  # type: ignore[no-any-return]
                          json={"village": village})

    def field_queue(self) -> FieldQueue:
        return self._call("GET", "/field/queue", FieldQueue)  # type: ignore[no-any-return]

    def open_by_id_number(self, citizen_id: str, *, idempotency_key: str) -> SessionOpened:
        return self._call(  # type: ignore[no-any-return]
            "POST", "/field/sessions", SessionOpened,
            json={"method": "id-number", "citizen_id": citizen_id}, key=idempotency_key)


def field_port(edge: object) -> FieldPort:
    """The edge port a journey's Call gets, as a FieldPort (the client's own methods once it
    has them)."""
    if hasattr(edge, "prepare_trip") and hasattr(edge, "open_by_id_number"):
        return edge  # type: ignore[return-value]
    return FieldCalls(edge)
