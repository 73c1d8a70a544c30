"""What the flow needs from the outside world, as protocols: time, worker threads, the edge.

Production plugs in Kivy's Clock, a thread pool and the httpx client; tests plug in a manual
clock, a queue of jobs they run when they choose, and a scripted edge. No sleeps anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from kiosk.edge.certification import CertificationReceipt, CertificationStatus
from kiosk.edge.models import (
    ApplicationDraft,
    Applications,
    Benefits,
    Contributions,
    Credential,
    PensionAccount,
    Precheck,
    Receipt,
    SessionOpened,
    Subsidies,
)

T = TypeVar("T")


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs callbacks later on the flow's own thread (the UI thread in production)."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Cancellable: ...


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a job produced: a value, or the exception it raised."""

    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class TaskRunner(Protocol):
    """Runs blocking jobs off the flow's thread and reports back on it."""

    def submit(self, job: Callable[[], T], done: Callable[[Outcome[T]], None]) -> None:
        """Run `job` on a worker; call `done(outcome)` later on the flow's thread."""
        ...


class EdgePort(Protocol):
    """The edge calls sessions and journeys need (kiosk.edge.client.EdgeClient has them).

    Each call is ONE attempt; the flow's retry policy decides about another.
    """

    def open_session(self, credential: Credential, *, idempotency_key: str) -> SessionOpened: ...

    def get_benefits(self, session_id: str) -> Benefits: ...

    def get_contributions(self, session_id: str) -> Contributions: ...

    def get_pension_account(self, session_id: str) -> PensionAccount: ...

    def end_session(self, session_id: str, *, idempotency_key: str) -> None: ...

    def get_subsidies(self, session_id: str) -> Subsidies: ...

    def precheck(self, session_id: str, draft: ApplicationDraft) -> Precheck: ...

    def apply(self, session_id: str, draft: ApplicationDraft, *,
              idempotency_key: str) -> Receipt: ...

    def get_applications(self, session_id: str) -> Applications: ...

    def report_card_loss(self, citizen_id: str, pin: str, *,
                         idempotency_key: str) -> Receipt: ...

    def reverse_card_loss(self, card: Credential, pin: str, *,
                          idempotency_key: str) -> Receipt: ...

    def get_certification(self, session_id: str) -> CertificationStatus: ...

    def submit_certification(self, session_id: str, body: dict[str, Any], *,
                             idempotency_key: str) -> CertificationReceipt: ...
