"""'Please insert your card': the screen nobody is using."""

from __future__ import annotations

from collections.abc import Callable

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.screens.capture import PREVIEW_FPS, Preview
from kiosk.ui.widgets import Banner, CardSlotArt, ColumnBreak, FitBox, KioskButton

_TARGETS = {journey.key: journey.home_target for journey in JOURNEYS}


class AttractScreen(KioskScreen):
    screen_name = ScreenName.ATTRACT
    prompts = ("attract.title", "attract.hint")

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, p = ctx.t, self.theme.palette
        self.art = CardSlotArt(self.theme, animate=ctx.animate, size_hint_y=None,
                               height=dp(520))
        self.title = self.text("display", text=t("attract.title"), bold=True)
        self.hint = self.text("heading", text=t("attract.hint"))
        self.keep = self.text("body", text=t("attract.keep"), colour=p.text_muted)
        # The other ways in, where their devices are here: the e-SSC QR code at the scanner,
        # the resident ID card on its reader.
        self.ways = self.text("heading", colour=p.info_text)
        self._ways: tuple[str, ...] = ()
        # Where the QR scanner is a camera: what it sees, small, so the phone can be aimed.
        self.preview: Preview | None = None
        self._tick: object = None
        # While the preview runs, the scanner decodes (drivers.qr.camera, `demand()`): not
        # during a session, nor while the face check needs the same cores.
        self._release: Callable[[], None] | None = None
        if ctx.qr_preview is not None:
            self.preview = Preview(self.theme, size_hint_y=None, height=dp(300))
        self.reader = Banner(self.theme, "warning")
        # Services that need no card (a lost one): small, below the main invitation. In a
        # landscape window, side by side across the foot of the screen (the column beside the
        # card is full with the other ways in), added only when there are any.
        self.walk_up: BoxLayout = FitBox(spacing=dp(self.theme.spacing))
        if self.landscape:
            self.walk_up = BoxLayout(size_hint_y=None, height=dp(self.theme.button_height),
                                     spacing=dp(self.theme.spacing))
        self._offered: tuple[str, ...] = ()
        preview = [self.preview] if self.preview is not None else []
        widgets: list[Widget] = [
            spacer(0.6), self.art, self.title, self.hint, self.keep, spacer(0.3), self.ways,
            *preview, spacer(0.2), self.reader, self.walk_up, spacer(0.3)]
        if self.landscape:  # the card on the left, all the words beside it, fewer gaps
            widgets = [spacer(0.5), self.art, spacer(0.5), ColumnBreak(), spacer(0.5),
                       self.title, self.hint, self.keep, spacer(0.3), self.ways, *preview,
                       self.reader, spacer(0.5)]
        for widget in widgets:
            self.column.add_widget(widget)

    def _walk_up_button(self, key: str) -> KioskButton:
        start = self.ctx.on_journey
        return KioskButton(self.theme, _TARGETS.get(key, f"attract.{key}"),
                           Action.START_JOURNEY, lambda _action: start(key), primary=False,
                           text=self.ctx.t(f"attract.{key.replace('-', '_')}"))

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        return self.prompts + tuple(self._way_key(way) for way in self._offered_ways(view))

    @staticmethod
    def _offered_ways(view: View) -> tuple[str, ...]:
        return tuple(way for way in ("qr", "idcard") if view.offers(way))

    def _way_key(self, way: str) -> str:
        camera = way == "qr" and self.preview is not None
        return "attract.way.qr_camera" if camera else f"attract.way.{way}"

    def _way_words(self, way: str) -> str:
        return self.ctx.t(self._way_key(way))

    def render(self, view: View) -> None:
        ways = self._offered_ways(view)
        if ways != self._ways:
            self._ways = ways
            self.ways.text = "\n".join(self._way_words(way) for way in ways)
            if self.preview is not None:
                self.preview.opacity = 1 if "qr" in ways else 0
                if "qr" in ways and self.get_parent_window() is not None:
                    self._start_preview()
                elif "qr" not in ways:
                    self._stop_preview()
        if view.walk_up != self._offered:
            self._offered = view.walk_up
            self.walk_up.clear_widgets()
            for key in view.walk_up:
                self.walk_up.add_widget(self._walk_up_button(key))
            if self.landscape:  # the foot row: last in the column, and only with buttons
                if self.walk_up.parent is not None:
                    self.column.remove_widget(self.walk_up)
                if view.walk_up:
                    self.column.add_widget(self.walk_up)
        if view.reader_available:
            self.reader.hide()
        else:
            self.reader.show(self.ctx.t("attract.reader_unavailable"))

    def _start_preview(self) -> None:
        if self.preview is not None and self._tick is None and "qr" in self._ways:
            self._tick = Clock.schedule_interval(self._refresh, 1 / PREVIEW_FPS)
            demand = getattr(self.ctx.qr_preview, "demand", None)
            if callable(demand) and self._release is None:
                self._release = demand()

    def _refresh(self, *_: object) -> None:
        source = self.ctx.qr_preview
        frame = source() if source is not None else None
        if frame is not None and self.preview is not None:
            self.preview.show(frame)

    def started(self) -> None:
        self.art.start()
        self._start_preview()

    def stopped(self) -> None:
        self.art.stop()
        self._stop_preview()

    def _stop_preview(self) -> None:
        tick, self._tick = self._tick, None
        if tick is not None:
            tick.cancel()  # type: ignore[attr-defined]
        release, self._release = self._release, None
        if release is not None:
            release()
        if self.preview is not None:
            self.preview.blank()  # whoever stood there is not kept on screen
