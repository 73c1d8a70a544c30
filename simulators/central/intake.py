"""`POST /central/v1/submissions`: the items of a batch, in order, each exactly once.

Idempotency is keyed on `submission_key`: the first answer to a key (a record or a business
refusal) is stored with a hash of the item without `submitted_at`, and the same item again
gets the same answer (`duplicate` with the same record, or the same refusal); the key with
another body is a `conflict`. An item that is not valid data is refused alone
(`invalid-submission`) and not stored, so a corrected item may use its key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from common.clock import CHINA_TZ, iso_utc
from common.masking import mask_card_number
from simulators.central import benefits, certification, profiles
from simulators.central.applications import Application, live_application_no
from simulators.central.deps import SimState
from simulators.central.schemas_certification import CertificationPayload
from simulators.central.schemas_services import (
    ApplicationPayload,
    LossReportPayload,
    LossReversalPayload,
    SubmissionIn,
)

log = logging.getLogger(__name__)

PIN_ATTEMPTS = 5  # wrong PINs in a row before the PIN locks
PIN_LOCK = dt.timedelta(hours=24)
_LOCKED = "密码错误次数过多，已锁定24小时。请到服务窗口办理或拨打12333。"
_NO_CARD = "没有可以挂失的社保卡（卡片已注销、停用或已列入黑名单）。"
_MISMATCH = "卡号或卡识别码与登记信息不一致，请使用本人当前的社保卡。"
MAX_AGE = dt.timedelta(days=400)  # how old a queued submission may be when it arrives
MAX_SKEW = dt.timedelta(minutes=10)  # how far ahead of the platform's clock a terminal may be


@dataclass(frozen=True)
class Answer:
    """A handler's answer to a new item: a record, or a business refusal (both final)."""

    outcome: str  # recorded | refused
    record: dict[str, Any] | None = None
    refusal: dict[str, Any] | None = None
    citizen_index: int | None = None


def refused(code: str, message: str, findings: list[dict[str, str]] | None = None,
            citizen_index: int | None = None) -> Answer:
    return Answer("refused", refusal={"code": code, "message": message,
                                      "findings": findings or []},
                  citizen_index=citizen_index)


class ItemInvalid(ValueError):
    """Not valid data: refused alone as invalid-submission, not stored."""


# (state, payload, the platform's now, the item's submitted_at)
Handler = Callable[[SimState, Any, dt.datetime, dt.datetime], Answer]


@dataclass(frozen=True)
class Kind:
    payload: type[BaseModel]
    handle: Handler


# -- subsidy applications ----------------------------------------------------------------------
def _apply(state: SimState, payload: ApplicationPayload, now: dt.datetime,
           submitted_at: dt.datetime) -> Answer:
    try:
        citizen, findings = benefits.assess(state, payload)
    except benefits.PersonNotFound:
        return refused("person-not-found", "查无此人，请核对身份证号码。")
    except benefits.FormInvalid as exc:
        raise ItemInvalid(str(exc)) from exc
    index = None if citizen is None else citizen.index
    if findings or citizen is None:
        return refused("risk-refused", "申请未通过校验，未予受理。",
                       [f.as_dict() for f in findings], index)
    serial = state.db.next_serial()
    app = Application(live_application_no(now.astimezone(CHINA_TZ).date(), serial),
                      citizen.index, payload.subsidy, payload.period, submitted_at, now)
    return Answer("recorded", record={
        "application_no": app.application_no, "subsidy": app.subsidy, "period": app.period,
        "status": "submitted", "submitted_at": iso_utc(submitted_at),
    }, citizen_index=citizen.index)


