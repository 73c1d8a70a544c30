"""Field trips on a field terminal's own edge (field mode, docs/field-mode.md).

Preparing a trip (online, before leaving) downloads the village's roster of pensioners due with
their face templates from central, and each one's person record (so that the card check works
offline), and stores them sealed (EdgeContext.cipher, one row per citizen, bound to its row)
with an expiry. In the village, with no link, sessions open from the roster (by card, or by ID
number typed by staff) and the certification service reads the template from it. Expired
rosters are refused at once and deleted lazily (each preparation and each queue status).

The queue status (records waiting, last sync) is what the field screen always shows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlmodel import Session, col, delete

from common.clock import iso_utc
from common.problem import Problem
from common.sqlite import WRITE_OPTION
from edge_server import audit
from edge_server.central import CentralNotFound, CentralPerson, CentralUnavailable
from edge_server.central.queries import query_due_roster
from edge_server.context import EdgeContext
from edge_server.crypto import Sealed, SealError
from edge_server.db import run_in_transaction, session_scope
from edge_server.field_tables import FieldRosterEntry, FieldTrip

log = logging.getLogger(__name__)

VILLAGE = re.compile(r"^[0-9]{6,12}$")
TRIP_PREFIX = "trip_"


@dataclass(frozen=True)
class RosterEntry:
    """A pensioner due on an unexpired trip roster of this edge."""

    citizen_id: str = dc_field(repr=False)
    status: str
    due_date: dt.date | None
    opens_on: dt.date | None
    cycle_months: int
    last_certified_at: dt.datetime | None
    explanation: str
    template: tuple[float, ...] | None = dc_field(repr=False)
    village: str
    trip_id: str
    expires_at: dt.datetime
    as_of: dt.datetime
    name: str | None = dc_field(default=None, repr=False)


@dataclass(frozen=True)
class TripView:
    trip_id: str
    village: str
    entries: int
    without_template: int
    as_of: dt.datetime
    prepared_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class QueueStatus:
    waiting: int  # records not yet at central (pending + sending)
    refused: int  # dead letters
    sent: int
    last_sync_at: dt.datetime | None  # the last time a record reached central
    central_reachable: bool | None
    trip: TripView | None


def _not_field() -> Problem:
    return Problem(404, "not-found", "Not found")


def require_field_mode(ctx: EdgeContext) -> None:
    """The field routes exist on a field terminal's edge only."""
    if not ctx.settings.field_mode:
        raise _not_field()


def _aad(trip_id: str, citizen_key: str) -> str:
    return f"field_roster:{trip_id}:{citizen_key}"


def _plain(value: Any) -> Any:
    """A DueEntry (pydantic) or a dict, as JSON-ready data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return value
    raise TypeError(f"not a roster entry: {type(value).__name__}")


def _download(ctx: EdgeContext, village: str) -> tuple[dt.datetime, list[dict[str, Any]]]:
    """Every page of central's due roster for `village`, at most field_roster_max_entries."""
    settings = ctx.settings
    items: list[dict[str, Any]] = []
    after: str | None = None
    as_of: dt.datetime | None = None
    while True:
        page = query_due_roster(ctx.central, village, settings.field_roster_page_size, ctx.now(),
                                after=after)
        as_of = as_of or page.as_of
        items.extend(_plain(item) for item in page.items)
        if len(items) >= settings.field_roster_max_entries:
            log.warning("trip roster of %s capped at %d entries", village,
                        settings.field_roster_max_entries)
            return as_of, items[: settings.field_roster_max_entries]
        after = page.next
        if not after or not page.items:
            return as_of, items


