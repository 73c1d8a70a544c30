"""Pension qualification certification (issue 7): the session citizen's status (with the
enrolled template for the kiosk's 1:1 check), and a certification made at the kiosk.

A certification arrives as the kiosk's liveness evidence and the record the terminal signed
(common/signing.py). The edge checks the record against the session (citizen, device, the
evidence's hash, a plausible time), that a certification is due, runs its own second judgement
of the evidence (certification/judge.py), and then, in the request key's one transaction,
enqueues the signed record for central (kind "pension-certification"), keeps the evidence
sealed for the retention period and appends the audit chain. Central verifies the signature;
the edge cannot make or change a record. A failed judgement queues nothing.

The status comes from a field trip's roster when this edge holds one for the citizen (field
mode, offline), else from central through the encrypted cache (stale while central is down).
A certification made here and not yet reflected in central's answer shows as done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from sqlmodel import Session, col, select

from common import signing
from common.clock import iso_utc
from common.masking import mask_citizen_id
from common.problem import Problem
from edge_server import audit, outbox
from edge_server.central import queries
from edge_server.certification import evidence_store
from edge_server.certification import judge as judging
from edge_server.certification.tables import CertificationRecord
from edge_server.context import EdgeContext
from edge_server.db import run_in_transaction, session_scope
from edge_server.idempotency import REPLAYED_HEADER, Commit, IdempotentRequest
from edge_server.models import OutboxItem
from edge_server.outbox import OutboxItemView
from edge_server.outbox.store import DEAD, UNSENT
from edge_server.schemas import (
    CertificationReceiptView,
    CertificationRequest,
    CertificationStatusView,
)
from edge_server.services import citizens
from edge_server.services.receipts import QR_PREFIX
from edge_server.services.sessions import live_session

KIND = "pension-certification"
STATUS = "certification"  # the cache's kind
MAX_AHEAD = dt.timedelta(minutes=10)  # a terminal's clock may run this far ahead
_DONE_HERE = "本次认证已在本机提交，无需重复认证。"
_MAX_TEXT = 200
MAX_EVIDENCE_DEPTH = 6  # the wire form nests 4 deep (frames[i].box[j])
MAX_EVIDENCE_NODES = 2000

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class Known:
    """What the edge knows of a citizen's certification status."""

    status: str
    reason_code: str | None
    due_date: dt.date | None
    opens_on: dt.date | None
    cycle_months: int
    last_certified_at: dt.datetime | None
    explanation: str
    template: tuple[float, ...] | None
    as_of: dt.datetime
    stale: bool

    def __repr__(self) -> str:
        return f"Known(status={self.status!r})"


def _from_roster(ctx: EdgeContext, citizen_id: str) -> Known | None:
    """A field trip's roster entry (field mode, offline), when this edge holds one."""
    try:
        from edge_server.services import field_trips
    except ImportError:
        return None
    entry = field_trips.roster_entry(ctx, citizen_id)
    if entry is None:
        return None
    status = str(entry.status)
    return Known(
        status=status,
        reason_code=None if status == "due" else getattr(entry, "reason_code", None)
        or "already-certified",
        due_date=entry.due_date, opens_on=getattr(entry, "opens_on", None),
        cycle_months=int(entry.cycle_months),
        last_certified_at=getattr(entry, "last_certified_at", None),
        explanation=str(entry.explanation),
        template=tuple(entry.template) if entry.template else None,
        as_of=getattr(entry, "as_of", None) or ctx.now(), stale=False,
    )


def known_status(ctx: EdgeContext, citizen_id: str) -> Known:
    """The roster's entry, else central's answer (cached; stale while central is down)."""
    roster = _from_roster(ctx, citizen_id)
    if roster is not None:
        return roster

    def fetch() -> tuple[dt.datetime, Any]:
        answer = queries.query_certification(ctx.central, citizen_id, ctx.now())
        return answer.as_of, answer.model_dump(mode="json")

    fresh = citizens.cached(ctx, citizen_id, STATUS, fetch,
                            queries.CertificationAnswer.model_validate)
    a = fresh.value
    return Known(a.status, a.reason_code, a.due_date, a.opens_on, a.cycle_months,
                 a.last_certified_at, a.explanation, a.template, fresh.as_of, fresh.stale)