# -- PIN ---------------------------------------------------------------------------------------
def _pin_refusal(state: SimState, index: int, pin: str, now: dt.datetime) -> Answer | None:
    """None when the PIN is right (and not locked); the failure is recorded otherwise."""
    failures, locked_until = state.db.pin_state(index)
    if locked_until is not None and now < locked_until:
        return refused("pin-locked", _LOCKED, citizen_index=index)
    who = state.profiles.get(index) if state.profiles else None
    assert who is not None
    if profiles.pin_matches(who, state.population.seed, pin):
        if failures or locked_until:
            state.db.set_pin_state(index, 0, None)
        return None
    failures += 1
    if failures >= PIN_ATTEMPTS:
        state.db.set_pin_state(index, 0, now + PIN_LOCK)
        return refused("pin-locked", _LOCKED, citizen_index=index)
    state.db.set_pin_state(index, failures, None)
    return refused("pin-wrong", f"社保服务密码不正确，还可以再试{PIN_ATTEMPTS - failures}次。",
                   citizen_index=index)


def _with_pin(state: SimState, citizen_id: str, pin: str,
              now: dt.datetime) -> tuple[Any, Answer | None]:
    """The citizen of a PIN-checked submission, or the refusal (unknown person, wrong PIN)."""
    citizen = state.population.find(citizen_id)
    if citizen is None:
        return None, refused("person-not-found", "查无此人，请核对身份证号码。")
    return citizen, _pin_refusal(state, citizen.index, pin, now)


# -- card loss report and its reversal ---------------------------------------------------------
def _report_loss(state: SimState, payload: LossReportPayload, now: dt.datetime,
                 _submitted_at: dt.datetime) -> Answer:
    citizen, wrong = _with_pin(state, payload.citizen_id, payload.pin, now)
    if wrong is not None:
        return wrong
    assert citizen is not None
    card = citizen.current_card
    status = benefits.card_status(state, citizen)
    if status not in ("normal", "reported-lost"):
        return refused("no-active-card", _NO_CARD, citizen_index=citizen.index)
    if status == "normal":
        state.db.set_card_status(citizen.index, card.card_number, "reported-lost", now)
    # Reported already (another terminal, another key): the loss stands, reported then.
    return Answer("recorded", record={
        "card_status": "reported-lost", "card_number_masked": mask_card_number(card.card_number),
        "reported_at": iso_utc(benefits.card_changed_at(state, citizen)),
    }, citizen_index=citizen.index)


def _reverse_loss(state: SimState, payload: LossReversalPayload, now: dt.datetime,
                  _submitted_at: dt.datetime) -> Answer:
    citizen, wrong = _with_pin(state, payload.citizen_id, payload.pin, now)
    if wrong is not None:
        return wrong
    assert citizen is not None
    card = citizen.current_card
    if (payload.card_number.upper() != card.card_number
            or payload.card_id_code.upper() != card.card_id_code):
        return refused("identity-mismatch", _MISMATCH, citizen_index=citizen.index)
    if benefits.card_status(state, citizen) != "reported-lost":
        return refused("card-not-lost", "这张社保卡没有临时挂失，无需解挂。",
                       citizen_index=citizen.index)
    state.db.set_card_status(citizen.index, card.card_number, "normal", now)
    return Answer("recorded", record={
        "card_status": "normal", "card_number_masked": mask_card_number(card.card_number),
        "reversed_at": iso_utc(now),
    }, citizen_index=citizen.index)


# Issue 7 adds "pension-certification" here: one entry per kind.
KINDS: dict[str, Kind] = {
    "subsidy-application": Kind(ApplicationPayload, _apply),
    "card-loss-report": Kind(LossReportPayload, _report_loss),
    "card-loss-reversal": Kind(LossReversalPayload, _reverse_loss),
    certification.KIND: Kind(CertificationPayload, certification.handle),
}


