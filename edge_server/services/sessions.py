"""Service sessions: open one for an identified citizen, read it, end it.

Identify policy (lost cards): on every card identify the person is asked from central fresh
when central is reachable (the cache answers only when it is not), and the card is refused
unless the edge's card status is `normal`: central's status, the card blacklist feed and the
citizen's local loss reports together (services/card_loss.py), from the cache too.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session, col, update

from common import citizen_id as citizen_ids
from common.clock import CHINA_TZ, iso_utc
from common.masking import mask_citizen_id, mask_name
from common.problem import Problem
from common.sqlite import WRITE_OPTION
from edge_server import audit, rate_limit
from edge_server.central import CentralPerson
from edge_server.central.errors import (
    CentralUnavailable,
    TokenExpired,
    TokenInvalid,
    TokenOtherTerminal,
    TokenUsed,
)
from edge_server.context import EdgeContext
from edge_server.crypto import Sealed, SealError
from edge_server.db import run_in_transaction, session_scope
from edge_server.idempotency import Commit
from edge_server.models import ServiceSession
from edge_server.schemas import (
    LONG_TERM,
    CitizenView,
    IdCardIdentity,
    OpenSessionRequest,
    SessionView,
)
from edge_server.services import card_loss, citizens

# Refusals that answer "is this a citizen, is this their card": what an ID prober learns from
# (and forged codes: what a token guesser learns from).
_REFUSALS = frozenset({"invalid-citizen-id", "citizen-not-found", "card-not-valid",
                       "idcard-mismatch", "token-invalid"})
# The session's card status when no social security card was presented (QR, ID card).
NOT_PRESENTED = "not-presented"
_NO_CARD: dict[str, Any] = {"card_number": "", "card_id_code": None, "name": None}
ID_CARD_NAME_CHARS = 15  # the resident ID card's name field
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,512}")
# Each refusal of central's in its own words, for the kiosk to explain.
_TOKEN_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    TokenInvalid: (422, "token-invalid", "This is not a valid electronic social security "
                   "card code"),
    TokenExpired: (410, "token-expired", "This electronic social security card code has "
                   "expired"),
    TokenUsed: (409, "token-used", "This electronic social security card code was already "
                "used"),
    TokenOtherTerminal: (403, "token-other-terminal", "This electronic social security card "
                         "code was issued for another terminal"),
}
_DOTS = str.maketrans({"\u30fb": "\u00b7", "\u2022": "\u00b7", "\uff0e": "\u00b7",
                       "\u2027": "\u00b7", "\u0387": "\u00b7"})
SESSION_ID_PREFIX = "ses_"
MAX_SESSION_ID = 64

log = logging.getLogger(__name__)


def age_on(birth_date: dt.date, today: dt.date) -> int:
    years = today.year - birth_date.year
    return years - ((today.month, today.day) < (birth_date.month, birth_date.day))


def session_not_found() -> Problem:
    return Problem(404, "session-not-found", "No such session (unknown, expired or ended)")


def open_session(
    ctx: EdgeContext, device_id: str, request: OpenSessionRequest, commit: Commit
) -> SessionView:
    """Identify the citizen at the central platform (or cache) and open a session.

    Rate-limited per device and per hall (rate_limit.py); a refusal costs more than a success.
    """
    buckets = rate_limit.identify_buckets(ctx, device_id)
    rate_limit.take(ctx, buckets)
    try:
        return _open_session(ctx, device_id, request, commit)
    except Problem as problem:
        if problem.code in _REFUSALS:
            rate_limit.charge(ctx, buckets, ctx.settings.identify_failure_cost - 1)
        raise


def _open_session(
    ctx: EdgeContext, device_id: str, request: OpenSessionRequest, commit: Commit
) -> SessionView:
    if request.qr is not None and request.method == "qr":
        return _open_by_qr(ctx, device_id, request.qr.token, commit)
    if request.idcard is not None and request.method == "idcard":
        return _open_by_idcard(ctx, device_id, request.idcard, commit)
    if request.card is None:  # the schema's validator guarantees it; a guard for type checkers
        raise Problem(422, "validation-error", "The request names no credential")
    card = request.card
    try:
        cid = citizen_ids.parse(card.citizen_id)
    except citizen_ids.InvalidCitizenId as exc:
        # The reason never holds digits of the ID (common.citizen_id guarantees it).
        raise Problem(422, "invalid-citizen-id", "The citizen ID is not valid", str(exc)) from None
    masked = mask_citizen_id(cid.value)
    fresh = _known_citizen(ctx, device_id, cid.value, masked)
    card_status = card_loss.card_status(ctx, cid.value, card.card_number, fresh)
    if card_status != "normal":
        _audit_refusal(ctx, device_id, masked, f"card-{card_status}")
        log.info("refused card of %s on device %s: %s", masked, device_id, card_status)
        raise Problem(
            403, "card-not-valid", "This card is not valid", card_status=card_status
        )

    # The card's fields go with the citizen ID: an application names the card it was made
    # with (central checks it against the card on record).
    return _store(ctx, device_id, cid.value, fresh, card_status, commit, {
        "card_number": card.card_number.strip().upper(), "card_id_code": card.card_id_code,
        "name": card.name})


def _open_by_qr(ctx: EdgeContext, device_id: str, token: str, commit: Commit) -> SessionView:
    """An electronic social security card code: central says whose it is (online only: a
    token cannot be checked against a cache), then the person is read as for a card."""
    if not _TOKEN.fullmatch(token):
        # Not an e-SSC code at all (a shop's QR code, a URL): refused like a forged one, and
        # central is not asked.
        _audit_refusal(ctx, device_id, "", "token-invalid")
        raise Problem(422, "token-invalid", "This is not an electronic social security card code")
    try:
        answer = ctx.central.verify_ecard_token(token, device_id)
    except CentralUnavailable:
        log.warning("e-card code not verified: central unavailable")
        raise Problem(503, "central-unavailable", "The central platform cannot be reached",
                      retry_after=ctx.settings.central_retry_after_s) from None
    except (TokenInvalid, TokenExpired, TokenUsed, TokenOtherTerminal) as exc:
        status, code, title = _TOKEN_REFUSALS[type(exc)]
        _audit_refusal(ctx, device_id, "", code)
        log.info("refused an e-card code on device %s: %s", device_id, code)
        raise Problem(status, code, title) from None
    try:
        cid = citizen_ids.parse(answer.citizen_id)
    except citizen_ids.InvalidCitizenId:
        # Central vouched for an ID that is no ID: its fault, not the citizen's.
        log.error("central verified an e-card code for a malformed citizen ID")
        raise Problem(503, "central-unavailable", "The central platform cannot be reached",
                      retry_after=ctx.settings.central_retry_after_s) from None
    fresh = citizens.person(ctx, cid.value, refresh=True)
    return _store(ctx, device_id, cid.value, fresh, NOT_PRESENTED, commit, _NO_CARD,
                  outcome="qr-stale" if fresh.stale else "qr")


def _open_by_idcard(
    ctx: EdgeContext, device_id: str, idcard: IdCardIdentity, commit: Commit
) -> SessionView:
    """A resident ID card: its number names the person, its validity must not have ended,
    and its name must be the one central has for that number."""
    try:
        cid = citizen_ids.parse(idcard.citizen_id)
    except citizen_ids.InvalidCitizenId as exc:
        raise Problem(422, "invalid-citizen-id", "The citizen ID is not valid", str(exc)) from None
    masked = mask_citizen_id(cid.value)
    today = ctx.now().astimezone(CHINA_TZ).date()
    # Valid through its last day (有效期限 2016.01.01-2036.01.01 includes the 1st).
    if idcard.valid_until != LONG_TERM and dt.date.fromisoformat(idcard.valid_until) < today:
        _audit_refusal(ctx, device_id, masked, "idcard-expired")
        raise Problem(403, "idcard-expired", "This ID card has expired")
    fresh = _known_citizen(ctx, device_id, cid.value, masked)
    if not _same_name(idcard.name, fresh.value.name):
        _audit_refusal(ctx, device_id, masked, "idcard-mismatch")
        log.info("refused ID card of %s on device %s: name differs from central's", masked,
                 device_id)
        raise Problem(403, "idcard-mismatch",
                      "The name on this ID card is not the one on record")
    return _store(ctx, device_id, cid.value, fresh, NOT_PRESENTED, commit, _NO_CARD,
                  outcome="idcard-stale" if fresh.stale else "idcard")


def _same_name(on_card: str, on_record: str) -> bool:
    """The ID card's name is central's; a card's name field holds 15 characters, so a longer
    name (Uyghur names with their middle dots) is cut by the issuer: a full 15-character name
    that begins central's counts as the same."""
    card, record = _comparable_name(on_card), _comparable_name(on_record)
    if card == record:
        return True
    return len(on_card.strip()) == ID_CARD_NAME_CHARS and record.startswith(card)


