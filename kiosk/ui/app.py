"""The Kivy App: builds the screens, connects the peripherals, the flow and the status server.

Import only after kiosk.ui.boot.prepare_environment() and configure_kivy() (kiosk.runtime
does this). Dependencies are passed in, so the window tests can run it with fakes.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.widget import Widget

from common.backoff import Backoff
from common.clock import utc_now
from common.version import __version__
from drivers.base import HealthChanged
from drivers.card.interface import CardReader
from kiosk.card_pin import card_pin_from
from kiosk.certify_kit import kit_from
from kiosk.edge.credentials import DeviceCredentials
from kiosk.field import kit as field
from kiosk.field.credentials import StaffCredentials
from kiosk.field.edge_calls import FieldQueue, field_port
from kiosk.field.queue_poll import QueuePoller
from kiosk.field.session import StaffSessions
from kiosk.flow import Activity, FlowConfig, KioskFlow, RetryPolicy, Tap, pin_kit, print_kit
from kiosk.flow.certify_kit import capabilities_of, install_kit, installed_kit
from kiosk.flow.events import MaintenanceSet
from kiosk.flow.ports import EdgePort, Scheduler
from kiosk.flow.prefs import Preferences, device_defaults
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.peripherals import Peripherals, as_peripherals
from kiosk.printing import print_kit_from
from kiosk.screen_watch import ScreenWatch
from kiosk.settings import KioskSettings
from kiosk.status_document import build_status
from kiosk.status_server import StatusServer
from kiosk.ui import boot
from kiosk.ui.automation import UiAutomation
from kiosk.ui.bridge import HardwareBridge
from kiosk.ui.chrome import Footer, Header, IdleOverlay
from kiosk.ui.control import UiControl
from kiosk.ui.frames import after_frames, after_settled, capture, unique_path
from kiosk.ui.screens import SCREENS, KioskScreen, UiContext
from kiosk.ui.screens.field_banner import make_banner
from kiosk.ui.staff_exit_panel import staff_exit_panel
from kiosk.ui.tap_guard import TapGuard
from kiosk.ui.theme import page_sizes, rgba, theme_named
from kiosk.voice import Tunable, Voice, make_voice
from kiosk.workers import WorkerPool

log = logging.getLogger(__name__)

_SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")
# The loading (identifying) screen shows only for an edge slower than this (FlowConfig): a
# usual answer (20-100 ms) goes straight to its result, no flash, and one frame fewer.
BUSY_DELAY_S = 0.18
# After the attract screen's first frame: collect start-up's garbage, then freeze what is left
# (gc.freeze), so that later full collections, which run on the UI thread, no longer walk the
# ~25 screens built at start (otherwise 120-160 ms each, every few seconds of use).
HEAP_SETTLE_S = 1.0


def _animations(settings: KioskSettings) -> bool:
    if settings.animations != "auto":
        return settings.animations == "on"
    from kivy.graphics.opengl import GL_RENDERER, glGetString

    renderer = glGetString(GL_RENDERER).decode(errors="replace").lower()
    software = any(name in renderer for name in _SOFTWARE_RENDERERS)
    log.info("GL renderer %r: animations %s", renderer, "off" if software else "on")
    return not software


class ClockScheduler:
    """kiosk.flow.ports.Scheduler on Kivy's Clock (callbacks run on the UI thread)."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Any:
        return Clock.schedule_once(lambda _dt: callback(), delay_s)


def post_to_ui(fn: Callable[[], None]) -> None:
    """Run `fn` on the UI thread as soon as it is free (at once under the "free_all" clock
    kiosk.ui.boot sets, else at the next frame); safe from any thread."""
    schedule = getattr(Clock, "schedule_once_free", Clock.schedule_once)
    schedule(lambda _dt: fn(), 0)


