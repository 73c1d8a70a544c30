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
    Benefits,
    Citizen,
    Credential,
    Participation,
    PensionPayment,
    SessionOpened,
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
    open_calls: list[tuple[Credential, str]] = field(default_factory=list)
    benefits_calls: list[str] = field(default_factory=list)
    end_calls: list[tuple[str, str]] = field(default_factory=list)

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

    def end_session(self, session_id: str, *, idempotency_key: str) -> None:
        self.end_calls.append((session_id, idempotency_key))
        self._next(self.end_script)
