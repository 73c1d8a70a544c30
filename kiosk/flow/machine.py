"""The session state machine: card and screen events in, a `View` out. No Kivy, no threads.

Everything runs on one thread (the UI thread in production). Blocking edge calls go to the
`TaskRunner`, whose answers come back as `EdgeAnswered` events; delays go to the `Scheduler`.
Each edge request carries a number, and an answer whose number is no longer the pending one is
stale: it never changes the screen, and a stale *opened session* is ended at the edge at once,
so that a card pulled mid-identify cannot leave a live session behind.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from drivers.base import DeviceEvent, HealthChanged, HealthState
from drivers.card.interface import (
    CardData,
    CardFailure,
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
)
from kiosk.edge_client import new_idempotency_key
from kiosk.edge_errors import SESSION_NOT_FOUND, EdgeProblem, EdgeUnreachable
from kiosk.edge_models import Benefits, SessionOpened
from kiosk.flow.backoff import Backoff
from kiosk.flow.events import (
    Activity,
    EdgeAnswered,
    FlowEvent,
    IdleTick,
    IdleWarning,
    MessageExpired,
    RetryDue,
    Tap,
)
from kiosk.flow.messages import Msg, message_for_failure, message_for_problem
from kiosk.flow.ports import Cancellable, EdgePort, Outcome, Scheduler, TaskRunner
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.session import Session
from kiosk.flow.view import Notice, Tone, View

log = logging.getLogger(__name__)

Listener = Callable[[View], None]
RequestKind = Literal["open", "benefits"]
# Read failures after which the card is (or may be) already out: the advice must stay visible.
_ADVICE_OUTLIVES_CARD = frozenset({CardFailure.REMOVED, CardFailure.READER_UNAVAILABLE})


@dataclass(frozen=True)
class FlowConfig:
    idle_timeout_s: float = 90.0
    idle_warning_s: float = 30.0
    message_hold_s: float = 20.0
    page_size: int = 6
    backoff: Backoff = field(default_factory=Backoff)
    # Retries of one request before the citizen is told to come back later (2+4+8+16+30 s of
    # waiting with the default backoff): "please wait, do not pull the card" must not last
    # for ever while identifying, where no idle timeout runs.
    max_retries: int = 5


@dataclass
class _Pending:
    """The edge request in progress. Holds the card's data only while identifying."""

    kind: RequestKind
    request: int
    key: str | None = None  # Idempotency-Key of the logical action, reused on every retry
    card: CardData | None = field(default=None, repr=False)
    session_id: str = field(default="", repr=False)
    retries: int = 0
    timer: Cancellable | None = None


