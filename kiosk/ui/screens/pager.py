"""The previous / page n of m / next row that paged journey screens share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from kiosk.flow.screens import Action
from kiosk.flow.view import Content

if TYPE_CHECKING:
    from kiosk.ui.screens.base import KioskScreen


class Pager(BoxLayout):
    """Targets `<prefix>.previous-page` and `<prefix>.next-page`; hidden with one page."""

    def __init__(self, screen: KioskScreen, prefix: str) -> None:
        th, t = screen.theme, screen.ctx.t
        super().__init__(size_hint_y=None, height=dp(th.button_height), spacing=dp(th.spacing))
        self._t = t
        self.previous = screen.button(f"{prefix}.previous-page", Action.PREVIOUS_PAGE,
                                      primary=False, text=t("button.previous_page"))
        self.page = screen.text("body")
        self.page.size_hint_y = 1
        self.next = screen.button(f"{prefix}.next-page", Action.NEXT_PAGE, primary=False,
                                  text=t("button.next_page"))
        for widget in (self.previous, self.page, self.next):
            self.add_widget(widget)

    def on_touch_down(self, touch: Any) -> bool:
        # Hidden (one page) it must not take touches: a disabled widget swallows every touch
        # on it, and in a two-column landscape layout it may lie over another button.
        if self.opacity <= 0:
            return False
        return bool(super().on_touch_down(touch))

    def render(self, content: Content | None) -> None:
        page = content.page if content is not None else 0
        pages = max(content.page_count if content is not None else 1, 1)
        self.page.text = self._t("benefits.page", page=page + 1, pages=pages)
        self.previous.disabled = page <= 0
        self.next.disabled = page >= pages - 1
        self.opacity = 1 if pages > 1 else 0
        self.disabled = pages <= 1
