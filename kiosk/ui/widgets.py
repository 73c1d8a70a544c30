"""The few building blocks every screen uses: wrapped text, big buttons, banners, panels.

Imported only after kiosk.ui.boot has configured Kivy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kivy.animation import Animation
from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    NumericProperty,
    ObjectProperty,
    OptionProperty,
    StringProperty,
    VariableListProperty,
)
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.layout import Layout
from kivy.uix.widget import Widget

from kiosk.flow.screens import Action
from kiosk.ui.theme import Theme, rgba


class Text(Label):
    """A label that wraps to its width and is exactly as tall as its text."""

    def __init__(
        self,
        theme: Theme,
        role: str = "body",
        colour: str | None = None,
        halign: str = "center",
        bold: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("text", "")
        super().__init__(
            font_size=dp(theme.text_sizes[role]),
            color=rgba(colour or theme.palette.text),
            halign=halign,
            valign="middle",
            bold=bold,
            size_hint_y=None,
            line_height=1.15,
            **kwargs,
        )
        self.bind(width=self._wrap, texture_size=self._fit)
        self._wrap()
        # An empty label never gets a texture: without this it kept Kivy's default 100 px
        # height, a blank gap on every screen with an unused line (message details, hints).
        self._fit()

    def _wrap(self, *_: object) -> None:
        self.text_size = (self.width, None)

    def _fit(self, *_: object) -> None:
        self.height = self.texture_size[1]


class RoundedFrame:
    """A filled rounded rectangle with an optional border, as canvas instructions.

    The border is an outer rectangle under an inset fill: Kivy's thick rounded `Line` leaves a
    visible seam where it starts and ends.
    """

    def __init__(self, canvas: Any, border_width: float) -> None:
        self.border_width = border_width
        with canvas:
            self._border_colour = Color(0, 0, 0, 0)
            self._outer = RoundedRectangle()
            self._fill_colour = Color(1, 1, 1, 1)
            self._inner = RoundedRectangle()

    def update(self, pos: Any, size: Any, radius: float,
               fill: Any, border: Any | None = None) -> None:
        b = self.border_width if border is not None else 0
        self._border_colour.rgba = border if border is not None else (0, 0, 0, 0)
        self._outer.pos, self._outer.size, self._outer.radius = pos, size, [radius]
        self._fill_colour.rgba = fill
        self._inner.pos = (pos[0] + b, pos[1] + b)
        self._inner.size = (max(size[0] - 2 * b, 0), max(size[1] - 2 * b, 0))
        self._inner.radius = [max(radius - b, 0)]


class Surface(BoxLayout):
    """A box with a rounded, filled background (and an optional outline)."""

    fill = ColorProperty((1, 1, 1, 1))
    outline = ColorProperty((0, 0, 0, 0))
    radius = NumericProperty(dp(16))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frame = RoundedFrame(self.canvas.before, dp(2))
        self.bind(pos=self._redraw, size=self._redraw, fill=self._redraw,
                  outline=self._redraw, radius=self._redraw)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        border = self.outline if self.outline[3] > 0 else None
        self._frame.update(self.pos, self.size, self.radius, self.fill, border)


class FitBox(BoxLayout):
    """A vertical box as tall as its children (for content of unknown height)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("size_hint_y", None)
        super().__init__(**kwargs)
        self.bind(minimum_height=self.setter("height"))
        # A box that never gets a child never changes its minimum_height: without this it kept
        # Kivy's default 100 px, a blank gap (a receipt's unused list of refusal reasons).
        self.height = self.minimum_height