class KioskApp(App):
    title = "社会保障自助服务"
    use_kivy_settings = False

    def __init__(
        self,
        settings: KioskSettings,
        peripherals: Peripherals | CardReader,
        edge: EdgePort,
        status: StatusServer | None = None,
        voice: Voice | None = None,
        scheduler: Scheduler | None = None,
        flow_config: FlowConfig | None = None,
        credentials: DeviceCredentials | None = None,
        printers: print_kit.PrintPort | None = None,
        pins: pin_kit.PinPort | None = None,
    ) -> None:
        """`printers`, `pins`: ports to use instead of the peripherals' (the gallery's)."""
        super().__init__()
        self.settings = settings
        self.credentials = credentials  # its state is on /status
        self.peripherals = as_peripherals(peripherals)
        self.edge = edge
        self.voice = voice or make_voice(settings)
        self.watch = ScreenWatch()
        self.workers = WorkerPool(post_to_ui)
        # The theme and language in effect: the device's, until a citizen switches (the
        # flow's View.prefs; the screens are rebuilt then, see _follow).
        self.theme = theme_named(settings.theme)
        self.t = Translator(settings.language)
        self._prefs: Preferences | None = None  # the choices the widgets and voice follow
        # The certify journey's camera, face engine and device key (None: not offered here).
        # It speaks its challenges in the language on screen at the time.
        kit = kit_from(settings, self.peripherals, self.voice, cast(Translator, _OnScreen(self)))
        self.field_kit = _field_kit(settings) if settings.mode == "field" else None
        if self.field_kit is not None and kit is not None:
            kit = field.staff_kit(kit, self.field_kit.sessions)  # method "field", staff ID
        install_kit(kit)
        field.install_field(self.field_kit)
        # The certificate journey's printers and the card's PIN (None: not offered here).
        self.print_kit = print_kit_from(self.peripherals) if printers is None else None
        self.printers = printers or self.print_kit
        print_kit.install_printers(self.printers)
        pins = pins or card_pin_from(self.peripherals.card)
        pin_kit.install_pin_port(pins)
        self.queue_poller: QueuePoller | None = None
        self.field_banner: Any = None
        self._queue: tuple[FieldQueue | None, Any] | None = None  # the banner's last word
        config = flow_config or FlowConfig(
            idle_timeout_s=settings.idle_timeout_s,
            idle_warning_s=settings.idle_warning_s,
            message_hold_s=settings.message_hold_s,
            page_size=self.theme.page_size,
            retry=RetryPolicy(backoff=Backoff(initial_s=settings.retry_initial_s,
                                              max_s=settings.retry_max_s, jitter=0.2)),
            elder_idle_factor=settings.elder_idle_factor,
            busy_delay_s=BUSY_DELAY_S,
        )
        # The device file is the one source of the defaults, whoever built the timing.
        config = replace(
            config, normal_muted=settings.voice_normal_muted,
            defaults=device_defaults(settings.theme, settings.language,
                                     muted=settings.voice_muted,
                                     normal_muted=settings.voice_normal_muted,
                                     volume=settings.voice_volume),
            page_sizes=page_sizes(settings.window_width, settings.window_height),
        )
        self.flow = KioskFlow(
            edge, self.workers, scheduler or ClockScheduler(), config,
            capabilities=(capabilities_of(kit) | field.capabilities_of(self.field_kit)
                          | print_kit.capabilities_of(self.printers)
                          | pin_kit.capabilities_of(pins)),
        )
        self.status = status
        self.tap_guard = TapGuard()
        self._unsubscribe: Callable[[], None] | None = None
        self._spoken: tuple[ScreenName, str | None, bool] | None = None
        self._shot_screen: str | None = None
        self._shots = 0
        self.screens: dict[ScreenName, KioskScreen] = {}
        self._shown: KioskScreen | None = None
        self._stopped = False
        # No collections while the screens are built (~0.1 s of full ones at each start):
        # nothing is freed meanwhile that matters, and _settle_heap() collects once after.
        self._heap_settled = False
        gc.disable()
        # (on, pending) of maintenance for /status: written on the UI thread, read by the
        # status server's (a tuple is replaced whole, never changed in place).
        self._maintenance: tuple[bool, bool] = (False, False)

    # Building -------------------------------------------------------------------------------

    def build(self) -> Widget:
        root = self._root = FloatLayout()
        self._animate = _animations(self.settings)
        ctx = self._mount()
        # Topmost, so it sees every touch first: the hidden staff exit (kiosk/ui/staff_exit.py).
        self.staff_exit = staff_exit_panel(ctx, self.settings, on_exit=self.stop,
                                           allowed=lambda: not self.serving_citizen())
        self.flow.subscribe(lambda _view: self.staff_exit.citizen_arrived())
        root.add_widget(self.staff_exit)
        return root

    def _mount(self) -> UiContext:
        """Build the screens and their frame in the theme and language in effect, under any
        layer already on top (the staff exit). Called again, on the old widgets' place, when a
        citizen switches either: new widgets are simpler and surer than restyling each one."""
        Window.clearcolor = rgba(self.theme.palette.background)
        ctx = UiContext(self.theme, self.t, self.tap, animate=self._animate,
                        on_journey=self.start_journey, on_value=self.tap_value,
                        qr_preview=self._qr_preview())
        self.manager = ScreenManager(transition=NoTransition())
        self.screens = {}
        for screen_class in SCREENS:
            screen = screen_class(ctx)
            self.screens[screen.screen_name] = screen
            self.manager.add_widget(screen)
        column = BoxLayout(orientation="vertical")
        self.header = Header(ctx, sound=isinstance(self.voice, Tunable))
        column.add_widget(self.header)
        column.add_widget(self.manager)
        if self.field_kit is not None:  # field mode: records waiting and the last sync, always
            self.field_banner = make_banner(self.theme, self.t)
            if self._queue is not None:
                self.field_banner.show(*self._queue)
            column.add_widget(self.field_banner)
        column.add_widget(Footer(ctx, self.settings.device_id))
        self.overlay = IdleOverlay(ctx)
        self._column = column
        # Bottom first: the overlay above the column, both below what is already there.
        self._root.add_widget(self.overlay, index=len(self._root.children))
        self._root.add_widget(column, index=len(self._root.children))
        return ctx

    def _remount(self) -> None:
        # The screens about to go were frozen with the rest at start (_settle_heap): make them
        # collectable again, or their reference cycles would never be freed.
        gc.unfreeze()
        if self._shown is not None:
            self._shown.stopped()  # animations, the camera preview
        self._shown = None
        for screen in self.screens.values():
            screen.clear()  # nothing of the citizen's stays in widgets on their way out
        self.header.close()
        self._root.remove_widget(self._column)
        self._root.remove_widget(self.overlay)
        self._mount()

    def _follow(self, prefs: Preferences) -> None:
        """Apply the citizen's choices (View.prefs): the voice, and the screens rebuilt in
        another theme or language. The flow's state is untouched: render() shows it again."""
        before, self._prefs = self._prefs, prefs
        if before == prefs:
            return
        if isinstance(self.voice, Tunable):
            self.voice.set_language(prefs.language)
            self.voice.set_volume(prefs.volume)
            self.voice.set_muted(prefs.muted)
        elif prefs.muted:
            self.voice.stop()
        if (prefs.mode, prefs.language) != (self.theme.name, self.t.language):
            log.info("ui: %s mode, %s", prefs.mode, prefs.language)
            self.theme, self.t = theme_named(prefs.mode), Translator(prefs.language)
            self._remount()
        if before is not None and (prefs.language != before.language
                                   or prefs.volume != before.volume
                                   or (before.muted and not prefs.muted)):
            self._spoken = None  # say the screen again: in the new language, at the new level

    def _qr_preview(self) -> Callable[[], Any] | None:
        """The camera QR scanner's preview for the attract screen (drivers.qr.camera: its
        newest frame, and `demand()` to decode while it shows); None with a serial scanner."""
        from drivers.registry import PeripheralKind

        preview = getattr(self.peripherals[PeripheralKind.QR].device, "preview", None)
        return preview if callable(preview) else None

    def on_start(self) -> None:
        Window.bind(on_request_close=self._refuse_close, on_touch_down=self._touched)
        self.flow.subscribe(self.render)
        self.render(self.flow.view)
        bridge = HardwareBridge(post_to_ui, self.flow.handle)
        self._unsubscribe = self.peripherals.subscribe(bridge)
        self.peripherals.start()  # never raises, whatever the drivers do
        if self.field_kit is not None:
            self.queue_poller = QueuePoller(field_port(self.edge), self._queue_polled)
            self.queue_poller.start()
        for peripheral, health in self.peripherals.health():
            self.flow.handle(HealthChanged(kind=peripheral.name, health=health))
        self._start_status_server()
        log.info("kiosk %s started as %s (theme %s, %s, %dx%d)", __version__,
                 self.settings.device_id, self.theme.name, self.t.language,
                 Window.width, Window.height)

    def _queue_polled(self, queue: FieldQueue | None) -> None:
        """On the poller's thread: show it on the UI thread."""
        post_to_ui(lambda: self._show_queue(queue, utc_now()))

    def _show_queue(self, queue: FieldQueue | None, at: Any) -> None:
        self._queue = (queue, at)  # shown again by a banner rebuilt in another language
        if self.field_banner is not None:
            self.field_banner.show(queue, at)

    def _start_status_server(self) -> None:
        s = self.settings
        if self.status is None:
            return
        automation = None
        if s.automation:
            shots = s.screenshots_dir or Path.cwd() / "screenshots"
            automation = UiAutomation(self._visible_roots, lambda: self.manager.current, shots,
                                      tap_guard=self.tap_guard.remaining,
                                      chrome=self._chrome_roots, state=self._prefs_state)
            log.warning("automation hooks are enabled (tests and demo only)")
        if s.screenshots_dir is not None:
            log.warning("screenshots of every screen go to %s: simulated cards only",
                        s.screenshots_dir)
        control = UiControl(self) if s.control_token_file is not None else None
        self.status.start(self.status_document, self.watch, automation,
                          control=control, control_token_file=s.control_token_file)

    def status_document(self) -> dict[str, Any]:
        """GET /status (docs/contracts/kiosk-status.md): names of things and health only."""
        reachability = getattr(self.edge, "reachability", None)  # a test's fake edge has none
        return build_status(
            app_version=__version__, device_id=self.settings.device_id,
            screen=self.watch.screen, session_active=self.watch.session_active,
            peripherals=self.peripherals,
            credential=self.credentials.status() if self.credentials is not None else None,
            maintenance=self._maintenance,
            edge=reachability.last() if reachability is not None else None,
        ).as_json()

    # Control (kiosk.ui.control, on the UI thread) ---------------------------------------------

    def set_maintenance(self, on: bool, reason: str) -> tuple[bool, bool]:
        self.flow.handle(MaintenanceSet(on, reason))
        self._maintenance = self.flow.maintenance
        return self._maintenance

    def ui_ready(self) -> bool:
        return self.watch.screen != "starting" and not self._stopped

    def serving_citizen(self) -> bool:
        return self.flow.serving_citizen or self.overlay.shown

    # Input ----------------------------------------------------------------------------------

    def tap(self, action: Action, journey: str | None = None, value: str | None = None) -> None:
        if self.tap_guard.remaining() > 0:
            log.info("tap %s ignored: the screen has only just changed", action)
            return
        self.flow.handle(Tap(action, journey, value))

    def tap_value(self, action: Action, value: str) -> None:
        self.tap(action, value=value)

    def start_journey(self, journey: str) -> None:
        self.tap(Action.START_JOURNEY, journey)

    def _touched(self, *_: Any) -> None:
        # Runs before the widgets see the touch; returns None so that they still do.
        self.flow.handle(Activity())

    def _refuse_close(self, *_: Any, **__: Any) -> bool:
        return True  # only a service stop (SIGTERM) ends the kiosk

    def open_settings(self, *_: Any) -> bool:
        return False  # F1 must not open Kivy's settings panel in front of citizens

    # Rendering ------------------------------------------------------------------------------

    def render(self, view: View) -> None:
        self._maintenance = self.flow.maintenance
        self._follow(view.prefs)
        screen = self.screens[view.screen]
        if self._shown is not screen:  # (the manager starts on attract without our say-so)
            if self._shown is not None:
                self._shown.stopped()
            self.manager.current = str(view.screen)
            # Finish NoTransition's zero-length animation now, not at the next tick: else the
            # next frame shows both screens overlapped and a second frame (70-280 ms under
            # software GL) is needed before the new screen stands alone.
            self.manager.transition.stop()
            screen.started()
            if self._shown is not None and view.screen is ScreenName.ATTRACT:
                after_frames(boot.trim_heap)  # a session's pages back to the system, once drawn
            self._shown = screen
        screen.render(view)
        for other in self.screens.values():
            if other is not screen and other.holds_citizen_data:
                other.clear()
        self.overlay.render(view)
        on, pending = self._maintenance
        self.header.render(view, enabled=not (on and not pending))
        self.tap_guard.shown((view.screen, view.notice, self.overlay.shown))
        self._speak(view)
        if self.settings.screenshots_dir is not None:
            after_frames(self._settled)  # the automatic shot reads the frame at its flip
        else:
            after_settled(self._settled)  # no redraw asked for: the frame is not redrawn

    def _speak(self, view: View) -> None:
        notice = view.notice.key if view.notice else None
        warning = view.idle_seconds_left is not None
        if self._spoken == (view.screen, notice, warning):
            return
        self._spoken = (view.screen, notice, warning)
        keys: tuple[str, ...]
        if warning:  # someone who cannot read the screen must hear it is about to end
            keys = ("idle.title", "idle.hint")
        else:  # each screen declares its prompts (the message screen reads its notice)
            keys = self.screens[view.screen].prompt_keys(view)
        if view.screen is ScreenName.ATTRACT:
            self.voice.stop()
        if view.prefs.muted:
            return
        if keys:
            self.voice.say(keys[0], "。".join(self.t(k) for k in keys))

    def _settled(self) -> None:
        """A frame of the current screen is drawn: tell waiters, take the automatic shot."""
        if self.manager.transition.is_active:
            # Even NoTransition keeps the old screen attached until its zero-length animation
            # ends on a later tick; a frame drawn before that shows both screens overlapped.
            after_frames(self._settled, frames=1)
            return
        current = self.manager.current
        self.watch.update(current, self.flow.session_active)
        if not self._heap_settled:
            self._heap_settled = True
            Clock.schedule_once(lambda _dt: _settle_heap(), HEAP_SETTLE_S)
        directory = self.settings.screenshots_dir
        if directory is not None and current != self._shot_screen:
            self._shot_screen = current
            self._shots += 1
            capture(unique_path(directory, f"{self._shots:03d}-{current}"),
                    lambda path: log.info("screenshot %s", path))

    def _chrome_roots(self) -> list[Widget]:
        """The header's controls, for automation: hidden under a modal layer."""
        return [] if self.overlay.shown or self.staff_exit.shown else [self.header]

    def _prefs_state(self) -> dict[str, Any]:
        """For /automation/texts: the theme, language and sound in effect on screen now."""
        prefs, h = self._prefs or self.flow.prefs, self.header
        shown = [w.text for w in (h.language, h.mute, h.level) if w.parent is not None]
        return {"prefs": {"theme": self.theme.name, "language": self.t.language,
                          "muted": prefs.muted, "volume": prefs.volume, "header": shown}}

    def _visible_roots(self) -> list[Widget]:
        roots: list[Widget] = []
        if self.staff_exit.shown:
            roots.append(self.staff_exit)
        if self.overlay.shown:
            roots.append(self.overlay)
        roots.append(self.manager.current_screen)
        return roots

    # Stopping -------------------------------------------------------------------------------

    def on_stop(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """End the session, stop the peripherals, workers and status server. Idempotent.

        Kivy calls it through on_stop (once per App.stop() call); kiosk.runtime calls it again
        after run() returns or raises, since a crashed event loop never dispatches on_stop.
        """
        if self._stopped:
            return
        self._stopped = True
        log.info("kiosk stopping")
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.peripherals.stop()  # bounded: a wedged driver is abandoned, not waited for
        if self.queue_poller is not None:
            self.queue_poller.stop()
        self.flow.close()  # ends any session at the edge (queued on the workers)
        install_kit(None)
        field.install_field(None)
        print_kit.install_printers(None)
        pin_kit.install_pin_port(None)
        if self.print_kit is not None:
            self.print_kit.close()
        self.voice.stop()
        close_voice = getattr(self.voice, "close", None)
        if callable(close_voice):
            close_voice()  # espeak-ng's speaker thread
        if not self.workers.close(timeout_s=3.0):
            log.warning("an edge call was still running at exit")
        if self.status is not None:
            self.status.stop()


def _settle_heap() -> None:
    """Collect start-up's garbage once, then freeze the survivors (see HEAP_SETTLE_S)."""
    gc.collect()
    gc.freeze()
    gc.enable()
    boot.trim_heap()
    log.info("heap settled: %d objects frozen", gc.get_freeze_count())


class _OnScreen:
    """Words in the language on screen now, for parts built once at start (the certify kit
    speaks its challenges through it): it only ever calls t(key)."""

    def __init__(self, app: KioskApp) -> None:
        self._app = app

    def __call__(self, key: str, **params: Any) -> str:
        return self._app.t(key, **params)


def _field_kit(settings: KioskSettings) -> field.FieldKit:
    """Field mode: staff sessions over the credentials provisioned on this terminal."""
    lockout = settings.field_lockout_file or settings.field_staff_file.with_name(
        "staff-lockout.json")
    sessions = StaffSessions(StaffCredentials(settings.field_staff_file, lockout),
                             max_s=settings.field_staff_session_s,
                             idle_s=settings.field_staff_idle_s)
    return field.FieldKit(sessions, installed_kit)