def _comparable_name(name: str) -> str:
    """Names as compared: NFKC, no spaces, one middle dot (minority names are written with
    U+00B7, U+30FB, U+2022 or U+FF0E depending on the keyboard)."""
    folded = unicodedata.normalize("NFKC", name.translate(_DOTS))
    return "".join(ch for ch in folded if not ch.isspace())


def open_session_by_id_number(
    ctx: EdgeContext, device_id: str, citizen_id: str, commit: Commit
) -> SessionView:
    """Field mode, staff-assisted, the card at home: the ID number typed by staff, for a
    citizen on this edge's trip roster only (the face match against the roster's template is
    the proof that follows). Rate-limited like a card identify."""
    buckets = rate_limit.identify_buckets(ctx, device_id)
    rate_limit.take(ctx, buckets)
    try:
        try:
            cid = citizen_ids.parse(citizen_id)
        except citizen_ids.InvalidCitizenId as exc:
            raise Problem(422, "invalid-citizen-id", "The citizen ID is not valid",
                          str(exc)) from None
        fresh = _from_roster(ctx, cid.value)
        if fresh is None:
            _audit_refusal(ctx, device_id, mask_citizen_id(cid.value), "not-on-roster")
            raise Problem(404, "citizen-not-found", "This person is not on the trip's roster")
        return _store(ctx, device_id, cid.value, fresh, "not-presented", commit,
                      {"card_number": "", "card_id_code": None, "name": None},
                      outcome="id-number")
    except Problem as problem:
        if problem.code in _REFUSALS:
            rate_limit.charge(ctx, buckets, ctx.settings.identify_failure_cost - 1)
        raise