class ColumnBreak(Widget):
    """Where a ColumnFlow's second column starts when it splits (nothing, when it does not)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), size=(0, 0), **kwargs)


class ColumnFlow(Layout):
    """A screen's column for a landscape window: a vertical box while its content fits the
    height, otherwise its content flows into two side-by-side columns, as a newspaper's does.

    The trailing rows of buttons (a screen's back / end / go on) stay at the bottom, across
    the whole width, where a hand expects them. Children with a size_hint_y (spacers) share
    what height their column has left, as in a BoxLayout. A column breaks only between
    children, never inside one: at a ColumnBreak when there is one, else where the first
    column is full.
    """

    padding = VariableListProperty([0, 0, 0, 0])
    spacing = NumericProperty(0)
    orientation = OptionProperty("vertical", options=["vertical"])  # BoxLayout's API, for reuse
    split = BooleanProperty(False)  # whether the content is in two columns now
    first_share = NumericProperty(0.5)  # the first column's share of the width, when split

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(padding=self._trigger_layout, spacing=self._trigger_layout,
                  size=self._trigger_layout, pos=self._trigger_layout)

    def _feet(self) -> list[Widget]:
        ordered = list(reversed(self.children))  # Kivy keeps children last-added first
        feet: list[Widget] = []
        while ordered and _is_button_row(ordered[-1]):
            feet.insert(0, ordered.pop())
        return feet

    def do_layout(self, *_: object) -> None:
        left, top, right, bottom = self.padding
        gap = self.spacing
        ordered = list(reversed(self.children))
        feet = self._feet()
        flow = ordered[:len(ordered) - len(feet)]
        breaks = [i for i, c in enumerate(flow) if isinstance(c, ColumnBreak)]
        flow = [c for c in flow if not isinstance(c, ColumnBreak)]
        y = self.y + bottom
        for foot in reversed(feet):
            foot.pos = (self.x + left, y)
            foot.width = self.width - left - right
            y += foot.height + gap
        area_top, area_bottom = self.top - top, y
        height = area_top - area_bottom

        def needed(children: list[Widget]) -> float:
            fixed = [c.height for c in children if c.size_hint_y is None]
            return sum(fixed) + gap * max(len(children) - 1, 0)

        # Once split, stay split until it fits at the narrow width: text only grows narrower,
        # so the choice settles instead of flipping between frames.
        self.split = needed(flow) > height + 0.5
        inner = self.width - left - right
        columns: list[list[Widget]] = [flow]
        if self.split and breaks:
            columns = [flow[:breaks[0]], flow[breaks[0]:]]
        elif self.split:
            columns = [[], []]
            used = 0.0
            for child in flow:
                h = (child.height if child.size_hint_y is None else 0) + (gap if columns[0] else 0)
                started = any(c.size_hint_y is None for c in columns[0])  # spacers aside
                full = started and used + h > height + 0.5
                if columns[1] or full:
                    columns[1].append(child)
                else:
                    columns[0].append(child)
                    used += h
            if not all(any(c.size_hint_y is None for c in column) for column in columns):
                columns = [flow]  # one part too tall for any column: better whole and wide
        usable = inner - 2 * gap * (len(columns) - 1)
        widths = [usable * self.first_share, usable * (1 - self.first_share)] \
            if len(columns) == 2 else [usable]
        for i, column in enumerate(columns):
            width = widths[i]
            x = self.x + left + (widths[0] + 2 * gap if i else 0.0)
            flexible = [c for c in column if c.size_hint_y is not None]
            spare = max(height - needed(column), 0.0)
            weights = sum(c.size_hint_y for c in flexible) or 1.0
            cursor = area_top
            for child in column:
                if child.size_hint_y is not None:
                    child.height = spare * child.size_hint_y / weights
                if child.size_hint_x is not None:
                    child.width = width * min(child.size_hint_x, 1.0)
                hint = child.pos_hint or {}
                offset = (width - child.width) * (0.5 if "center_x" in hint else
                                                   1.0 if "right" in hint else 0.0)
                child.pos = (x + offset, cursor - child.height)
                cursor -= child.height + gap


def _is_button_row(widget: Widget) -> bool:
    """A row of buttons (a pager's "page 2 of 3" between them too)."""
    inside = [w for w in widget.walk(restrict=True) if w is not widget]
    return (isinstance(widget, BoxLayout) and widget.orientation == "horizontal"
            and any(isinstance(w, KioskButton) for w in inside)
            and all(isinstance(w, KioskButton | Label | BoxLayout) for w in inside))


class Banner(Surface):
    """A one-message strip: information (blue) or warning (amber). Takes no space when hidden."""

    def __init__(self, theme: Theme, kind: str = "info", **kwargs: Any) -> None:
        p = theme.palette
        bg, fg = (p.warning_bg, p.warning_text) if kind == "warning" else (p.info_bg, p.info_text)
        super().__init__(
            orientation="vertical", size_hint_y=None, padding=(dp(28), dp(18)),
            fill=rgba(bg), radius=dp(theme.radius), **kwargs,
        )
        self.label = Text(theme, "body", colour=fg)
        self.add_widget(self.label)
        self.visible = False
        self.label.bind(height=self._fit)
        self.hide()

    def show(self, text: str) -> None:
        self.visible = True
        self.label.text = text
        self.opacity = 1
        self._fit()

    def hide(self) -> None:
        self.visible = False
        self.label.text = ""
        self.opacity = 0
        self._fit()

    def _fit(self, *_: object) -> None:
        self.height = self.label.height + dp(36) if self.visible else 0


class KioskButton(ButtonBehavior, Label):
    """A large rounded button with an automation id (`target`) and the flow action it asks for.

    `primary` buttons are filled deep blue; secondary ones are white with a blue outline.
    """

    target = StringProperty("")
    primary = BooleanProperty(True)
    action = ObjectProperty(None, allownone=True)

    def __init__(
        self,
        theme: Theme,
        target: str,
        action: Action | None,
        on_action: Callable[[Action], None],
        primary: bool = True,
        height: float | None = None,
        font_size: float | None = None,
        **kwargs: Any,
    ) -> None:
        self._theme = theme
        super().__init__(
            target=target,
            action=action,
            primary=primary,
            size_hint_y=None,
            height=dp(height or theme.button_height),
            font_size=dp(font_size or theme.button_font),
            halign="center",
            valign="middle",
            markup=True,
            **kwargs,
        )
        self._on_action = on_action
        self._frame = RoundedFrame(self.canvas.before, dp(3))
        self.bind(pos=self._redraw, size=self._redraw, state=self._redraw,
                  disabled=self._redraw, primary=self._redraw)
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - dp(24), None)))
        self._redraw()

    def on_release(self) -> None:
        if self.action is not None:
            self._on_action(self.action)

    def _redraw(self, *_: object) -> None:
        p = self._theme.palette
        down = self.state == "down"
        if self.disabled:
            bg, fg, border = p.disabled_bg, p.disabled_text, p.disabled_bg
        elif self.primary:
            bg = p.primary_pressed if down else p.primary_bg
            fg, border = p.primary_text, bg
        else:
            bg = p.secondary_pressed if down else p.secondary_bg
            fg, border = p.secondary_text, p.secondary_text
        self.color = rgba(fg)
        self.disabled_color = rgba(fg)
        self._frame.update(self.pos, self.size, dp(self._theme.radius), rgba(bg), rgba(border))


