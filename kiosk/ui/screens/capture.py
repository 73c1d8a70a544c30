"""Guided face capture: a big live preview, the challenge in large words, "第k步/共n步".

The preview is the camera's newest frame, copied into a texture by a Kivy Clock at about
12 frames a second while this screen is shown (never by the liveness worker, never on the
flow's events). It is mirrored, as people expect of a screen showing themselves. The frame is
a face: `clear()` blanks the texture as soon as the screen is left.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.uix.widget import Widget

from drivers.camera.interface import Frame
from kiosk.flow.certify_worker import CaptureProgress
from kiosk.flow.journeys.certify import CaptureView
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext
from kiosk.ui.theme import Theme, rgba

PREVIEW_FPS = 12.0


class Preview(Widget):
    """A camera frame drawn as large as fits, 4:3 or whatever the camera gives, mirrored."""

    def __init__(self, theme: Theme, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._texture: Texture | None = None
        self.sequence: int | None = None  # the frame on screen (tests read it)
        self.frames_drawn = 0
        self._aspect = 4 / 3
        with self.canvas:
            Color(*rgba(theme.palette.header_bg))
            self._backdrop = Rectangle()
            Color(1, 1, 1, 1)
            self._image = Rectangle()
        self.bind(pos=self._layout, size=self._layout)

    def show(self, frame: Frame) -> None:
        if frame.sequence == self.sequence:
            return
        size = (frame.width, frame.height)
        texture = self._texture
        if texture is None or tuple(texture.size) != size:
            texture = Texture.create(size=size, colorfmt="rgb", bufferfmt="ubyte")
            # Numpy row 0 is the top, GL's is the bottom; and a mirror for the citizen.
            texture.flip_vertical()
            texture.flip_horizontal()
            self._texture = texture
            self._aspect = frame.width / frame.height
            self._image.texture = texture
            self._layout()
        texture.blit_buffer(frame.pixels.tobytes(), colorfmt="rgb", bufferfmt="ubyte")
        self.sequence = frame.sequence
        self.frames_drawn += 1
        self.canvas.ask_update()

    def blank(self) -> None:
        self._texture = None
        self._image.texture = None
        self.sequence = None
        self.canvas.ask_update()

    def _layout(self, *_: object) -> None:
        width, height = self.size
        self._backdrop.pos, self._backdrop.size = self.pos, self.size
        if self._texture is None:
            self._image.size = (0, 0)
            return
        fit_w = min(width, height * self._aspect)
        fit_h = fit_w / self._aspect
        self._image.size = (fit_w, fit_h)
        self._image.pos = (self.x + (width - fit_w) / 2, self.y + (height - fit_h) / 2)


class CaptureScreen(KioskScreen):
    screen_name = ScreenName.CAPTURE
    prompts = ("capture.title", "capture.body")
    holds_citizen_data = True  # the preview is the citizen's face

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, p = ctx.t, self.theme.palette
        self.step = self.text("title", bold=True, colour=p.info_text)
        self.preview = Preview(self.theme, size_hint_y=1.0)
        self.challenge = self.text("display", bold=True)
        self.hint = self.text("heading", bold=True, colour=p.warning_text)
        self.end = self.button("capture.end", Action.END, primary=False,
                               text=t("button.end"))
        for widget in (self.step, self.preview, self.challenge, self.hint,
                       self.action_row(self.end)):
            self.column.add_widget(widget)
        self._source: Any = None  # CaptureView.preview of the attempt on screen
        self._tick: Any = None
        self._shown: tuple[str, CaptureProgress, int] | None = None

    def render(self, view: View) -> None:
        data = view.content.data if view.content is not None else None
        if not isinstance(data, CaptureView):
            return
        self._source = data.preview
        if self._tick is None:
            self._start_preview()
        shown = (data.phase, data.progress, data.attempt)
        if shown == self._shown:
            return
        self._shown = shown
        t, progress = self.ctx.t, data.progress
        if data.phase == "preparing":
            self.step.text = t("capture.attempt", attempt=data.attempt, attempts=data.attempts)
            self.challenge.text = t("capture.preparing")
            self.hint.text = ""
            return
        if progress.state == "challenge" and progress.current is not None:
            self.step.text = t("capture.step", step=progress.step + 1, count=progress.count)
            self.challenge.text = t(f"certify.challenge.{progress.current}")
        else:  # the baseline: a still, frontal face first
            self.step.text = t("capture.attempt", attempt=data.attempt, attempts=data.attempts)
            self.challenge.text = t("capture.look")
        self.hint.text = t.optional(f"certify.hint.{progress.hint}", "") if progress.hint else ""

    def _start_preview(self) -> None:
        self._tick = Clock.schedule_interval(self._refresh, 1 / PREVIEW_FPS)
        self._refresh()

    def _refresh(self, *_: object) -> None:
        source = self._source
        frame = source() if source is not None else None
        if frame is not None:
            self.preview.show(frame)

    def started(self) -> None:
        if self._source is not None and self._tick is None:
            self._start_preview()

    def stopped(self) -> None:
        self._stop_preview()

    def _stop_preview(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def clear(self) -> None:
        self._stop_preview()
        self._source = None
        self._shown = None
        self.preview.blank()
        self.challenge.text = self.hint.text = ""