class KioskFlow:
    """Drive with `handle(event)`; read `view`; `subscribe` to be told when it changes."""

    def __init__(
        self,
        edge: EdgePort,
        tasks: TaskRunner,
        scheduler: Scheduler,
        config: FlowConfig | None = None,
        new_key: Callable[[], str] = new_idempotency_key,
    ) -> None:
        self._edge = edge
        self._tasks = tasks
        self._scheduler = scheduler
        self._config = config or FlowConfig()
        self._new_key = new_key
        self._listeners: list[Listener] = []

        self._screen = ScreenName.ATTRACT
        self._notice: Notice | None = None
        self._card_present = False
        self._reader_available = True
        self._session: Session | None = None
        self._pending: _Pending | None = None
        self._requests = 0
        self._page = 0

        self._idle_generation = 0
        self._idle_timer: Cancellable | None = None
        self._idle_left: int | None = None
        self._message_generation = 0
        self._message_timer: Cancellable | None = None

        self._view = self._build_view()

    # Public surface -------------------------------------------------------------------------

    @property
    def view(self) -> View:
        return self._view

    @property
    def session_active(self) -> bool:
        return self._session is not None

    @property
    def session(self) -> Session | None:
        """The live session, if any (in memory only; for the UI and tests)."""
        return self._session

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def handle(self, event: DeviceEvent | FlowEvent) -> None:
        """Apply one event. Call on the flow's thread only."""
        before = self._view
        if isinstance(event, DeviceEvent):
            self._on_device_event(event)
        else:
            self._on_flow_event(event)
        self._sync_message_timer()
        self._publish(before, event)

    def _on_device_event(self, event: DeviceEvent) -> None:
        match event:
            case CardInserted():
                self._on_card_inserted()
            case CardRead(data=data):
                self._on_card_read(data)
            case CardReadFailed(failure=failure):
                self._on_card_read_failed(failure)
            case CardRemoved():
                self._on_card_removed()
            case HealthChanged(kind="card_reader", health=health):
                self._on_reader_health(health.state)
            case _:
                log.debug("flow: %s ignored", type(event).__name__)

    def _on_flow_event(self, event: FlowEvent) -> None:
        match event:
            case Tap(action=action):
                self._on_tap(action)
            case Activity() if self._idle_left is None:
                # While the warning shows, only its button extends: a stray touch on the dimmed
                # screen must not make the warning vanish under the citizen's finger.
                self._note_activity()
            case EdgeAnswered():
                self._on_edge_answered(event)
            case RetryDue(request=request):
                self._on_retry_due(request)
            case IdleWarning(generation=gen) if gen == self._idle_generation:
                self._on_idle_warning()
            case IdleTick(generation=gen) if gen == self._idle_generation:
                self._on_idle_tick()
            case MessageExpired(generation=gen) if gen == self._message_generation:
                self._go(ScreenName.ATTRACT)
            case _:
                log.debug("flow: stale %s ignored", type(event).__name__)

    def close(self) -> None:
        """The app is stopping: end any session at the edge (best effort) and drop everything."""
        self._cancel_pending()
        self._end_session()
        self._cancel_message_timer()
        self._card_present = False
        self._screen, self._notice = ScreenName.ATTRACT, None
        self._view = self._build_view()

    # Card events ----------------------------------------------------------------------------

    def _on_card_inserted(self) -> None:
        # A new card always starts afresh, whatever was left over (a lost CardRemoved event).
        self._cancel_pending()
        self._end_session()
        self._card_present = True
        self._go(ScreenName.READING)

    def _on_card_read(self, data: CardData) -> None:
        if self._screen is not ScreenName.READING:
            log.warning("flow: card read while on %s; ignored", self._screen)
            return
        self._pending = _Pending(
            kind="open", request=self._next_request(), key=self._new_key(), card=data
        )
        self._go(ScreenName.IDENTIFYING)
        self._submit(self._pending)

    def _on_card_read_failed(self, failure: CardFailure) -> None:
        outlives = failure in _ADVICE_OUTLIVES_CARD
        log.info("flow: card read failed (%s)", failure)
        self._cancel_pending()
        self._show(Notice(
            key=message_for_failure(failure),
            tone=Tone.PROBLEM,
            actions=(Action.OK,) if outlives else (),
            keep_after_removal=outlives,
        ))

    def _on_card_removed(self) -> None:
        was_reading = self._screen is ScreenName.READING
        self._card_present = False
        self._cancel_pending()
        self._end_session()
        if was_reading:  # pulled before the driver could even report a failed read
            self._show(Notice(
                key=Msg.CARD_REMOVED_MID_READ, actions=(Action.OK,), keep_after_removal=True
            ))
        elif not (self._notice is not None and self._notice.keep_after_removal):
            self._go(ScreenName.ATTRACT)

    def _on_reader_health(self, state: HealthState) -> None:
        available = state is not HealthState.MISSING
        if available == self._reader_available:
            return
        self._reader_available = available
        if available:
            return
        # Without the reader we cannot see the card leave: end the session now rather than
        # leave a citizen's data on screen for whoever comes next.
        if self._session is not None or self._pending is not None or self._card_present:
            log.warning("flow: card reader unavailable; ending the session in progress")
        else:
            log.info("flow: card reader unavailable")
        self._card_present = False
        self._cancel_pending()
        self._end_session()
        if not (self._notice is not None and self._notice.keep_after_removal):
            self._go(ScreenName.ATTRACT)

    # Taps and activity ----------------------------------------------------------------------

    def _on_tap(self, action: Action) -> None:
        self._note_activity()
        screen = self._screen
        match action:
            case Action.SHOW_BENEFITS if screen is ScreenName.HOME and self._session:
                self._load_benefits()
            case Action.END if self._session:
                self._finish()
            case Action.BACK if self._session and screen in (ScreenName.BENEFITS,
                                                              ScreenName.MESSAGE):
                self._cancel_pending()
                self._go(ScreenName.HOME)
            case Action.OK if screen is ScreenName.MESSAGE and not self._session:
                self._go(ScreenName.ENDING if self._card_present else ScreenName.ATTRACT)
            case Action.NEXT_PAGE if screen is ScreenName.BENEFITS:
                self._page = min(self._page + 1, max(self._page_count() - 1, 0))
            case Action.PREVIOUS_PAGE if screen is ScreenName.BENEFITS:
                self._page = max(self._page - 1, 0)
            case Action.EXTEND:
                pass  # _note_activity above has already restarted the idle timer
            case _:
                log.debug("flow: tap %s does nothing on %s", action, screen)

    def _note_activity(self) -> None:
        if self._session is not None:
            self._arm_idle()

    def _finish(self) -> None:
        """The citizen is done (or walked away): end the session, ask for the card back."""
        self._cancel_pending()
        self._end_session()
        self._go(ScreenName.ENDING if self._card_present else ScreenName.ATTRACT)

    # Edge requests --------------------------------------------------------------------------

    def _load_benefits(self) -> None:
        assert self._session is not None
        self._pending = _Pending(
            kind="benefits", request=self._next_request(), session_id=self._session.session_id
        )
        self._go(ScreenName.LOADING)
        self._submit(self._pending)

    def _submit(self, pending: _Pending) -> None:
        job: Callable[[], object]
        if pending.kind == "open":
            card, key = pending.card, pending.key
            assert card is not None and key is not None

            def job() -> SessionOpened:
                return self._edge.open_session(card, idempotency_key=key)
        else:
            session_id = pending.session_id

            def job() -> Benefits:
                return self._edge.get_benefits(session_id)

        request, kind = pending.request, pending.kind
        self._tasks.submit(job, lambda outcome: self.handle(EdgeAnswered(request, kind, outcome)))

    def _on_edge_answered(self, answer: EdgeAnswered) -> None:
        pending = self._pending
        if pending is None or answer.request != pending.request:
            self._on_stale_answer(answer)
            return
        outcome = answer.outcome
        if not outcome.ok:
            self._on_request_failed(pending, outcome.error)
            return
        self._pending = None  # drops the card data held for retries
        if isinstance(outcome.value, SessionOpened):
            self._session = Session.from_opened(outcome.value)
            self._go(ScreenName.HOME)
            self._arm_idle()
        elif isinstance(outcome.value, Benefits) and self._session is not None:
            self._session.benefits = outcome.value
            self._page = 0
            self._go(ScreenName.BENEFITS)

    def _on_stale_answer(self, answer: EdgeAnswered) -> None:
        value = answer.outcome.value
        if isinstance(value, SessionOpened):
            # The card left while the edge was answering: never show it, and close the session
            # the edge has just opened so that it cannot be used by anyone.
            log.info("flow: session opened after the card left; ending it at the edge")
            self._end_remote(value.session_id)
        else:
            log.debug("flow: stale %s answer dropped", answer.kind)

    def _on_request_failed(self, pending: _Pending, error: BaseException | None) -> None:
        if isinstance(error, EdgeUnreachable):
            log.warning("flow: edge unreachable (%s); will retry", error)
            self._retry_later(pending, Msg.EDGE_UNREACHABLE, None)
            return
        if isinstance(error, EdgeProblem):
            log.warning("flow: edge answered %s %s", error.status, error.code)
            if error.transient:
                self._retry_later(pending, message_for_problem(error), error.retry_after_s)
                return
            self._pending = None
            if error.code == SESSION_NOT_FOUND and self._session is not None:
                # The edge has already forgotten it (expired): nothing to DELETE.
                self._drop_session()
                self._show(Notice(key=Msg.SESSION_EXPIRED, tone=Tone.INFO))
                return
            self._show(Notice(
                key=message_for_problem(error),
                actions=(Action.BACK,) if self._session is not None else (),
            ))
            return
        # A bug, not an edge answer: say so plainly and keep the kiosk usable.
        log.error("flow: %s request failed unexpectedly", pending.kind, exc_info=error)
        self._pending = None
        self._show(Notice(
            key=Msg.UNEXPECTED, actions=(Action.BACK,) if self._session is not None else ()
        ))

    def _retry_later(self, pending: _Pending, message: Msg, retry_after_s: float | None) -> None:
        if pending.retries >= self._config.max_retries:
            log.warning("flow: %s still failing after %d retries; giving up", pending.kind,
                        pending.retries)
            self._pending = None
            # OK leads to "please take your card" (identifying); with a session, back home.
            self._show(Notice(
                key=Msg.TRY_LATER,
                actions=(Action.BACK,) if self._session is not None else (Action.OK,),
            ))
            return
        pending.retries += 1
        delay = self._config.backoff.delay(pending.retries, retry_after_s)
        request = pending.request
        pending.timer = self._scheduler.call_later(delay, lambda: self.handle(RetryDue(request)))
        self._show(Notice(
            key=message,
            tone=Tone.WAIT,
            retrying=True,
            actions=(Action.BACK,) if pending.kind == "benefits" else (),
        ))

    def _on_retry_due(self, request: int) -> None:
        pending = self._pending
        if pending is None or pending.request != request:
            return
        pending.timer = None
        log.info("flow: retrying %s (retry %d)", pending.kind, pending.retries)
        self._submit(pending)

    def _cancel_pending(self) -> None:
        if self._pending is not None and self._pending.timer is not None:
            self._pending.timer.cancel()
        self._pending = None

    def _next_request(self) -> int:
        self._requests += 1
        return self._requests

    # Session end ----------------------------------------------------------------------------

    def _end_session(self) -> None:
        """End the session here (wipe) and at the edge (best effort, its own key)."""
        if self._session is None:
            return
        session_id = self._session.session_id
        self._drop_session()
        self._end_remote(session_id)

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.wipe()
        self._session = None
        self._page = 0
        self._disarm_idle()

    def _end_remote(self, session_id: str) -> None:
        key = self._new_key()

        def job() -> None:
            self._edge.end_session(session_id, idempotency_key=key)

        def done(outcome: Outcome[None]) -> None:
            if not outcome.ok:
                # Harmless: the edge expires sessions by itself (expires_at).
                log.warning("flow: ending the session at the edge failed (%s)", outcome.error)

        self._tasks.submit(job, done)

    # Idle timeout (WCAG 2.2.1: warn, let the citizen extend) --------------------------------

    def _arm_idle(self) -> None:
        self._disarm_idle()
        generation = self._idle_generation
        quiet = self._config.idle_timeout_s - self._config.idle_warning_s
        self._idle_timer = self._scheduler.call_later(
            quiet, lambda: self.handle(IdleWarning(generation))
        )

    def _disarm_idle(self) -> None:
        self._idle_generation += 1
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = None
        self._idle_left = None

    def _on_idle_warning(self) -> None:
        if self._session is None:
            return
        self._idle_left = math.ceil(self._config.idle_warning_s)
        self._tick_idle()

    def _tick_idle(self) -> None:
        generation = self._idle_generation
        self._idle_timer = self._scheduler.call_later(
            1.0, lambda: self.handle(IdleTick(generation))
        )

    def _on_idle_tick(self) -> None:
        if self._idle_left is None:
            return
        self._idle_left -= 1
        if self._idle_left > 0:
            self._tick_idle()
            return
        log.info("flow: idle timeout; ending the session")
        self._finish()

    # Screens --------------------------------------------------------------------------------

    def _go(self, screen: ScreenName) -> None:
        self._screen, self._notice = screen, None
        if screen is ScreenName.ATTRACT:
            self._page = 0

    def _show(self, notice: Notice) -> None:
        self._screen, self._notice = ScreenName.MESSAGE, notice

    def _sync_message_timer(self) -> None:
        """Advice about a card that is already out stays `message_hold_s`, then attract."""
        wanted = (
            self._screen is ScreenName.MESSAGE
            and self._notice is not None
            and self._notice.keep_after_removal
            and not self._card_present
        )
        if wanted and self._message_timer is None:
            generation = self._message_generation
            self._message_timer = self._scheduler.call_later(
                self._config.message_hold_s, lambda: self.handle(MessageExpired(generation))
            )
        elif not wanted and self._message_timer is not None:
            self._cancel_message_timer()

    def _cancel_message_timer(self) -> None:
        self._message_generation += 1
        if self._message_timer is not None:
            self._message_timer.cancel()
        self._message_timer = None

    def _page_count(self) -> int:
        if self._session is None or self._session.benefits is None:
            return 0
        payments = len(self._session.benefits.pension_payments)
        return max(1, math.ceil(payments / self._config.page_size))

    def _build_view(self) -> View:
        session = self._session
        benefits = session.benefits if session is not None else None
        as_of = session.as_of if session is not None else None
        stale = session.stale if session is not None else False
        if self._screen is ScreenName.BENEFITS and benefits is not None:
            as_of, stale = benefits.as_of, benefits.stale
        return View(
            screen=self._screen,
            notice=self._notice,
            session_active=session is not None,
            display_name=session.display_name if session is not None else "",
            as_of=as_of,
            stale=stale,
            benefits=benefits if self._screen is ScreenName.BENEFITS else None,
            page=self._page,
            page_count=self._page_count(),
            idle_seconds_left=self._idle_left,
            reader_available=self._reader_available,
        )

    def _publish(self, before: View, event: object) -> None:
        self._view = self._build_view()
        if self._view == before:
            return
        if self._view.screen != before.screen or self._view.notice != before.notice:
            log.info(
                "flow: %s -> %s%s on %s", before.screen, self._view.screen,
                f" ({self._view.notice.key})" if self._view.notice else "", type(event).__name__,
            )
        for listener in list(self._listeners):
            try:
                listener(self._view)
            except Exception:
                log.exception("flow: view listener failed")
