"""Every kiosk screen in a real (offscreen) window, driven through the automation hooks.

    python -m tests.kiosk.gallery OUTDIR [--theme elder|normal] [--language zh_CN|en]
                                         [--walk basics|services|ways|modes] [--size WxH]

Runs the real KioskApp with a scriptable fake card reader and a scripted edge (so every screen
can be reached without PC/SC or an edge server), walks a citizen's journey plus the failure
screens over HTTP (/automation/wait, tap, screenshot, texts), saves a PNG per step and writes
OUTDIR/gallery.json: {step: {"screen", "path", "texts", "layout", "failures"}}.

Every step's screen is checked (tests/kiosk/ui/screen_checks.py: text fits and nothing is
clipped or overlaps, touch targets big enough, contrast measured on the PNG); `failures` lists
what a check found. Exit status 0 when every step worked and every check passed.
test_window.py runs it as a subprocess; people run it to look at the screens, and
tests/kiosk/gallery_all.py runs every walk in every variant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from common.backoff import Backoff
from drivers.base import Health, HealthState
from drivers.card.fake import FakeCardReader
from drivers.card.interface import CardFailure, CardInserted, CardRead, CardRemoved
from kiosk.edge.errors import EdgeUnreachable
from kiosk.flow import FlowConfig, RetryPolicy
from tests.kiosk.fakes import ScriptedEdge, sample_benefits, sample_card, sample_opened

log = logging.getLogger("gallery")


class StepReader(FakeCardReader):
    """A FakeCardReader whose insert and read can be separated, to see the reading screen."""

    def insert_only(self) -> None:
        self._hub.publish(CardInserted(reader=self.name, atr="3B6800000073C84013009000"))

    def finish_read(self) -> None:
        card = sample_card()
        with self._lock:
            self._card = card
        self._hub.publish(CardRead(reader=self.name, data=card))

    def pull(self) -> None:
        self._hub.publish(CardRemoved(reader=self.name))


class GatedEdge(ScriptedEdge):
    """A ScriptedEdge whose answers wait while the gate is closed (to see the busy screens)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def _wait(self) -> None:
        self.gate.wait(30)

    def open_session(self, card: Any, *, idempotency_key: str) -> Any:
        self._wait()
        return super().open_session(card, idempotency_key=idempotency_key)

    def get_benefits(self, session_id: str) -> Any:
        self._wait()
        return super().get_benefits(session_id)

    def get_subsidies(self, session_id: str) -> Any:
        self._wait()
        return super().get_subsidies(session_id)

    def apply(self, session_id: str, draft: Any, *, idempotency_key: str) -> Any:
        self._wait()
        return super().apply(session_id, draft, idempotency_key=idempotency_key)

    def report_card_loss(self, citizen_id: str, pin: str, *, idempotency_key: str) -> Any:
        self._wait()
        return super().report_card_loss(citizen_id, pin, idempotency_key=idempotency_key)


class HeldScheduler:
    """Kivy's Clock, except that long waits (the idle quiet period) wait for `fire_held()`:
    the gallery shows the idle warning without sitting through 60 seconds."""

    def __init__(self) -> None:
        from kiosk.ui.app import ClockScheduler

        self._clock = ClockScheduler()
        self.held: list[Callable[[], None]] = []

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Any:
        if delay_s < 100:
            return self._clock.call_later(delay_s, callback)
        self.held.append(callback)
        held = self.held

        class Handle:
            def cancel(self) -> None:
                if callback in held:
                    held.remove(callback)

        return Handle()

    def fire_held(self) -> None:
        callbacks, self.held[:] = list(self.held), []
        for callback in callbacks:
            callback()