class Mark(Widget):
    """The round sign at the top of a message: '!' for a problem, 'i' for advice."""

    glyph = StringProperty("!")
    fill = ColorProperty((0, 0, 0, 1))

    def __init__(self, theme: Theme, diameter: float = 150, **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), size=(dp(diameter), dp(diameter)), **kwargs)
        with self.canvas:
            self._colour = Color(*self.fill)
            self._disc = Ellipse()
        self._label = Label(
            text=self.glyph, font_size=dp(diameter * 0.62), bold=True,
            color=rgba(theme.palette.surface),
        )
        self.add_widget(self._label)
        self.bind(pos=self._redraw, size=self._redraw, fill=self._redraw, glyph=self._redraw)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        self._colour.rgba = self.fill
        self._disc.pos, self._disc.size = self.pos, self.size
        self._label.text = self.glyph
        self._label.pos, self._label.size = self.pos, self.size


class BusyDots(Widget):
    """Three softly pulsing dots: "working on it", without a spinner's urgency."""

    phase = NumericProperty(0.0)

    def __init__(self, theme: Theme, scale: float = 1.0, animate: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), size=(dp(150 * scale), dp(40 * scale)),
                         **kwargs)
        self._scale = scale
        self._animate = animate
        self._colours: list[Color] = []
        self._dots: list[Ellipse] = []
        base = rgba(theme.palette.primary_bg)
        with self.canvas:
            for _ in range(3):
                self._colours.append(Color(*base))
                self._dots.append(Ellipse())
        self.bind(pos=self._redraw, size=self._redraw, phase=self._redraw)
        self._anim: Animation | None = None
        self._redraw()

    def start(self) -> None:
        if self._animate and self._anim is None:
            self.phase = 0.0
            self._anim = Animation(phase=1.0, duration=1.4)
            self._anim.repeat = True
            self._anim.start(self)

    def stop(self) -> None:
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None

    def _redraw(self, *_: object) -> None:
        d = dp(26 * self._scale)
        gap = (self.width - 3 * d) / 2
        for i, (colour, dot) in enumerate(zip(self._colours, self._dots, strict=True)):
            wave = 0.5 + 0.5 * math.sin(2 * math.pi * (self.phase - i / 3))
            colour.a = 0.25 + 0.75 * wave
            dot.size = (d, d)
            dot.pos = (self.x + i * (d + gap), self.center_y - d / 2)