def _known_citizen(ctx: EdgeContext, device_id: str, citizen_id: str,
                   masked: str) -> citizens.Fresh[CentralPerson]:
    """The citizen from the field trip's roster, else fresh from central; an unknown one is
    audited as a refusal (404 citizen-not-found)."""
    fresh = _from_roster(ctx, citizen_id)
    if fresh is not None:
        return fresh
    try:
        return citizens.person(ctx, citizen_id, refresh=True)
    except Problem as problem:
        if problem.code == "citizen-not-found":
            _audit_refusal(ctx, device_id, masked, problem.code)
        raise


def _from_roster(ctx: EdgeContext, citizen_id: str) -> citizens.Fresh[CentralPerson] | None:
    """Field mode: the trip roster's person record answers, offline (docs/field-mode.md)."""
    if not ctx.settings.field_mode:
        return None
    from edge_server.services import field_trips  # field mode only

    found = field_trips.roster_person(ctx, citizen_id)
    return None if found is None else citizens.Fresh(found.person, found.as_of, stale=True)


def _store(
    ctx: EdgeContext, device_id: str, citizen_id: str, fresh: citizens.Fresh[CentralPerson],
    card_status: str, commit: Commit, card: dict[str, Any], *, outcome: str | None = None,
) -> SessionView:
    masked = mask_citizen_id(citizen_id)
    now = ctx.now()
    person = fresh.value
    view = CitizenView(
        display_name=mask_name(person.name),
        gender=person.gender,
        # Ages are counted on the calendar of the halls, which are in China.
        age=age_on(person.birth_date, now.astimezone(CHINA_TZ).date()),
        card_status=card_status,
    )
    session_id = SESSION_ID_PREFIX + secrets.token_urlsafe(24)
    expires_at = now + dt.timedelta(seconds=ctx.settings.session_ttl_s)
    answer = SessionView(
        session_id=session_id, expires_at=iso_utc(expires_at), citizen=view,
        as_of=iso_utc(fresh.as_of), stale=fresh.stale,
    )
    sealed = ctx.cipher.seal_json(
        {"citizen_id": citizen_id, "answer": answer.model_dump(mode="json"), "card": card},
        _aad(session_id),
    )

    def write(db: Session) -> SessionView:
        db.add(
            ServiceSession(
                id=session_id, device_id=device_id, citizen_key=ctx.cipher.citizen_key(citizen_id),
                key_id=sealed.key_id, nonce=sealed.nonce, payload=sealed.ciphertext,
                created_at=now, expires_at=expires_at,
            )
        )
        audit.append(
            db, at=now, device_id=device_id, action="session.opened", session_id=session_id,
            masked_id=masked, outcome=outcome or ("stale" if fresh.stale else "ok"),
        )
        return answer

    result = commit(write)
    log.info("session %s opened on device %s for %s", session_id, device_id, masked)
    return result