def prepare_trip(ctx: EdgeContext, device_id: str, village: str) -> TripView:
    """Download and store the village's roster (replacing this village's earlier trips);
    503 central-unavailable when the link is down (nothing is changed then)."""
    require_field_mode(ctx)
    if not VILLAGE.fullmatch(village):
        raise Problem(422, "invalid-village", "A village code is 6 to 12 digits")
    try:
        as_of, items = _download(ctx, village)
        people: dict[str, Any] = {}
        for item in items:
            cid = str(item.get("citizen_id", ""))
            try:
                people[cid] = ctx.central.query_person(cid).person.model_dump(mode="json")
            except CentralNotFound:
                people[cid] = None  # died or left since: their entry cannot open a session
    except CentralUnavailable as exc:
        log.warning("trip preparation for %s: central unavailable (%s)", village, exc)
        raise Problem(503, "central-unavailable", "The central platform cannot be reached",
                      retry_after=ctx.settings.central_retry_after_s) from None
    now = ctx.now()
    trip_id = TRIP_PREFIX + secrets.token_urlsafe(18)
    expires_at = now + dt.timedelta(seconds=ctx.settings.field_roster_ttl_s)
    rows = []
    without_template = 0
    for item in items:
        cid = str(item.get("citizen_id", ""))
        if not cid:
            continue
        without_template += item.get("template") is None
        key = ctx.cipher.citizen_key(cid)
        sealed = ctx.cipher.seal_json(
            {"citizen_id": cid, "person": people.get(cid), "entry": item,
             "as_of": iso_utc(as_of)},
            _aad(trip_id, key),
        )
        rows.append(FieldRosterEntry(trip_id=trip_id, citizen_key=key, key_id=sealed.key_id,
                                     nonce=sealed.nonce, payload=sealed.ciphertext,
                                     expires_at=expires_at))

    def write(db: Session) -> None:
        earlier = db.execute(select(FieldTrip.id).where(col(FieldTrip.village) == village))
        _drop(db, [str(row[0]) for row in earlier.all()])
        db.add(FieldTrip(id=trip_id, device_id=device_id, village=village, entries=len(rows),
                         as_of=as_of, created_at=now, expires_at=expires_at))
        db.add_all(rows)
        audit.append(db, at=now, device_id=device_id, action="field.trip-prepared",
                     outcome=f"{village} {len(rows)}")

    run_in_transaction(ctx.engine, write)
    purge_expired(ctx)
    log.info("trip %s prepared for village %s: %d pensioners due", trip_id, village, len(rows))
    return TripView(trip_id, village, len(rows), without_template, as_of, now, expires_at)


def _drop(db: Session, trip_ids: list[str]) -> None:
    if not trip_ids:
        return
    db.exec(delete(FieldRosterEntry).where(col(FieldRosterEntry.trip_id).in_(trip_ids)))
    db.exec(delete(FieldTrip).where(col(FieldTrip.id).in_(trip_ids)))


def purge_expired(ctx: EdgeContext) -> int:
    """Delete expired trips and their rosters (templates); the number of trips deleted."""
    now = ctx.now()
    with session_scope(ctx.engine) as db:
        db.exec(delete(FieldRosterEntry).where(col(FieldRosterEntry.expires_at) <= now))
        gone = db.exec(delete(FieldTrip).where(col(FieldTrip.expires_at) <= now)).rowcount
    if gone:
        log.info("purged %d expired field trips", gone)
    return int(gone or 0)


_ROSTER = FieldRosterEntry.__table__  # type: ignore[attr-defined]
_READ_ROSTER = (
    select(_ROSTER.c.trip_id, _ROSTER.c.citizen_key, _ROSTER.c.key_id, _ROSTER.c.nonce,
           _ROSTER.c.payload, _ROSTER.c.expires_at)
    .where(_ROSTER.c.citizen_key == bindparam("key"), _ROSTER.c.expires_at > bindparam("now"))
    .order_by(_ROSTER.c.expires_at.desc())
    .limit(1)
)


