import datetime as dt
import threading

from kiosk.field.edge_calls import FieldQueue
from kiosk.field.queue_poll import QueuePoller
from kiosk.i18n import Translator
from kiosk.ui.screens.field_banner import banner_text

NOW = dt.datetime(2026, 12, 2, 6, 30, tzinfo=dt.UTC)  # 14:30 in China


def test_the_banner_says_how_many_wait_and_when_the_last_sync_was():
    t = Translator("zh_CN")
    synced = FieldQueue(waiting=17, last_sync_at=dt.datetime(2026, 12, 2, 0, 5, tzinfo=dt.UTC))
    assert banner_text(t, synced, NOW) == "待发送 17 条 · 上次同步 08:05"
    yesterday = FieldQueue(waiting=3, last_sync_at=NOW - dt.timedelta(days=1))
    assert banner_text(t, yesterday, NOW) == "待发送 3 条 · 上次同步 12-01 14:30"
    assert banner_text(t, FieldQueue(waiting=0), NOW) == "待发送 0 条 · 上次同步 尚未同步"
    assert "待发送" in banner_text(t, None, NOW)


class Port:
    def __init__(self) -> None:
        self.calls = 0
        self.polled = threading.Event()

    def field_queue(self) -> FieldQueue:
        self.calls += 1
        if self.calls == 2:
            raise ConnectionError("edge restarting")
        if self.calls >= 3:
            self.polled.set()
        return FieldQueue(waiting=self.calls)


def test_the_poller_keeps_the_figures_current_and_shows_an_outage_as_unknown():
    port = Port()
    seen: list[FieldQueue | None] = []
    poller = QueuePoller(port, seen.append, interval_s=0.01)  # type: ignore[arg-type]
    poller.start()
    assert port.polled.wait(5)
    poller.stop()
    assert seen[0] == FieldQueue(waiting=1) and seen[1] is None
    assert seen[2] == FieldQueue(waiting=3)
