"""The flow's core: device events, taps and edge answers in, a `View` out. No Kivy, no threads.

It owns what every way of identifying and every journey share: the session lifecycle, the idle
timeout, notices, retries, the stale guard and ending sessions at the edge. Identification
methods (kiosk.flow.identify) turn device events into intents; journeys (kiosk.flow.journeys)
are descriptors with a step machine each, which the core hands the taps on their screens and
the answers to their calls, and whose `shown()` it displays. Edge calls leave as frozen effects
(kiosk.flow.effects) that the `EffectRunner` performs after each step; delays go to the
`Scheduler`.

Each edge request carries a number, and an answer whose number is no longer the pending one is
stale: it never changes the screen, and a stale *opened session* is ended at the edge at once,
so that a card pulled mid-identify cannot leave a live session behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kiosk.edge.errors import SESSION_NOT_FOUND, EdgeProblem, EdgeUnreachable
from kiosk.edge.keys import new_idempotency_key
from kiosk.edge.models import Credential, SessionOpened
from kiosk.flow.effects import Effect, EndRemote, JourneyCall, OpenSession
from kiosk.flow.events import (
    Activity,
    BusyDue,
    EdgeAnswered,
    FlowEvent,
    IdleTick,
    IdleWarning,
    MaintenanceSet,
    MessageExpired,
    PreferencesExpired,
    RetryDue,
    Tap,
)
from kiosk.flow.identify import METHODS, IdentifyMethod
from kiosk.flow.identify.base import Availability, Begin, Failed, Identified, Intent, Withdrawn
from kiosk.flow.journeys import JOURNEYS, Capabilities, Journey
from kiosk.flow.journeys.base import Call, Entry, JourneyContext, Leave, Shown, Step, Steps
from kiosk.flow.messages import Msg, message_for_problem
from kiosk.flow.ports import EdgePort, Scheduler, TaskRunner
from kiosk.flow.prefs import PREFERENCE_ACTIONS, Mode, Preferences
from kiosk.flow.retry import Pending, RetryPolicy
from kiosk.flow.runtime import EffectRunner
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.session import OperatorSession, Session
from kiosk.flow.timers import HoldTimer, IdleCountdown
from kiosk.flow.view import Content, Notice, Tone, View

log = logging.getLogger(__name__)

Listener = Callable[[View], None]


@dataclass
class _Active:
    """The journey in progress and its step machine (which holds its citizen data)."""

    journey: Journey
    steps: Steps
    shown_once: bool = False  # a step has been on screen (BACK from a problem returns to it)


@dataclass(frozen=True)
class _BusyWait:
    """A request whose busy screen is not shown yet: `screen` stays until `busy` is due."""

    request: int
    screen: ScreenName  # what was on screen when it left (and still is, while it waits)
    notice: Notice | None
    busy: ScreenName


@dataclass(frozen=True)
class FlowConfig:
    idle_timeout_s: float = 90.0
    idle_warning_s: float = 30.0
    message_hold_s: float = 20.0
    page_size: int = 6
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # What every citizen starts with (the device file's theme, language, sound).
    defaults: Preferences = field(default_factory=Preferences)
    # Elder mode waits longer before the warning and counts the warning down longer: both
    # times above are normal mode's, multiplied by this (>= 1, so the warning stays >= 20 s).
    elder_idle_factor: float = 1.0
    normal_muted: bool = False  # normal mode starts without voice (a device setting)
    page_sizes: Mapping[str, int] = field(default_factory=dict)  # rows a page, by mode
    # A request made from a screen without the journey's data on it (home, attract, the card
    # being read) keeps that screen this long before its busy screen shows: an answer within
    # it goes straight to the result, without a loading screen flashing by (and the frames
    # it costs). Its taps meanwhile start nothing (a request is pending). 0: at once.
    busy_delay_s: float = 0.0


class KioskFlow:
    """Drive with `handle(event)`; read `view`; `subscribe` to be told when it changes."""

    def __init__(
        self,
        edge: EdgePort,
        tasks: TaskRunner,
        scheduler: Scheduler,
        config: FlowConfig | None = None,
        new_key: Callable[[], str] = new_idempotency_key,
        methods: Sequence[IdentifyMethod] = METHODS,
        journeys: Sequence[Journey] = JOURNEYS,
        capabilities: Capabilities = frozenset(),
        perform: Callable[[Effect], None] | None = None,
    ) -> None:
        """`perform` replaces the EffectRunner (tests that read the effects a step produced)."""
        self._scheduler = scheduler
        self._config = config or FlowConfig()
        self._new_key = new_key
        self._methods = {m.key: m for m in methods}
        self._journeys = {j.key: j for j in journeys}
        offered = [j for j in journeys if j.has_fn(capabilities)]
        self._offered = tuple(j.key for j in offered if j.entry is Entry.HOME)
        self._walk_up = tuple(j.key for j in offered if j.entry is Entry.ATTRACT)
        self._on_refusal = {j.key: j.offer_on for j in offered if j.entry is Entry.REFUSAL}
        self._perform_one = perform or EffectRunner(edge, tasks, self.handle).perform
        self._effects: list[Effect] = []
        self._listeners: list[Listener] = []

        self._screen = ScreenName.ATTRACT
        self._notice: Notice | None = None
        self._operator = OperatorSession()
        self._method: str | None = None  # the method of the citizen being served
        self._begun: Begin | None = None  # identifying has begun, not yet Identified
        self._token_present = False  # e.g. the card is still in its slot
        # What the token in hand proves (Identified.token), while it is present: offered to a
        # journey the refusal of that token allows (reversing a loss report with the card).
        self._token: Credential | None = None
        # A method without presence (a QR scanner, an ID card reader) is offered only once its
        # device has said it is there: a terminal without one never invites a scan.
        self._unavailable: set[str] = {m.key for m in methods if not m.holds_presence}
        self._pending: Pending | None = None
        self._requests = 0
        self._waiting: _BusyWait | None = None  # the pending request's busy screen, not shown
        self._active: _Active | None = None
        # Maintenance (the fleet's word): the operator's reason while on, None while off.
        self._maintenance: str | None = None

        self._prefs = self._config.defaults
        self._idle = IdleCountdown(scheduler, self.handle, *self._idle_timing(self._prefs.mode))
        self._hold = HoldTimer(scheduler, self.handle, self._config.message_hold_s)
        # A choice made on the attract screen by someone who never started lapses after as
        # long as a quiet session would.
        self._forget = HoldTimer(scheduler, self.handle, self._config.idle_timeout_s,
                                 PreferencesExpired)
        self._busy = HoldTimer(scheduler, self.handle, self._config.busy_delay_s, BusyDue)

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
        """The live citizen session, if any (in memory only; for the UI and tests)."""
        return self._session

    @property
    def prefs(self) -> Preferences:
        return self._prefs

    @property
    def idle_timing(self) -> tuple[float, float]:
        """(timeout, warning) seconds in effect now (elder mode waits longer)."""
        return self._idle.timing

    @property
    def operator_session(self) -> OperatorSession:
        return self._operator

    @property
    def _session(self) -> Session | None:
        return self._operator.citizen

    @property
    def maintenance(self) -> tuple[bool, bool]:
        """(on, pending): pending while on and not shown yet, because a citizen is served."""
        on = self._maintenance is not None
        return on, on and not self._maintenance_shown

    @property
    def serving_citizen(self) -> bool:
        """Anything but the idle attract screen or the out-of-service notice is on screen: it
        may be a citizen's (screenshots are refused then)."""
        return not (self._at_rest or self._maintenance_shown)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def handle(self, event: object) -> None:
        """Apply one event. Call on the flow's thread only."""
        before = self._view
        if self._maintenance_shown and (isinstance(event, Tap)
                                        or not isinstance(event, FlowEvent)):
            self._while_out_of_service(event)  # taps and device events
        elif isinstance(event, FlowEvent):
            self._on_flow_event(event)
        else:
            self._on_device_event(event)
        self._enforce_maintenance()
        self._drop_stale_wait()
        self._hold.want(self._advice_outlives_token())
        self._prefs_at_rest(before)
        self._publish(before, event)
        self._perform()

    def close(self) -> None:
        """The app is stopping: end any session at the edge (best effort) and drop everything."""
        self._cancel_pending()
        self._end_session()
        self._hold.cancel()
        self._forget.cancel()
        self._token_present = False
        self._screen, self._notice = ScreenName.ATTRACT, None
        self._set_prefs(self._config.defaults)
        self._view = self._build_view()
        self._perform()

    def _perform(self) -> None:
        effects, self._effects = self._effects, []
        for effect in effects:
            self._perform_one(effect)

    # Identification -------------------------------------------------------------------------

    def _on_device_event(self, event: object) -> None:
        for method in self._methods.values():
            intent = method.interpret(event)
            if intent is not None:
                self._on_intent(method, intent)
                return
        log.debug("flow: %s ignored", type(event).__name__)

    def _on_intent(self, method: IdentifyMethod, intent: Intent) -> None:
        match intent:
            case Begin():
                self._on_begin(method, intent)
            case Identified(credential=credential, token=token):
                self._on_identified(method, credential, token)
            case Failed(message=message, outlives_token=outlives, offer_other_ways=others):
                if not method.holds_presence and (self._busy_with_other(method)
                                                  or self._engaged):
                    # A stray code held to the scanner must not cover a citizen's service.
                    log.info("flow: %s failed while serving a citizen; ignored", method.key)
                    return
                log.info("flow: identifying by %s failed (%s)", method.key, message)
                self._begun = None
                self._cancel_pending()
                self._show(Notice(key=message, tone=Tone.PROBLEM,
                                  actions=(Action.OK,) if outlives else (),
                                  keep_after_removal=outlives,
                                  ways=self._other_ways(method) if others else ()))
            case Withdrawn(mid_read_message=mid_read):
                self._on_withdrawn(method, mid_read)
            case Availability(available=available):
                self._on_availability(method, available)

    def _on_begin(self, method: IdentifyMethod, begin: Begin) -> None:
        # A new citizen always starts afresh, whatever was left over (a lost removal event).
        self._cancel_pending()
        self._end_session()
        self._method, self._begun = method.key, begin
        self._token_present = method.holds_presence
        self._token = None
        self._go(begin.screen)

    def _on_identified(self, method: IdentifyMethod, credential: Credential,
                       token: Credential | None = None) -> None:
        if method.holds_presence:
            begun = self._begun
            if self._method != method.key or begun is None or self._screen is not begun.screen:
                log.warning("flow: %s identified while on %s; ignored", method.key, self._screen)
                return
        elif self._busy_with_other(method):
            # A scan (or an ID card laid down) while a card holder is served or a walk-up
            # journey runs: not a new citizen taking over, it may be a passer-by's phone.
            self._offer_to_journey(credential)
            return
        elif self._pending is not None or self._session is not None:
            self._cancel_pending()  # a new citizen: the one before is done
            self._end_session()
        self._method, self._begun = method.key, None
        self._token = token if method.holds_presence else None
        self._pending = Pending(OpenSession(
            request=self._next_request(), key=self._new_key(), method=method.key,
            credential=credential,
        ))
        self._go_busy(ScreenName.IDENTIFYING, self._pending.request)
        self._effects.append(self._pending.effect)

    def _busy_with_other(self, method: IdentifyMethod) -> bool:
        """Someone is being served in a way `method` (without presence) must not cut into: a
        card in its slot with its session (or its read, or its opening) going on, or a
        journey without a session (the loss report)."""
        if self._walking_up:
            return True
        card_in_use = self._token_present and (
            self._session is not None or self._pending is not None or self._begun is not None)
        return card_in_use and self._method != method.key

    def _offer_to_journey(self, credential: Credential) -> None:
        """A journey in progress may take an identity read on the side (the loss report takes
        the ID number from the resident ID card); otherwise the read is dropped."""
        active = self._active
        take = getattr(active.steps, "on_credential", None) if active is not None else None
        if active is None or take is None or self._pending is not None:
            log.info("flow: %s identity ignored while serving another citizen",
                     credential.method)
            return
        self._apply(take(credential))

    def _other_ways(self, method: IdentifyMethod) -> tuple[str, ...]:
        """The ways of identifying besides `method` whose devices are here now."""
        return tuple(key for key in self._methods
                     if key != method.key and key not in self._unavailable)

    def _on_withdrawn(self, method: IdentifyMethod, mid_read: str | None) -> None:
        if self._method not in (None, method.key) or self._walking_up:
            return  # not the token this citizen's session depends on
        was_reading = self._begun is not None and self._screen is self._begun.screen
        self._token_present, self._token = False, None
        self._begun = None
        self._cancel_pending()
        self._end_session()
        if was_reading and mid_read is not None:  # pulled before a read result was reported
            self._show(Notice(key=mid_read, actions=(Action.OK,), keep_after_removal=True))
        elif not (self._notice is not None and self._notice.keep_after_removal):
            self._go(ScreenName.ATTRACT)

    def _on_availability(self, method: IdentifyMethod, available: bool) -> None:
        if available == (method.key not in self._unavailable):
            return
        if available:
            self._unavailable.discard(method.key)
            return
        self._unavailable.add(method.key)
        if self._method not in (None, method.key) or self._walking_up:
            log.info("flow: %s unavailable", method.key)
            return
        # Without the device we cannot see the token leave: end the session now rather than
        # leave a citizen's data on screen for whoever comes next.
        if self._session is not None or self._pending is not None or self._token_present:
            log.warning("flow: %s unavailable; ending the session in progress", method.key)
        else:
            log.info("flow: %s unavailable", method.key)
        self._token_present, self._token = False, None
        self._begun = None
        self._cancel_pending()
        self._end_session()
        if not (self._notice is not None and self._notice.keep_after_removal):
            self._go(ScreenName.ATTRACT)

    # Taps, activity, timers -----------------------------------------------------------------

    def _on_flow_event(self, event: FlowEvent) -> None:
        match event:
            case Tap():
                self._on_tap(event)
            case Activity() if self._idle.seconds_left is None:
                # While the warning shows, only its button extends: a stray touch on the dimmed
                # screen must not make the warning vanish under the citizen's finger.
                self._note_activity()
            case EdgeAnswered():
                self._on_edge_answered(event)
            case RetryDue() | BusyDue():
                self._on_request_timer(event)
            case IdleWarning(generation=gen) if gen == self._idle.generation and self._engaged:
                self._idle.warn()
            case IdleTick(generation=gen) if gen == self._idle.generation:
                if self._idle.tick():
                    log.info("flow: idle timeout; ending the session")
                    self._finish()
            case MessageExpired(generation=gen) if gen == self._hold.generation:
                self._go(ScreenName.ATTRACT)
            case PreferencesExpired(generation=gen) if gen == self._forget.generation:
                log.info("flow: choices made on the attract screen lapsed")
                self._set_prefs(self._config.defaults)
            case MaintenanceSet(on=on, reason=reason):
                self._maintenance = reason if on else None
                log.info("flow: maintenance %s", "on" if on else "off")
            case _:
                log.debug("flow: stale %s ignored", type(event).__name__)

    def _on_tap(self, tap: Tap) -> None:
        if tap.action in PREFERENCE_ACTIONS:  # on any screen, before a journey sees the tap
            self._forget.cancel()  # a new choice at rest: its lapse counts from now
            self._set_prefs(self._prefs.after(tap.action,
                                              normal_muted=self._config.normal_muted))
            self._note_activity()  # after the mode's new timing is set
            return
        self._note_activity()
        screen, active = self._screen, self._active
        on_steps = (active is not None and self._pending is None
                    and screen is active.steps.shown().screen)
        match tap.action:
            case Action.START_JOURNEY if self._may_start(tap.journey):
                assert tap.journey is not None
                self._start_journey(self._journeys[tap.journey])
            case Action.END if self._engaged:
                self._finish()
            case _ if on_steps:
                assert active is not None
                self._apply(active.steps.on_tap(tap))
            case Action.BACK if self._engaged and screen is ScreenName.MESSAGE:
                self._cancel_pending()
                if active is not None and active.shown_once:
                    self._go(active.steps.shown().screen)  # the step the problem came from
                else:
                    self._leave_journey()
            case Action.OK if screen is ScreenName.MESSAGE and not self._session:
                self._drop_journey()
                self._idle.disarm()
                self._go(ScreenName.ENDING if self._token_present else ScreenName.ATTRACT)
            case Action.EXTEND:
                pass  # _note_activity above has already restarted the idle timer
            case _:
                log.debug("flow: tap %s does nothing on %s", tap.action, screen)

    def _may_start(self, key: str | None) -> bool:
        if self._active is not None or self._pending is not None:
            return False
        if self._screen is ScreenName.HOME and self._session is not None:
            return key in self._offered_now()
        notice = self._notice
        if self._screen is ScreenName.MESSAGE and notice is not None and key is not None:
            return (notice.journey == key and self._session is None and self._token is not None
                    and key in self._on_refusal)
        # Walk-up journeys (a lost card) need no card: never while one is in the reader.
        return (self._screen is ScreenName.ATTRACT and self._session is None
                and not self._token_present and self._begun is None and key in self._walk_up)

    def _offered_now(self) -> tuple[str, ...]:
        """The services for the citizen in session (some need the card it was opened by)."""
        session = self._session
        method = session.method if session is not None else None
        return tuple(key for key in self._offered if self._journeys[key].serves(method))

    @property
    def _engaged(self) -> bool:
        """Someone is being served: a session, or a journey that needs none."""
        return self._session is not None or self._active is not None

    def _note_activity(self) -> None:
        if self._engaged:
            self._idle.arm()

    # Preferences ------------------------------------------------------------------------------

    def _idle_timing(self, mode: Mode) -> tuple[float, float]:
        factor = self._config.elder_idle_factor if mode == "elder" else 1.0
        return self._config.idle_timeout_s * factor, self._config.idle_warning_s * factor

    def _set_prefs(self, prefs: Preferences) -> None:
        if prefs.mode != self._prefs.mode:
            log.info("flow: %s mode", prefs.mode)
            self._idle.retime(*self._idle_timing(prefs.mode))  # from the next arm() on
        if prefs.language != self._prefs.language:
            log.info("flow: language %s", prefs.language)
        self._prefs = prefs

    def _prefs_at_rest(self, before: View) -> None:
        """Back at rest on the attract screen (card out, idle wipe, a walk-up journey done):
        the device's defaults again, so the next person starts clean. A choice made on the
        attract screen itself carries into the session that starts next."""
        if self._screen is ScreenName.ATTRACT and before.screen is not ScreenName.ATTRACT:
            self._forget.cancel()
            self._set_prefs(self._config.defaults)
        self._forget.want(self._at_rest and self._prefs != self._config.defaults)

    def _finish(self) -> None:
        """The citizen is done (or walked away): end the session, ask for the token back."""
        self._cancel_pending()
        self._end_session()
        self._go(ScreenName.ENDING if self._token_present else ScreenName.ATTRACT)

    # Edge requests --------------------------------------------------------------------------

    def _start_journey(self, journey: Journey) -> None:
        session = self._session
        steps = journey.start(JourneyContext(
            session_id=session.session_id if session is not None else None,
            new_key=self._new_key,
            page_size=self._config.page_sizes.get(self._prefs.mode, self._config.page_size),
            token=self._token if journey.entry is Entry.REFUSAL else None,
            method=session.method if session is not None else None,
        ))
        self._active = _Active(journey, steps)
        if session is None:
            self._idle.arm()  # nobody's card holds this journey: idle ends it
        self._apply(steps.begin())

    def _apply(self, step: Step) -> None:
        """Do what the journey's step machine asked for."""
        active = self._active
        assert active is not None
        match step:
            case Call():
                self._pending = Pending(JourneyCall(
                    request=self._next_request(), journey=active.journey.key, call=step,
                ))
                if active.shown_once:
                    self._go(step.busy)  # from a step's own screen, whose data it may change
                else:
                    self._go_busy(step.busy, self._pending.request)
                self._effects.append(self._pending.effect)
            case Leave():
                self._leave_journey()
            case None:
                active.shown_once = True
                self._go(active.steps.shown().screen)

    def _leave_journey(self) -> None:
        """Wipe the journey's data; back to the services (or attract, with no session)."""
        self._drop_journey()
        if self._session is not None:
            self._go(ScreenName.HOME)
        else:
            self._idle.disarm()
            self._go(ScreenName.ENDING if self._token_present else ScreenName.ATTRACT)

    def _drop_journey(self) -> None:
        active, self._active = self._active, None
        if active is None:
            return
        if self._pending is not None and isinstance(self._pending.effect, JourneyCall):
            self._cancel_pending()  # its answer, if any, is now stale
        active.steps.wipe()

    @property
    def _walking_up(self) -> bool:
        """A journey without a card is in progress: card events that are not a new card
        (a stray removal, the reader going away) do not concern it."""
        return (self._active is not None and self._active.journey.entry is Entry.ATTRACT
                and self._session is None and self._begun is None and not self._token_present)

    def _on_edge_answered(self, answer: EdgeAnswered) -> None:
        pending = self._pending
        if pending is None or answer.request != pending.request:
            self._on_stale_answer(answer)
            return
        outcome = answer.outcome
        if not outcome.ok:
            self._on_request_failed(pending, outcome.error)
            return
        self._pending = None  # drops the credential held for retries
        effect = pending.effect
        if isinstance(effect, OpenSession) and isinstance(outcome.value, SessionOpened):
            self._operator.begin(Session.from_opened(outcome.value, effect.method))
            self._go(ScreenName.HOME)
            self._idle.arm()
        elif (isinstance(effect, JourneyCall) and self._active is not None
              and self._active.journey.key == effect.journey):
            self._apply(self._active.steps.on_answer(effect.call, outcome.value))

    def _on_stale_answer(self, answer: EdgeAnswered) -> None:
        value = answer.outcome.value
        if isinstance(value, SessionOpened):
            # The citizen left while the edge was answering: never show it, and close the
            # session the edge has just opened so that it cannot be used by anyone.
            log.info("flow: session opened after the citizen left; ending it at the edge")
            self._end_remote(value.session_id)
        else:
            log.debug("flow: stale %s answer dropped", answer.kind)

    def _on_request_failed(self, pending: Pending, error: BaseException | None) -> None:
        with_session = (Action.BACK,) if self._engaged else ()
        effect = pending.effect
        submitting = isinstance(effect, JourneyCall) and effect.call.submits
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
            if isinstance(effect, OpenSession) and self._on_open_refused(effect, error):
                return
            if error.code == SESSION_NOT_FOUND and self._session is not None:
                # The edge has already forgotten it (expired): nothing to DELETE.
                self._drop_session()
                self._show(Notice(key=Msg.SESSION_EXPIRED, tone=Tone.INFO))
                return
            message = message_for_problem(error, submitting=submitting)
            self._show(Notice(key=message, actions=with_session,
                              journey=self._offer_for(effect, message)))
            return
        # A bug, not an edge answer: say so plainly and keep the kiosk usable.
        log.error("flow: %s request failed unexpectedly", pending.kind, exc_info=error)
        self._pending = None
        self._show(Notice(key=Msg.UNEXPECTED, actions=with_session))

    def _on_open_refused(self, effect: OpenSession, problem: EdgeProblem) -> bool:
        """The method's own words for a refused credential (a used QR token), and for a method
        without presence the notice leaves by itself: nobody pulls a card to end it."""
        method = self._methods.get(effect.method)
        if method is None or method.holds_presence:
            return False
        message = method.message_for_problem(problem) or message_for_problem(problem)
        self._show(Notice(key=message, actions=(Action.OK,), keep_after_removal=True,
                          ways=self._other_ways(method)))
        return True

    def _offer_for(self, effect: object, message: str) -> str | None:
        """The journey a refused token may take instead (a lost card: reverse the report)."""
        if not isinstance(effect, OpenSession) or self._token is None:
            return None
        return next((key for key, on in self._on_refusal.items() if message in on), None)

    def _retry_later(self, pending: Pending, message: Msg, retry_after_s: float | None) -> None:
        delay = self._config.retry.next_delay(pending.retries, retry_after_s)
        if delay is None:
            log.warning("flow: %s still failing after %d retries; giving up", pending.kind,
                        pending.retries)
            self._pending = None
            # OK leads to "please take your card" (identifying); with a session, back home.
            self._show(Notice(
                key=Msg.TRY_LATER,
                actions=(Action.BACK,) if self._engaged else (Action.OK,),
                keep_after_removal=not self._engaged and not self._token_present,
            ))
            return
        pending.retries += 1
        request = pending.request
        pending.timer = self._scheduler.call_later(delay, lambda: self.handle(RetryDue(request)))
        self._show(Notice(
            key=message,
            tone=Tone.WAIT,
            retrying=True,
            # A submission retried keeps its key: going back and confirming again is safe.
            actions=(Action.BACK,) if isinstance(pending.effect, JourneyCall) else (),
        ))

    def _on_request_timer(self, event: RetryDue | BusyDue) -> None:
        if isinstance(event, RetryDue):
            self._on_retry_due(event.request)
        elif event.generation == self._busy.generation and self._waiting is not None:
            busy, self._waiting = self._waiting.busy, None  # still due: _drop_stale_wait
            self._busy.cancel()
            self._go(busy)

    def _on_retry_due(self, request: int) -> None:
        pending = self._pending
        if pending is None or pending.request != request:
            return
        pending.timer = None
        log.info("flow: retrying %s (retry %d)", pending.kind, pending.retries)
        self._effects.append(pending.effect)  # the same effect: the same Idempotency-Key

    def _go_busy(self, busy: ScreenName, request: int) -> None:
        """Show `busy` for request `request`: at once, or once busy_delay_s has passed
        without an answer (the screen on now stays meanwhile, see FlowConfig)."""
        self._waiting = None
        self._busy.cancel()
        if self._config.busy_delay_s <= 0 or self._screen is busy:
            self._go(busy)
            return
        self._waiting = _BusyWait(request, self._screen, self._notice, busy)
        self._busy.want(True)

    def _drop_stale_wait(self) -> None:
        """The busy screen is no longer due once its request is answered or dropped, or the
        screen changed meanwhile (a retry notice, the session ended)."""
        waiting, pending = self._waiting, self._pending
        if waiting is None:
            return
        if (pending is None or pending.request != waiting.request
                or (self._screen, self._notice) != (waiting.screen, waiting.notice)):
            self._waiting = None
            self._busy.cancel()

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._pending = None

    def _next_request(self) -> int:
        self._requests += 1
        return self._requests

    # Session end ----------------------------------------------------------------------------

    def _end_session(self) -> None:
        """End the session here (wipe) and at the edge (best effort, its own key)."""
        self._drop_journey()
        if self._session is None:
            self._idle.disarm()  # a walk-up journey's
            return
        session_id = self._session.session_id
        self._drop_session()
        self._end_remote(session_id)

    def _drop_session(self) -> None:
        self._drop_journey()
        self._operator.end_citizen()
        self._idle.disarm()

    def _end_remote(self, session_id: str) -> None:
        self._effects.append(EndRemote(session_id, self._new_key()))

    # Maintenance ----------------------------------------------------------------------------

    @property
    def _maintenance_shown(self) -> bool:
        notice = self._notice
        return (self._screen is ScreenName.MESSAGE and notice is not None
                and notice.key == Msg.MAINTENANCE)

    @property
    def _at_rest(self) -> bool:
        """Nobody is being served: the attract screen, no token in hand, nothing under way."""
        return (self._screen is ScreenName.ATTRACT and self._session is None
                and self._active is None and self._pending is None and self._begun is None
                and not self._token_present)

    def _enforce_maintenance(self) -> None:
        """Show the out-of-service notice the moment nobody is served; leave it when off."""
        reason = self._maintenance
        if reason is None:
            if self._maintenance_shown:
                self._go(ScreenName.ATTRACT)
            return
        notice = self._notice
        if self._at_rest or (self._maintenance_shown and notice is not None
                             and notice.detail != reason):
            self._show(Notice(key=Msg.MAINTENANCE, tone=Tone.INFO, detail=reason))

    def _while_out_of_service(self, event: object) -> None:
        """Out of service, nothing citizen-facing works: taps and new tokens are ignored, but
        the devices' presence is still followed (a pulled card, a scanner unplugged)."""
        if isinstance(event, Tap):
            log.info("flow: tap %s ignored: out of service", event.action)
            return
        for method in self._methods.values():
            intent = method.interpret(event)
            if isinstance(intent, Availability):
                self._on_availability(method, intent.available)
                return
            if intent is not None:
                log.info("flow: %s ignored: out of service", type(intent).__name__)
                return

    # Screens --------------------------------------------------------------------------------

    def _go(self, screen: ScreenName) -> None:
        self._screen, self._notice = screen, None

    def _show(self, notice: Notice) -> None:
        self._screen, self._notice = ScreenName.MESSAGE, notice

    def _advice_outlives_token(self) -> bool:
        """Advice about a token that is already out stays `message_hold_s`, then attract."""
        return (
            self._screen is ScreenName.MESSAGE
            and self._notice is not None
            and self._notice.keep_after_removal
            and not self._token_present
        )

    def _build_view(self) -> View:
        session = self._session
        as_of = session.as_of if session is not None else None
        stale = session.stale if session is not None else False
        content = None
        active = self._active
        if active is not None:
            shown: Shown = active.steps.shown()
            if self._screen is shown.screen:
                content = Content(active.journey.key, shown.data, shown.page, shown.page_count)
                if shown.fresh:
                    as_of, stale = shown.as_of, shown.stale
        walk_up = (self._walk_up if self._screen is ScreenName.ATTRACT and session is None
                   and not self._token_present else ())
        return View(
            screen=self._screen,
            notice=self._notice,
            session_active=session is not None,
            display_name=session.display_name if session is not None else "",
            as_of=as_of,
            stale=stale,
            content=content,
            journeys=self._offered_now() if session is not None else (),
            walk_up=walk_up,
            idle_seconds_left=self._idle.seconds_left,
            unavailable=frozenset(self._unavailable),
            methods=tuple(self._methods),
            session_method=session.method if session is not None else None,
            identifying_by=self._method if self._screen is ScreenName.IDENTIFYING else None,
            prefs=self._prefs,
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