def _payload(ctx: EdgeContext, citizen_id: str) -> tuple[Any, dict[str, Any]] | None:
    """(row, opened payload) of the citizen's newest unexpired roster row."""
    if not ctx.settings.field_mode or not citizen_id or len(citizen_id) > 32:
        return None
    key = ctx.cipher.citizen_key(citizen_id)
    with ctx.engine.connect().execution_options(**{WRITE_OPTION: False}) as conn:
        row = conn.execute(_READ_ROSTER, {"key": key, "now": ctx.now()}).first()
    if row is None:
        return None
    memo_key = ("field_roster", row.trip_id, row.key_id, row.nonce, row.payload)
    found = ctx.opened.get(memo_key)
    if isinstance(found, dict):
        return row, found
    try:
        payload = ctx.cipher.open_json(Sealed(row.key_id, row.nonce, row.payload),
                                       _aad(row.trip_id, row.citizen_key))
    except SealError as exc:
        log.error("a roster row of trip %s does not open: %s", row.trip_id, exc)
        return None
    if not isinstance(payload, dict):
        return None
    ctx.opened.put(memo_key, payload)
    return row, payload


def _day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _when(value: Any) -> dt.datetime | None:
    try:
        found = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.UTC)


def roster_entry(ctx: EdgeContext, citizen_id: str) -> RosterEntry | None:
    """The citizen's entry on an unexpired trip roster of this edge; None when none holds
    them (or the edge is not in field mode)."""
    found = _payload(ctx, citizen_id)
    if found is None:
        return None
    row, payload = found
    entry = payload.get("entry") or {}
    template = entry.get("template")
    village = str(entry.get("village") or "")
    as_of = _when(payload.get("as_of")) or row.expires_at
    return RosterEntry(
        citizen_id=str(payload.get("citizen_id", "")),
        status=str(entry.get("status") or "due"),
        due_date=_day(entry.get("due_date")),
        opens_on=_day(entry.get("opens_on")),
        cycle_months=int(entry.get("cycle_months") or 12),
        last_certified_at=_when(entry.get("last_certified_at")),
        explanation=str(entry.get("explanation") or ""),
        template=tuple(float(x) for x in template) if isinstance(template, list) else None,
        village=village,
        trip_id=row.trip_id,
        expires_at=row.expires_at,
        as_of=as_of,
        name=entry.get("name"),
    )


@dataclass(frozen=True)
class RosterPerson:
    person: CentralPerson
    as_of: dt.datetime


def roster_person(ctx: EdgeContext, citizen_id: str) -> RosterPerson | None:
    """The citizen's person record as downloaded with the roster (the offline card check);
    None when no unexpired roster holds them or it had none."""
    found = _payload(ctx, citizen_id)
    if found is None:
        return None
    row, payload = found
    raw = payload.get("person")
    if not isinstance(raw, dict):
        return None
    try:
        person = CentralPerson.model_validate(raw)
    except ValidationError:
        log.warning("roster person of trip %s unreadable", row.trip_id)
        return None
    return RosterPerson(person, _when(payload.get("as_of")) or row.expires_at)


def current_trip(ctx: EdgeContext) -> TripView | None:
    """The newest unexpired trip."""
    with session_scope(ctx.engine, write=False) as db:
        trip = db.execute(
            select(FieldTrip).where(col(FieldTrip.expires_at) > ctx.now())
            .order_by(col(FieldTrip.created_at).desc()).limit(1)
        ).scalars().first()
        if trip is None:
            return None
        return TripView(trip.id, trip.village, trip.entries, 0, trip.as_of, trip.created_at,
                        trip.expires_at)


def queue_status(ctx: EdgeContext) -> QueueStatus:
    """What the field screen always shows: records waiting and the last sync."""
    from edge_server.models import OutboxItem
    from edge_server.outbox.store import DEAD, SENT, UNSENT

    require_field_mode(ctx)
    purge_expired(ctx)
    with session_scope(ctx.engine, write=False) as db:
        counts = dict(db.execute(
            select(OutboxItem.state, func.count()).group_by(col(OutboxItem.state))
        ).all())
        last = db.execute(select(func.max(OutboxItem.sent_at))).scalar()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)  # max() over a UTC column is naive on SQLite
    state = ctx.central.reachability.state
    reachable = None if state == "unknown" else state == "reachable"
    return QueueStatus(
        waiting=sum(int(counts.get(state, 0)) for state in UNSENT),
        refused=int(counts.get(DEAD, 0)),
        sent=int(counts.get(SENT, 0)),
        last_sync_at=last,
        central_reachable=reachable,
        trip=current_trip(ctx),
    )