def _made_here(ctx: EdgeContext, citizen_id: str,
               since: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """(one is on its way, the newest made here since `since`): certifications of this
    edge that central's answer of `since` cannot know yet. Refused ones do not count."""
    with session_scope(ctx.engine, write=False) as db:
        rows = db.exec(
            select(OutboxItem.state, OutboxItem.created_at)
            .where(col(OutboxItem.citizen_key) == ctx.cipher.citizen_key(citizen_id),
                   col(OutboxItem.kind) == KIND, col(OutboxItem.state) != DEAD)
            .order_by(col(OutboxItem.seq).desc()).limit(20)
        ).all()
    pending = any(state in UNSENT for state, _ in rows)
    newest = max((at for _, at in rows if at >= since), default=None)
    return pending, newest


def _effective(ctx: EdgeContext, citizen_id: str) -> tuple[Known, bool]:
    known = known_status(ctx, citizen_id)
    pending, newest = _made_here(ctx, citizen_id, known.as_of)
    if newest is not None and known.status == "due":
        known = Known("done", "already-certified", known.due_date, known.opens_on,
                      known.cycle_months, newest, _DONE_HERE, known.template, known.as_of,
                      known.stale)
    return known, pending


def _date(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def status(ctx: EdgeContext, device_id: str, session_id: str) -> CertificationStatusView:
    session = live_session(ctx, device_id, session_id)
    cid = session.citizen_id
    known, pending = _effective(ctx, cid)
    audit.append_view(ctx, device_id=device_id, action="certification.viewed",
                      session_id=session_id, masked_id=mask_citizen_id(cid),
                      outcome=known.status)
    return CertificationStatusView(
        citizen_id=cid, status=known.status,  # type: ignore[arg-type]
        reason_code=known.reason_code, due_date=_date(known.due_date),
        opens_on=_date(known.opens_on), cycle_months=known.cycle_months,
        last_certified_at=iso_utc(known.last_certified_at) if known.last_certified_at else None,
        explanation=known.explanation[:_MAX_TEXT],
        template=list(known.template) if known.template else None,
        as_of=iso_utc(known.as_of), stale=known.stale, pending=pending,
    )


# -- a certification --------------------------------------------------------------------------
def _mismatch(what: str) -> Problem:
    return Problem(422, "record-mismatch", "The signed record does not fit this certification",
                   f"{what} does not match")


def _bounded(document: object) -> bool:
    """At most MAX_EVIDENCE_DEPTH levels and MAX_EVIDENCE_NODES values (looked at without
    recursion): the evidence's own parser is strict, but hashing comes first."""
    todo: list[tuple[object, int]] = [(document, 1)]
    seen = 0
    while todo:
        value, depth = todo.pop()
        seen += 1
        if depth > MAX_EVIDENCE_DEPTH or seen > MAX_EVIDENCE_NODES:
            return False
        if isinstance(value, dict):
            todo.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            todo.extend((v, depth + 1) for v in value)
    return True


def _check_record(ctx: EdgeContext, device_id: str, citizen_id: str,
                  body: CertificationRequest) -> dt.datetime:
    record = body.record
    if record.citizen_id.upper() != citizen_id.upper():
        raise _mismatch("citizen_id")
    if record.device_id != device_id:
        raise _mismatch("device_id")
    if not _bounded(body.evidence):
        raise Problem(422, "invalid-evidence", "The evidence is not valid data",
                      "nested too deep or too many values")
    try:
        digest = signing.evidence_sha256(dict(body.evidence))
    except ValueError:
        raise Problem(422, "invalid-evidence", "The evidence is not valid data") from None
    if digest != record.evidence_sha256:
        raise _mismatch("evidence_sha256")
    certified_at = dt.datetime.fromisoformat(record.certified_at)
    now = ctx.now()
    oldest = now - dt.timedelta(seconds=ctx.settings.certification_record_max_age_s)
    if not oldest <= certified_at <= now + MAX_AHEAD:
        raise _mismatch("certified_at")
    return certified_at


def _judge(ctx: EdgeContext, device_id: str, session_id: str, citizen_id: str,
           template: tuple[float, ...], evidence: dict[str, Any]) -> judging.Verdict:
    settings = ctx.settings
    run = judging.judge_for(settings.certification_judge_concurrency,
                            settings.certification_judge_wait_s)
    try:
        verdict = run(template, evidence)
    except judging.InvalidEvidence as exc:
        raise Problem(422, "invalid-evidence", "The evidence is not valid data",
                      str(exc)[:_MAX_TEXT]) from None
    except judging.JudgeBusy:
        raise Problem(503, "judge-busy", "The edge is checking other certifications",
                      retry_after=5) from None
    except judging.JudgeUnavailable as exc:
        log.error("certification judge unavailable: %s", exc)
        raise Problem(503, "judge-unavailable", "The edge cannot check certifications now",
                      retry_after=settings.central_retry_after_s) from None
    if not verdict.passed:
        reason = (verdict.reason or "not-passed")[:64]
        now = ctx.now()
        run_in_transaction(ctx.engine, lambda db: audit.append(
            db, at=now, device_id=device_id, action="certification.refused",
            session_id=session_id, masked_id=mask_citizen_id(citizen_id), outcome=reason))
        log.info("certification of %s refused by the second judgement: %s",
                 mask_citizen_id(citizen_id), reason)
        raise Problem(422, "judgement-failed",
                      "The edge's check of the evidence did not pass", reason=reason)
    return verdict


def _receipt(item: OutboxItemView, row: CertificationRecord) -> CertificationReceiptView:
    record = item.record or {}
    number = record.get("certification_no")
    next_due = record.get("next_due_date")
    return CertificationReceiptView(
        certification_id=item.receipt_no, receipt_no=item.receipt_no,
        qr=QR_PREFIX + item.receipt_no, kind=KIND,
        state=item.state,  # type: ignore[arg-type]
        submitted_at=iso_utc(item.created_at),
        sent_at=iso_utc(item.sent_at) if item.sent_at else None,
        certified_at=iso_utc(row.certified_at),
        certification_no=number if isinstance(number, str) else None,
        next_due_date=next_due if isinstance(next_due, str) else None,
        refusal_code=item.refusal_code[:_MAX_TEXT] if item.refusal_code else None,
        refusal_message=item.refusal_message[:_MAX_TEXT] if item.refusal_message else None,
    )


def _render(ctx: EdgeContext, receipt_no: str) -> CertificationReceiptView | None:
    item = outbox.item_view(ctx, receipt_no)
    with session_scope(ctx.engine, write=False) as db:
        row = db.get(CertificationRecord, receipt_no)
    if item is None or row is None:
        return None
    return _receipt(item, row)


def certify(ctx: EdgeContext, idem: IdempotentRequest, session_id: str,
            body: CertificationRequest) -> Response:
    """201 with the receipt (`sent`, or `queued` while central is down); see the module doc."""
    session = live_session(ctx, idem.device_id, session_id)
    cid = session.citizen_id
    masked = mask_citizen_id(cid)

    def handler(commit: Commit) -> CertificationReceiptView:
        certified_at = _check_record(ctx, idem.device_id, cid, body)
        known, pending = _effective(ctx, cid)
        if pending:
            raise Problem(409, "certification-pending",
                          "A certification of this citizen is on its way to central")
        if known.status != "due":
            raise Problem(422, "certification-not-due", "No certification is due now",
                          known.explanation[:_MAX_TEXT], reason_code=known.reason_code)
        if known.template is None:
            raise Problem(422, "no-template", "Central holds no face photo of this citizen",
                          "请到服务窗口办理。")
        evidence = dict(body.evidence)
        _judge(ctx, idem.device_id, session_id, cid, known.template, evidence)
        record = body.record.model_dump(mode="json")

        def work(db: Session) -> CertificationReceiptView:
            try:
                item = outbox.enqueue(ctx, db, device_id=idem.device_id,
                                      idempotency_key=idem.key, citizen_id=cid, kind=KIND,
                                      payload=record)
            except outbox.OutboxFull:
                raise Problem(
                    503, "outbox-full",
                    "The edge cannot take more submissions until the queue drains",
                    retry_after=ctx.settings.central_retry_after_s,
                ) from None
            now = ctx.now()
            evidence_store.keep(ctx, db, receipt_no=item.receipt_no, citizen_id=cid,
                                evidence=evidence, evidence_sha256=record["evidence_sha256"],
                                now=now)
            row = CertificationRecord(
                receipt_no=item.receipt_no, citizen_key=ctx.cipher.citizen_key(cid),
                device_id=idem.device_id, method=record["method"],
                location=record["location"], staff_id=record["staff_id"],
                certified_at=certified_at, evidence_sha256=record["evidence_sha256"],
                result=record["result"], liveness_version=record["liveness_version"],
                signature=record["signature"], created_at=now)
            db.add(row)
            audit.append(db, at=now, device_id=idem.device_id, action="certification.recorded",
                         session_id=session_id, masked_id=masked, outcome=item.receipt_no)
            receipt.append(item.receipt_no)
            return _receipt(item, row)

        receipt: list[str] = []
        queued = commit(work)
        log.info("certification of %s queued as %s", masked, receipt[0])
        wait_s = ctx.settings.outbox_sync_wait_s
        if wait_s <= 0 or ctx.central.reachability.state == "unreachable":
            return queued
        outbox.await_delivery(ctx, receipt[0], wait_s)
        return _render(ctx, receipt[0]) or queued

    return _current(ctx, idem.run(handler, status_code=201))


def _current(ctx: EdgeContext, response: Response) -> Response:
    """A stored receipt answer, rendered again from the item's state now (a replay after
    the relay delivered it says "sent")."""
    if response.status_code != 201:
        return response
    try:
        receipt_no = json.loads(bytes(response.body))["receipt_no"]
    except (ValueError, KeyError, TypeError):
        log.error("a stored certification answer is not a receipt")
        return response
    view = _render(ctx, receipt_no)
    if view is None:
        return response
    fresh = Response(view.model_dump_json().encode(), status_code=201,
                     media_type="application/json")
    if REPLAYED_HEADER in response.headers:
        fresh.headers[REPLAYED_HEADER] = response.headers[REPLAYED_HEADER]
    return fresh