# -- the batch ---------------------------------------------------------------------------------
def body_hash(item: dict[str, Any]) -> str:
    """The item's identity for idempotency: canonical JSON without `submitted_at` (a
    terminal's resend may stamp it again)."""
    rest = {k: v for k, v in item.items() if k != "submitted_at"}
    text = json.dumps(rest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _result(key: str | None, outcome: str, answer: dict[str, Any]) -> dict[str, Any]:
    return {"submission_key": key, "outcome": outcome, "record": answer.get("record"),
            "refusal": answer.get("refusal")}


def _invalid(item: Any, why: str) -> dict[str, Any]:
    raw = item.get("submission_key") if isinstance(item, dict) else None
    key = raw if isinstance(raw, str) and len(raw) <= 80 else None
    return _result(key, "refused", {"refusal": {
        "code": "invalid-submission", "message": f"提交的数据不符合接口规范：{why}"[:200],
        "findings": []}})


def _why(exc: ValidationError) -> str:
    # Locations only, never the values: they may be citizen data.
    return "; ".join(".".join(str(p) for p in e["loc"]) or "item" for e in exc.errors()[:5])


def process(state: SimState, items: list[Any]) -> list[dict[str, Any]]:
    """Every item's result, in order; all committed before this returns."""
    store = state.db
    counts = dict.fromkeys(("received", "recorded", "duplicates", "refused", "conflicts"), 0)
    results: list[dict[str, Any]] = []
    now = state.now()
    with store.atomic():
        try:
            for item in items:
                counts["received"] += 1
                result = _one(state, item, now)
                outcome = result["outcome"]
                counts[{"recorded": "recorded", "duplicate": "duplicates", "refused": "refused",
                        "conflict": "conflicts"}[outcome]] += 1
                results.append(result)
            for name, by in counts.items():
                store.bump(name, by)
        except BaseException:
            store.reload_cards()  # the in-memory mirror followed the rolled-back changes
            raise
    return results


def _one(state: SimState, item: Any, now: dt.datetime) -> dict[str, Any]:  # noqa: PLR0911
    store = state.db
    if not isinstance(item, dict):
        return _invalid(item, "item 不是 JSON 对象")
    try:
        envelope = SubmissionIn.model_validate(item)
    except ValidationError as exc:
        return _invalid(item, _why(exc))
    kind = KINDS.get(envelope.kind)
    if kind is None:
        return _invalid(item, f"kind {envelope.kind} 不受支持")
    if not now - MAX_AGE <= envelope.submitted_at <= now + MAX_SKEW:
        return _invalid(item, "submitted_at 超出范围")
    digest = body_hash(item)
    known = store.submission(envelope.submission_key)
    if known is not None:
        if known.body_hash != digest:
            return _result(envelope.submission_key, "conflict", {"refusal": {
                "code": "submission-key-conflict",
                "message": "这个提交编号已用于另一笔内容不同的业务。", "findings": []}})
        outcome = "duplicate" if known.outcome == "recorded" else "refused"
        return _result(envelope.submission_key, outcome, known.answer)
    try:
        payload = kind.payload.model_validate(envelope.payload)
    except ValidationError as exc:
        return _invalid(item, "payload." + _why(exc))
    try:
        with store.savepoint():
            if state.faults.roll("refuse_rate"):
                answer = refused("simulated-refusal", "平台拒绝受理这笔业务（模拟的业务错误）。")
            else:
                answer = kind.handle(state, payload, now, envelope.submitted_at)
            seq = store.add_submission(
                key=envelope.submission_key, body_hash=digest, kind=envelope.kind,
                device_id=envelope.device_id, citizen_index=answer.citizen_index,
                submitted_at=envelope.submitted_at, received_at=now, outcome=answer.outcome,
                answer={"record": answer.record, "refusal": answer.refusal},
            )
            if answer.outcome == "recorded" and envelope.kind == "subsidy-application":
                assert answer.record is not None and answer.citizen_index is not None
                store.add_application(Application(
                    answer.record["application_no"], answer.citizen_index,
                    answer.record["subsidy"], answer.record["period"], envelope.submitted_at,
                    now), envelope.submission_key)
    except ItemInvalid as exc:
        store.reload_cards()
        return _invalid(item, str(exc))
    log.debug("submission #%d (%s) %s", seq, envelope.kind, answer.outcome)
    return _result(envelope.submission_key, answer.outcome,
                   {"record": answer.record, "refusal": answer.refusal})
