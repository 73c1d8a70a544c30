"""Field mode's queue banner, always on screen: "待发送 N 条 · 上次同步 HH:MM".

`banner_text` is the wording (tested without a display); `FieldQueueBanner` is the label the
app mounts in its chrome in field mode and feeds from kiosk.field.queue_poll.QueuePoller (on
the UI thread)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from common.clock import to_china
from kiosk.field.edge_calls import FieldQueue
from kiosk.i18n import Translator

# Until the catalogues carry these keys (kiosk/i18n, requested), the Chinese default shows.
_DEFAULTS = {
    "field.queue.banner": "待发送 {waiting} 条 · 上次同步 {last}",
    "field.queue.never": "尚未同步",
    "field.queue.unknown": "待发送 — 条 · 队列暂不可读",
}


def _text(t: Translator, key: str, **params: Any) -> str:
    return t(key, **params) if t.has(key) else _DEFAULTS[key].format(**params)


def banner_text(t: Translator, queue: FieldQueue | None, now: dt.datetime) -> str:
    """The banner's one line. The last sync is shown as China time HH:MM, with the date when
    it was not today."""
    if queue is None:
        return _text(t, "field.queue.unknown")
    if queue.last_sync_at is None:
        last = _text(t, "field.queue.never")
    else:
        at, today = to_china(queue.last_sync_at), to_china(now)
        last = f"{at:%H:%M}" if at.date() == today.date() else f"{at:%m-%d %H:%M}"
    return _text(t, "field.queue.banner", waiting=queue.waiting, last=last)


def make_banner(theme: Any, t: Translator) -> Any:
    """The banner label (Kivy imported here: the wording above needs no display)."""
    from kiosk.ui.widgets import Text

    class FieldQueueBanner(Text):  # type: ignore[misc, valid-type]
        def show(self, queue: FieldQueue | None, now: dt.datetime) -> None:
            self.text = banner_text(t, queue, now)

    banner = FieldQueueBanner(theme, "body", halign="center")
    banner.text = banner_text(t, None, dt.datetime.now(dt.UTC))
    return banner