class CardSlotArt(Widget):
    """A drawn social security card and the reader's slot.

    Modes: "insert" (card above the slot, arrow down, gently moving), "inside" (card standing in
    the slot: do not pull it), "take" (card rising out of the slot, arrow up).
    """

    offset = NumericProperty(0.0)

    def __init__(self, theme: Theme, mode: str = "insert", animate: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self._animate = animate and mode != "inside"
        p = theme.palette
        self._card = RoundedFrame(self.canvas, dp(4))
        self._card_fill, self._card_edge = rgba(p.card_body), rgba(p.primary_bg)
        with self.canvas:
            self._chip_colour = Color(*rgba(p.card_chip))
            self._chip = RoundedRectangle(radius=[dp(8)])
            self._stripe_colour = Color(*rgba(p.primary_bg, 0.55))
            self._stripes = [Rectangle() for _ in range(3)]
            self._arrow_colour = Color(*rgba(p.primary_bg, 0 if mode == "inside" else 1))
            self._arrow = Line(width=dp(7), cap="round", joint="round")
            # The slot is drawn last so that a card standing in it looks half inside.
            self._slot_colour = Color(*rgba(p.header_bg))
            self._slot = RoundedRectangle(radius=[dp(10)])
        self.bind(pos=self._redraw, size=self._redraw, offset=self._redraw)
        # One gentle nudge, then rest: a screen that moves all day is tiring and costs power
        # (Kivy redraws the whole window on every animated frame).
        self._anim = (
            Animation(offset=1.0, duration=1.2, t="in_out_sine")
            + Animation(offset=0.0, duration=1.2, t="in_out_sine")
            + Animation(offset=0.0, duration=4.0)
        )
        self._anim.repeat = True
        self._redraw()

    def start(self) -> None:
        if self._animate:
            self._anim.start(self)

    def stop(self) -> None:
        self._anim.cancel(self)
        self.offset = 0.0

    def _redraw(self, *_: object) -> None:
        cx = self.center_x
        card_w = min(self.width * 0.55, dp(440))
        card_h = card_w * 0.63  # ID-1 card proportions
        slot_w = card_w * 1.22
        slot_h = dp(26)
        slot_y = self.y + dp(20)
        self._slot.pos, self._slot.size = (cx - slot_w / 2, slot_y), (slot_w, slot_h)
        move = dp(36) * self.offset
        gap = dp(160)  # room for the arrow between card and slot
        if self.mode == "insert":
            card_y = slot_y + gap - move
        elif self.mode == "take":
            card_y = slot_y + gap * 0.55 + move
        else:
            card_y = slot_y + dp(4)  # its lower edge hidden by the slot drawn over it
        card_x = cx - card_w / 2
        self._card.update((card_x, card_y), (card_w, card_h), dp(22), self._card_fill,
                          self._card_edge)
        chip = card_w * 0.17
        self._chip.pos = (card_x + card_w * 0.12, card_y + card_h * 0.42)
        self._chip.size = (chip, chip * 0.8)
        for i, stripe in enumerate(self._stripes):
            stripe.pos = (card_x + card_w * 0.42, card_y + card_h * (0.68 - i * 0.14))
            stripe.size = (card_w * (0.46 - i * 0.08), dp(10))
        head = dp(22)
        ax = cx + card_w / 2 + dp(70) if self.mode == "take" else cx
        if self.mode == "take":  # beside the card, pointing up
            bottom, top = slot_y + dp(60), slot_y + dp(60) + card_h * 0.8
            self._arrow.points = [ax, bottom, ax, top, ax - head, top - head, ax, top,
                                  ax + head, top - head]
        else:
            top, bottom = card_y - dp(30), slot_y + dp(42)
            self._arrow.points = [ax, top, ax, bottom, ax - head, bottom + head, ax, bottom,
                                  ax + head, bottom + head]


class QrCode(Widget):
    """A QR code drawn as dark squares on a white quiet zone (segno makes the matrix).

    Drawn with canvas rectangles rather than an image: no file, nothing to decode, and it
    scales sharply to any size. `text` empty draws nothing.
    """

    text = StringProperty("")

    def __init__(self, side: float, **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), size=(dp(side), dp(side)), **kwargs)
        self._matrix: tuple[tuple[bool, ...], ...] = ()
        self.bind(text=self._encode, pos=self._redraw, size=self._redraw)

    @property
    def modules(self) -> int:
        """Modules a side, quiet zone included (0 when empty)."""
        return len(self._matrix)

    def _encode(self, *_: object) -> None:
        if self.text:
            import segno  # the kiosk extra's; only screens that show receipts need it

            code = segno.make(self.text, error="m")
            self._matrix = tuple(tuple(bool(m) for m in row) for row in code.matrix_iter(border=4))
        else:
            self._matrix = ()
        self._redraw()

    def _redraw(self, *_: object) -> None:
        self.canvas.clear()
        if not self._matrix:
            return
        n = len(self._matrix)
        cell = min(self.width, self.height) / n
        x0, y0 = self.x, self.top - cell * n
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(pos=(x0, y0), size=(cell * n, cell * n))
            Color(0, 0, 0, 1)
            for r, row in enumerate(self._matrix):
                c = 0
                while c < n:  # one rectangle per run of dark modules: fewer instructions
                    if not row[c]:
                        c += 1
                        continue
                    start = c
                    while c < n and row[c]:
                        c += 1
                    Rectangle(pos=(x0 + start * cell, self.top - (r + 1) * cell),
                              size=((c - start) * cell, cell))


class ModalLayer(FloatLayout):
    """A panel centred over a dimmed screen (the idle warning, the staff exit keypad).

    Invisible means absent: while `shown` is false it is drawn at opacity 0 and lets every
    touch through; while shown it takes all of them, so nothing under it can be tapped.
    Subclasses fill `self.panel` and keep `shown` and `opacity` in step.
    """

    shown: bool = False

    def __init__(self, theme: Theme, *, width: float, spacing: float) -> None:
        super().__init__()
        p = theme.palette
        with self.canvas.before:
            Color(*rgba(p.scrim, 0.6))
            self._scrim = Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)
        anchor = AnchorLayout(anchor_x="center", anchor_y="center")
        self.panel = Surface(orientation="vertical", size_hint=(width, None),
                             padding=dp(theme.padding), spacing=dp(spacing),
                             fill=rgba(p.surface), radius=dp(theme.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        anchor.add_widget(self.panel)
        self.add_widget(anchor)
        self.opacity = 0

    def _redraw(self, *_: object) -> None:
        self._scrim.pos, self._scrim.size = self.pos, self.size

    def on_touch_down(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_up(touch)
        return True
