"""`/api/v1/field/...`: a field terminal's own edge (field mode, docs/field-mode.md): trip
preparation, sessions by card or by ID number from the trip roster, and the queue status the
field screen always shows. On an edge not in field mode every route answers 404."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from common.clock import iso_utc
from common.problem import Problem
from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.schemas import AsciiText32, CardIdentity, OpenSessionRequest, SessionView, problems
from edge_server.services import field_trips
from edge_server.services import sessions as session_service

router = APIRouter(prefix="/field", tags=["field"])

_AUTH = (401, "unauthorized")
_NOT_FIELD = (404, "not-found")


class TripRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    village: str = Field(min_length=6, max_length=12, pattern=r"^[0-9]{6,12}$",
                         description="Village code (9 digits), or a prefix: a county's 6.")


class TripView(BaseModel):
    trip_id: str
    village: str
    entries: int = Field(description="Pensioners due on the roster.")
    without_template: int = Field(description="Of them, without a photo template (counter).")
    as_of: str
    prepared_at: str
    expires_at: str


class QueueView(BaseModel):
    waiting: int = Field(description="Records not yet at central.")
    refused: int = Field(description="Records central refused (operators).")
    sent: int
    last_sync_at: str | None = Field(description="When a record last reached central.")
    central_reachable: bool | None
    trip: TripView | None


class FieldSessionRequest(BaseModel):
    """`card`: the villager's card (as POST /sessions); `id-number`: the card is at home and
    the staff member types the ID number (roster citizens only)."""

    model_config = ConfigDict(extra="ignore")

    method: Literal["card", "id-number"]
    citizen_id: AsciiText32 | None = Field(None, repr=False)
    card: CardIdentity | None = None

    @model_validator(mode="after")
    def _one_way(self) -> FieldSessionRequest:
        if self.method == "card" and self.card is None:
            raise ValueError("method card needs `card`")
        if self.method == "id-number" and self.citizen_id is None:
            raise ValueError("method id-number needs `citizen_id`")
        return self


def _trip(view: field_trips.TripView) -> TripView:
    return TripView(trip_id=view.trip_id, village=view.village, entries=view.entries,
                    without_template=view.without_template, as_of=iso_utc(view.as_of),
                    prepared_at=iso_utc(view.prepared_at), expires_at=iso_utc(view.expires_at))


@router.post("/trips", status_code=201,
             responses=problems(_AUTH, _NOT_FIELD, (422, "invalid-village"),
                                (422, "validation-error"), (503, "central-unavailable")))
def prepare_trip(body: TripRequest, ctx: Ctx, device_id: CurrentDevice) -> TripView:
    """Download the village's pensioners due with their templates (online, before leaving);
    replaces this village's earlier trip."""
    return _trip(field_trips.prepare_trip(ctx, device_id, body.village))


@router.get("/trip", responses=problems(_AUTH, _NOT_FIELD, (404, "no-trip")))
def current_trip(ctx: Ctx, _device: CurrentDevice) -> TripView:
    field_trips.require_field_mode(ctx)
    found = field_trips.current_trip(ctx)
    if found is None:
        raise Problem(404, "no-trip", "No unexpired trip is prepared")
    return _trip(found)


@router.get("/queue", responses=problems(_AUTH, _NOT_FIELD))
def queue(ctx: Ctx, _device: CurrentDevice) -> QueueView:
    """Records waiting and the last sync (the field screen's banner)."""
    found = field_trips.queue_status(ctx)
    return QueueView(
        waiting=found.waiting, refused=found.refused, sent=found.sent,
        last_sync_at=None if found.last_sync_at is None else iso_utc(found.last_sync_at),
        central_reachable=found.central_reachable,
        trip=None if found.trip is None else _trip(found.trip),
    )


@router.post(
    "/sessions", status_code=201, response_model=SessionView,
    responses=problems(
        _AUTH, _NOT_FIELD, (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
        (409, "idempotency-key-in-flight"), (422, "validation-error"),
        (422, "invalid-citizen-id"), (404, "citizen-not-found"), (403, "card-not-valid"),
        (503, "central-unavailable"), (429, "too-many-requests"),
    ),
)
def open_session(body: FieldSessionRequest, ctx: Ctx, idem: Idempotent) -> Response:
    """Open a villager's session offline from the trip roster (Idempotency-Key)."""
    field_trips.require_field_mode(ctx)
    if body.method == "card":
        assert body.card is not None  # the validator
        request = OpenSessionRequest(method="card", card=body.card)
        return idem.run(
            lambda commit: session_service.open_session(ctx, idem.device_id, request, commit),
            status_code=201,
        )
    citizen_id = body.citizen_id or ""
    return idem.run(
        lambda commit: session_service.open_session_by_id_number(ctx, idem.device_id,
                                                                 citizen_id, commit),
        status_code=201,
    )