class Journey:
    """The script, run on its own thread against the automation HTTP API."""

    def __init__(self, url: str, out: Path, reader: StepReader, edge: GatedEdge,
                 on_ui: Callable[[Callable[[], None]], None], scheduler: HeldScheduler) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.out = out
        self.reader = reader
        self.edge = edge
        self.on_ui = on_ui
        self.scheduler = scheduler
        self.manifest: dict[str, dict[str, Any]] = {}
        self.theme = "elder"  # the device's theme: which touch-target minimum the checks apply

    def wait(self, screen: str) -> None:
        r = self.http.get("/automation/wait", params={"screen": screen, "timeout": 15})
        if r.status_code != 200:
            raise RuntimeError(f"waiting for {screen}: {r.status_code} {r.text}")

    def tap(self, target: str) -> None:
        r = self.http.post("/automation/tap", json={"target": target})
        if r.status_code != 200:
            raise RuntimeError(f"tap {target}: {r.status_code} {r.text}")

    def shot(self, step: str, screen: str) -> None:
        from tests.kiosk.ui.screen_checks import check_screen

        self.wait(screen)
        texts = self.http.get("/automation/texts").json()
        layout = self.http.get("/automation/layout").json()
        r = self.http.post("/automation/screenshot", json={"name": step})
        if r.status_code != 200:
            raise RuntimeError(f"screenshot {step}: {r.status_code} {r.text}")
        path = r.json()["path"]
        # The theme in effect on screen (a citizen may have switched it), else the device's.
        theme = texts.get("prefs", {}).get("theme") or self.theme
        failures = check_screen(Path(path), layout, theme)
        self.manifest[step] = {"screen": texts["screen"], "path": path,
                               "texts": texts["texts"], "layout": layout,
                               "failures": failures}
        for failure in failures:
            log.error("gallery: %s: %s", step, failure)
        log.info("gallery: %s", step)

    def failures(self) -> list[str]:
        return [f"{step}: {failure}" for step, shot in self.manifest.items()
                for failure in shot["failures"]]

    def type(self, text: str) -> None:
        for char in text:
            self.tap(f"keypad.key-{char}")

    def run(self) -> None:
        r, e = self.reader, self.edge
        self.shot("01-attract", "attract")

        r.insert_only()
        self.shot("02-reading", "reading")
        e.gate.clear()
        r.finish_read()
        self.shot("03-identifying", "identifying")
        e.gate.set()
        self.shot("04-home", "home")

        e.gate.clear()
        self.tap("home.benefits")
        self.shot("05-loading", "loading")
        e.gate.set()
        self.shot("06-benefits", "benefits")
        self.tap("benefits.next-page")
        self.shot("07-benefits-page-2", "benefits")
        self.tap("benefits.back")
        self.wait("home")
        self.tap("home.contributions")
        self.shot("07a-contributions", "contributions")
        self.tap("contributions.back")
        self.wait("home")
        self.tap("home.pension-account")
        self.shot("07b-pension-account", "pension-account")
        self.tap("pension-account.back")

        e.benefits_script[:] = [EdgeUnreachable("gallery"), sample_benefits()]
        self.tap("home.benefits")
        self.shot("08-message-edge-down", "message")
        self.tap("message.back")
        self.wait("home")

        self.on_ui(self.scheduler.fire_held)  # an idle minute passes
        self.shot("09-idle-warning", "home")
        self.tap("idle.extend")

        self.tap("end")  # a flow action works as a target too (one END button here)
        self.shot("10-ending", "ending")
        r.pull()
        self.wait("attract")

        r.insert_only()
        r.pull()  # pulled before the read finished
        self.shot("11-message-card-pulled", "message")
        self.tap("message.ok")
        self.wait("attract")

        e.open_script[:] = [sample_opened("ses_stale", stale=True)]
        e.benefits_script[:] = [sample_benefits(3, stale=True)]
        r.insert(sample_card())
        self.shot("12-home-stale", "home")
        self.tap("home.benefits")
        self.shot("13-benefits-stale", "benefits")
        r.remove()
        self.wait("attract")

        r.insert_failing(CardFailure.NEEDS_PSAM)
        self.shot("14-message-needs-psam", "message")
        r.remove()
        self.wait("attract")

        r.set_health(Health(HealthState.MISSING, "pcsc-unavailable", "pcscd is not running"))
        self.shot("15-attract-no-reader", "attract")


WALKS = ["basics", "services", "ways", "modes"]


def window_size(value: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    try:
        width, height = (int(v) for v in value.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not WxH, e.g. 1920x1080") from exc
    if min(width, height) < 320:
        raise argparse.ArgumentTypeError(f"{value!r}: at least 320 pixels a side")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--theme", default="elder", choices=["elder", "normal"])
    parser.add_argument("--language", default="zh_CN", choices=["zh_CN", "en"])
    parser.add_argument("--walk", default="basics", choices=WALKS)
    parser.add_argument("--size", type=window_size, default=(1080, 1920), metavar="WxH",
                        help="window size in pixels (1080x1920 portrait, 1920x1080 landscape)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    from common.logs import setup_logging
    from kiosk.settings import KioskSettings
    from kiosk.status_server import StatusServer
    from kiosk.ui import boot

    setup_logging("INFO")
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
    settings = KioskSettings(
        device_id="gallery-01", card_driver="none", theme=args.theme, language=args.language,
        automation=True, status_port=0, screenshots_dir=out,
        window_width=args.size[0], window_height=args.size[1],
    )
    boot.prepare_environment()
    boot.configure_kivy(settings)
    from kivy.clock import Clock

    from kiosk.ui.app import KioskApp, post_to_ui
    from kiosk.ui.theme import page_sizes

    reader, edge, scheduler = StepReader(), GatedEdge(), HeldScheduler()
    status = StatusServer("127.0.0.1", 0)
    config = FlowConfig(idle_timeout_s=3600, idle_warning_s=30, message_hold_s=600,
                        page_size=page_sizes(*args.size)[args.theme],
                        retry=RetryPolicy(backoff=Backoff(initial_s=300, max_s=300, jitter=0)))
    ports: dict[str, Any] = {}
    walk: type[Journey] = Journey
    if args.walk == "services":
        from tests.kiosk.services_gallery import ServicesWalk

        walk = ServicesWalk
    elif args.walk == "ways":
        from tests.kiosk.ways_gallery import WaysWalk, ways_ports

        walk, ports = WaysWalk, ways_ports()
    elif args.walk == "modes":
        from tests.kiosk import modes_gallery  # another walk's module; its ports are optional

        walk = modes_gallery.ModesWalk
        make_ports = getattr(modes_gallery, "modes_ports", None)
        ports = make_ports() if callable(make_ports) else {}
    app = KioskApp(settings, reader, edge, status=status, scheduler=scheduler,
                   flow_config=config, **ports)
    journey = walk(status.url, out, reader, edge, post_to_ui, scheduler)
    journey.theme = args.theme
    failed: list[str] = []

    def script() -> None:
        try:
            journey.run()
        except Exception:
            failed.append(traceback.format_exc())
        finally:
            (out / "gallery.json").write_text(
                json.dumps(journey.manifest, ensure_ascii=False, indent=1)
            )
            Clock.schedule_once(lambda _dt: app.stop(), 0)

    Clock.schedule_once(lambda _dt: threading.Thread(target=script, daemon=True).start(), 0)
    app.run()
    if failed:
        print(failed[0], file=sys.stderr)
        return 1
    problems = journey.failures()
    if problems:
        print(f"{len(problems)} screen check(s) failed:", *problems, sep="\n", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
