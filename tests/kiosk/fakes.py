"""Test doubles for the kiosk flow: a manual clock, hand-run worker jobs, a scripted edge,
and sample data. Nothing here sleeps: tests decide when time passes and when jobs finish."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from drivers.card.interface import CardData
from kiosk.edge.models import (
    Application,
    ApplicationDraft,
    Applications,
    Benefits,
    Citizen,
    Contributions,
    Credential,
    Participation,
    PensionAccount,
    PensionPayment,
    Precheck,
    Receipt,
    SessionOpened,
    Subsidies,
)
from kiosk.flow.ports import Outcome

AS_OF = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing time


def sample_card(**overrides: Any) -> CardData:
    values: dict[str, Any] = {
        "atr": "3B6800000073C84013009000",
        "protocol": "T=1",
        "card_id_code": "110105D156000005000000000000A1B2",
        "card_type": "3",
        "spec_version": "2.00",
        "init_org_code": "110105000000",
        "issue_date": dt.date(2015, 3, 1),
        "expiry_date": dt.date(2035, 3, 1),
        "card_number": "A12345678",
        "citizen_id": "11010519491231002X",
        "name": "张三",
        "gender": "1",
        "ethnicity": "01",
        "birthplace": "110105",
        "birth_date": dt.date(1949, 12, 31),
    }
    values.update(overrides)
    return CardData(**values)


def sample_opened(session_id: str = "ses_0001", *, stale: bool = False,
                  display_name: str = "张*") -> SessionOpened:
    return SessionOpened(
        session_id=session_id,
        expires_at=AS_OF + dt.timedelta(minutes=15),
        citizen=Citizen(display_name=display_name, gender="1", age=76, card_status="normal"),
        as_of=AS_OF,
        stale=stale,
    )


def sample_benefits(months: int = 14, *, stale: bool = False) -> Benefits:
    payments = []
    year, month = 2026, 10
    for i in range(months):
        payments.append(PensionPayment(
            period=f"{year}-{month:02d}",
            amount=Decimal("3456.78") - Decimal(i * 12),
            paid_on=dt.date(year, month, 15),
            status="paid",
            bank="中国工商银行",
            account_masked="6222****1234",
        ))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return Benefits(
        as_of=AS_OF,
        stale=stale,
        participation=(
            Participation(scheme="employee-pension", scheme_name="城镇职工基本养老保险",
                          status="receiving", since="2009-01"),
            Participation(scheme="medical", scheme_name="职工基本医疗保险",
                          status="contributing", since="1998-07"),
        ),
        pension_payments=tuple(payments),
    )


def sample_contributions(years: int = 14, *, stale: bool = False) -> Contributions:
    """Employee-pension years, newest first; the newest with two months in arrears."""
    return Contributions.model_validate({
        "as_of": AS_OF.isoformat(), "stale": stale,
        "items": [{"year": 2026 - i, "scheme": "employee-pension",
                   "months": 9 if i == 0 else 12, "arrears_months": 2 if i == 0 else 0,
                   "base": "6210.00", "personal": "5961.60", "employer": "11923.20"}
                  for i in range(years)],
    })


def sample_pension_account(years: int = 14, *, stale: bool = False) -> PensionAccount:
    items = [{"year": 2026 - i, "credited": "5961.60", "interest": "0.00" if i == 0 else "812.40",
              "paid_out": "0.00", "balance": str(Decimal("86543.21") - 5774 * i)}
             for i in range(years)]
    return PensionAccount.model_validate({
        "as_of": AS_OF.isoformat(), "stale": stale, "scheme": "employee-pension",
        "balance": items[0]["balance"] if items else "0.00", "items": items,
    })


def sample_subsidies(*, stale: bool = False) -> Subsidies:
    return Subsidies.model_validate({
        "as_of": AS_OF.isoformat(), "stale": stale,
        "items": [
            {"code": "skill-upgrade", "name": "职业技能提升补贴", "amount": "1500.00",
             "period": "2026", "eligible": True,
             "form_fields": [{"name": "phone", "kind": "phone"},
                             {"name": "certificate_number", "kind": "digits",
                              "max_length": 20}]},
            {"code": "unemployment", "name": "失业保险金", "amount": None, "period": "2026-11",
             "eligible": False, "reason_code": "not-eligible",
             "reason": "您目前在职参保，不符合领取条件"},
            {"code": "job-seeking", "name": "求职创业补贴", "amount": "1000.00",
             "period": "once", "eligible": True, "form_fields": []},
        ],
    })


def sample_precheck(ok: bool = True, *, checked: bool = True) -> Precheck:
    findings = [] if ok or not checked else [
        {"code": "duplicate-claim", "message": "您本年度已申请过该补贴"}]
    return Precheck.model_validate({"ok": ok, "checked": checked, "findings": findings})


RECEIPT_NO = "R20261122ABCDEFGH12"


def sample_receipt(state: str = "sent", *, kind: str = "subsidy-application",
                   receipt_no: str = RECEIPT_NO, **extra: Any) -> Receipt:
    body: dict[str, Any] = {
        "receipt_no": receipt_no, "qr": f"hrss:receipt:{receipt_no}", "kind": kind,
        "state": state, "submitted_at": AS_OF.isoformat(),
        "sent_at": AS_OF.isoformat() if state == "sent" else None,
        "application_no": ("SQ2026112200000001" if state == "sent"
                           and kind == "subsidy-application" else None),
    }
    body.update(extra)
    return Receipt.model_validate(body)


def sample_applications(*, queued: int = 0) -> Applications:
    history = [
        {"status": "submitted", "at": "2026-09-01T02:00:00Z"},
        {"status": "township-review", "at": "2026-09-03T02:00:00Z"},
        {"status": "department-review", "at": "2026-09-10T02:00:00Z"},
        {"status": "approved", "at": "2026-09-20T02:00:00Z"},
        {"status": "disbursed", "at": "2026-10-01T02:00:00Z"},
        {"status": "bank-returned", "at": "2026-10-03T02:00:00Z",
         "reason": "账户已销户，请到银行核实"},
    ]
    items: list[dict[str, Any]] = [
        {"application_no": "SQ2026090100000007", "subsidy": "skill-upgrade",
         "subsidy_name": "职业技能提升补贴", "period": "2026", "amount": "1500.00",
         "status": "bank-returned", "history": history, "bank": "中国工商银行",
         "account_masked": "6222****1234", "receipt_no": None},
        {"application_no": "SQ2025050100000003", "subsidy": "startup-once",
         "subsidy_name": "一次性创业补贴", "period": "once", "amount": None,
         "status": "rejected", "history": [
             {"status": "submitted", "at": "2025-05-01T02:00:00Z"},
             {"status": "rejected", "at": "2025-05-20T02:00:00Z",
              "reason": "不在补贴要求的户籍范围内"}]},
    ]
    return Applications.model_validate({
        "as_of": AS_OF.isoformat(), "stale": False, "items": items,
        "queued": [sample_receipt("queued", receipt_no=f"R20261122QQQQQQ{i:04d}")
                   .model_dump(mode="json") for i in range(queued)],
    })


def sample_application(applications: Applications | None = None) -> Application:
    return (applications or sample_applications()).items[0]


class _Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A Scheduler whose time moves only when the test calls advance()."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, _Timer, Callable[[], None]]] = []
        self._seq = itertools.count()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer()
        heapq.heappush(self._heap, (self.now + delay_s, next(self._seq), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        """Run, in time order, every callback due within `seconds` (including new ones)."""
        end = self.now + seconds
        while self._heap and self._heap[0][0] <= end + 1e-9:
            due, _, timer, callback = heapq.heappop(self._heap)
            self.now = due
            if not timer.cancelled:
                callback()
        self.now = end

    def pending(self) -> list[float]:
        """Due times of live timers, soonest first."""
        return sorted(due - self.now for due, _, t, _ in self._heap if not t.cancelled)


class ManualTasks:
    """A TaskRunner that queues jobs until the test runs them (as a worker would, later)."""

    def __init__(self) -> None:
        self.queue: list[tuple[Callable[[], Any], Callable[[Outcome[Any]], None]]] = []

    def submit(self, job: Callable[[], Any], done: Callable[[Outcome[Any]], None]) -> None:
        self.queue.append((job, done))

    def run_next(self) -> None:
        job, done = self.queue.pop(0)
        try:
            outcome: Outcome[Any] = Outcome(value=job())
        except Exception as exc:
            outcome = Outcome(error=exc)
        done(outcome)

    def run_all(self) -> None:
        while self.queue:
            self.run_next()


@dataclass
class ScriptedEdge:
    """An EdgePort that answers from scripts and records every call (keys included).

    Each script entry is a value to return or an exception to raise; when a script runs out
    the last entry repeats.
    """

    open_script: list[Any] = field(default_factory=lambda: [sample_opened()])
    benefits_script: list[Any] = field(default_factory=lambda: [sample_benefits()])
    end_script: list[Any] = field(default_factory=lambda: [None])
    subsidies_script: list[Any] = field(default_factory=lambda: [sample_subsidies()])
    precheck_script: list[Any] = field(default_factory=lambda: [sample_precheck()])
    apply_script: list[Any] = field(default_factory=lambda: [sample_receipt()])
    applications_script: list[Any] = field(default_factory=lambda: [sample_applications()])
    card_loss_script: list[Any] = field(default_factory=lambda: [
        sample_receipt(kind="card-loss-report")])
    open_calls: list[tuple[Credential, str]] = field(default_factory=list)
    benefits_calls: list[str] = field(default_factory=list)
    contributions_script: list[Any] = field(default_factory=lambda: [sample_contributions()])
    contributions_calls: list[str] = field(default_factory=list)
    account_script: list[Any] = field(default_factory=lambda: [sample_pension_account()])
    account_calls: list[str] = field(default_factory=list)
    end_calls: list[tuple[str, str]] = field(default_factory=list)
    subsidies_calls: list[str] = field(default_factory=list)
    precheck_calls: list[tuple[str, ApplicationDraft]] = field(default_factory=list)
    apply_calls: list[tuple[str, ApplicationDraft, str]] = field(default_factory=list)
    applications_calls: list[str] = field(default_factory=list)
    card_loss_calls: list[tuple[str, str, str]] = field(default_factory=list)
    reversal_script: list[Any] = field(default_factory=lambda: [
        sample_receipt(kind="card-loss-reversal")])
    reversal_calls: list[tuple[Credential, str, str]] = field(default_factory=list)

    @staticmethod
    def _next(script: list[Any]) -> Any:
        entry = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(entry, BaseException):
            raise entry
        return entry

    def open_session(self, credential: Credential, *, idempotency_key: str) -> SessionOpened:
        self.open_calls.append((credential, idempotency_key))
        return self._next(self.open_script)

    def get_benefits(self, session_id: str) -> Benefits:
        self.benefits_calls.append(session_id)
        return self._next(self.benefits_script)

    def get_contributions(self, session_id: str) -> Contributions:
        self.contributions_calls.append(session_id)
        return self._next(self.contributions_script)

    def get_pension_account(self, session_id: str) -> PensionAccount:
        self.account_calls.append(session_id)
        return self._next(self.account_script)

    def end_session(self, session_id: str, *, idempotency_key: str) -> None:
        self.end_calls.append((session_id, idempotency_key))
        self._next(self.end_script)

    def get_subsidies(self, session_id: str) -> Subsidies:
        self.subsidies_calls.append(session_id)
        return self._next(self.subsidies_script)

    def precheck(self, session_id: str, draft: ApplicationDraft) -> Precheck:
        self.precheck_calls.append((session_id, draft))
        return self._next(self.precheck_script)

    def apply(self, session_id: str, draft: ApplicationDraft, *,
              idempotency_key: str) -> Receipt:
        self.apply_calls.append((session_id, draft, idempotency_key))
        return self._next(self.apply_script)

    def get_applications(self, session_id: str) -> Applications:
        self.applications_calls.append(session_id)
        return self._next(self.applications_script)

    def report_card_loss(self, citizen_id: str, pin: str, *,
                         idempotency_key: str) -> Receipt:
        self.card_loss_calls.append((citizen_id, pin, idempotency_key))
        return self._next(self.card_loss_script)

    def reverse_card_loss(self, card: Credential, pin: str, *,
                          idempotency_key: str) -> Receipt:
        self.reversal_calls.append((card, pin, idempotency_key))
        return self._next(self.reversal_script)