@dataclass(frozen=True)
class LiveSession:
    session_id: str
    device_id: str
    citizen_id: str = field(repr=False)  # personal: kept out of tracebacks and logs
    answer: SessionView
    # The card the session was opened with ("" / None in a session of an older release).
    card_number: str = field(default="", repr=False)
    card_id_code: str | None = field(default=None, repr=False)
    name: str | None = field(default=None, repr=False)


_SESSION = ServiceSession.__table__  # type: ignore[attr-defined]
# The hot read of every session-bound GET: plain SQL, no ORM unit of work.
_READ_SESSION = select(
    _SESSION.c.device_id, _SESSION.c.key_id, _SESSION.c.nonce, _SESSION.c.payload,
    _SESSION.c.expires_at, _SESSION.c.ended_at,
).where(_SESSION.c.id == bindparam("id"))


def live_session(ctx: EdgeContext, device_id: str, session_id: str) -> LiveSession:
    """The device's own session, not ended and not expired; else 404 session-not-found.

    The row is read on every call, so an ended or expired session is refused at once; only
    the decrypted payload of a row seen before (same key id, nonce and ciphertext) comes from
    this process's memory (`ctx.opened`)."""
    if len(session_id) > MAX_SESSION_ID:
        raise session_not_found()
    with ctx.engine.connect().execution_options(**{WRITE_OPTION: False}) as conn:
        row = conn.execute(_READ_SESSION, {"id": session_id}).first()
    # Another device's session is "not found" too: no way to probe for other sessions.
    if (
        row is None
        or row.device_id != device_id
        or row.ended_at is not None
        or row.expires_at <= ctx.now()
    ):
        raise session_not_found()
    memo_key = ("session", session_id, row.key_id, row.nonce, row.payload)
    found = ctx.opened.get(memo_key)
    if isinstance(found, LiveSession):
        return found
    try:
        payload: dict[str, Any] = ctx.cipher.open_json(
            Sealed(row.key_id, row.nonce, row.payload), _aad(session_id)
        )
    except SealError as exc:
        log.error("session %s does not open: %s", session_id, exc)
        raise session_not_found() from None
    card = payload.get("card") or {}
    live = LiveSession(
        session_id, row.device_id, payload["citizen_id"],
        SessionView.model_validate(payload["answer"]),
        card_number=card.get("card_number") or "", card_id_code=card.get("card_id_code"),
        name=card.get("name"),
    )
    ctx.opened.put(memo_key, live)
    return live


def get_session(ctx: EdgeContext, device_id: str, session_id: str) -> SessionView:
    return live_session(ctx, device_id, session_id).answer


def end_session(ctx: EdgeContext, device_id: str, session_id: str, commit: Commit) -> None:
    """End the device's session; ending an ended (or expired) one is a success too."""
    if len(session_id) > MAX_SESSION_ID:
        raise session_not_found()
    with session_scope(ctx.engine, write=False) as db:
        row = db.get(ServiceSession, session_id)
    if row is None or row.device_id != device_id:
        raise session_not_found()
    if row.ended_at is not None:
        return
    now = ctx.now()

    def write(db: Session) -> None:
        # Conditional: of two concurrent ends, only one changes the row and is audited.
        changed = db.exec(
            update(ServiceSession)
            .where(col(ServiceSession.id) == session_id, col(ServiceSession.ended_at).is_(None))
            .values(ended_at=now)
        ).rowcount
        if changed:
            audit.append(db, at=now, device_id=device_id, action="session.ended",
                         session_id=session_id)

    commit(write)
    log.info("session %s ended on device %s", session_id, device_id)


def _audit_refusal(ctx: EdgeContext, device_id: str, masked: str, outcome: str) -> None:
    now = ctx.now()
    run_in_transaction(
        ctx.engine,
        lambda db: audit.append(
            db, at=now, device_id=device_id, action="session.refused", masked_id=masked,
            outcome=outcome,
        ),
    )


def _aad(session_id: str) -> str:
    return f"session:{session_id}"
