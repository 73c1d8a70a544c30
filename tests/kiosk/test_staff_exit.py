"""A real kiosk process (offscreen, as services.kiosk() starts it): ESC and the back key do not
quit, the hidden staff gesture and PIN do, with exit status 0, and a crash exits non-zero.

Those exit statuses are what deploy/systemd/hrss-kiosk.service's Restart=on-failure acts on:
0 (staff exit, SIGTERM) stays stopped, anything else is restarted. Keys and the corner taps go
through POST /automation/input (a key press dispatched as SDL's window does it, a touch at a
point); the keypad's buttons through /automation/tap, as a finger would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.staff_file import MIN_N
from kiosk.ui.staff_exit import ExitPin
from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.requirements import MissingSystemPackage, require
from simulators.stack.supervisor import ManagedProcess, ProcessFailed, Supervisor
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for

PIN = "246810"
WRONG = "135799"
ESC, ANDROID_BACK, SDL_AC_BACK = 27, 1001, 1073742094  # SDLK_AC_BACK, unmapped off Android
CORNER = [0.01, 0.99]  # fractions of the window from the bottom left: the top-left corner

# The kiosk's own CLI with one change: once the file named by $CRASH_WHEN appears, a Clock
# callback raises on the UI thread, i.e. the Kivy event loop dies of an unhandled exception.
CRASHING_KIOSK = """
import os, sys
from kiosk.ui import boot
configure = boot.configure_kivy
def configure_then_arm(settings):
    configure(settings)
    from kivy.clock import Clock
    def check(_dt):
        if os.path.exists(os.environ["CRASH_WHEN"]):
            raise RuntimeError("test: the event loop fails")
    Clock.schedule_interval(check, 0.1)
boot.configure_kivy = configure_then_arm
sys.argv = ["kioskctl", *sys.argv[1:]]
from kioskctl.cli import main
main()
"""


class Kiosk:
    def __init__(self, process: ManagedProcess, url: str) -> None:
        self.process = process
        self.http = httpx.Client(base_url=url, timeout=30)

    def at(self, screen: str) -> None:
        r = self.http.get("/automation/wait", params={"screen": screen, "timeout": 30})
        assert r.status_code == 200, r.text

    def key(self, code: int) -> dict[str, str]:
        r = self.http.post("/automation/input", json={"key": code})
        assert r.status_code == 200, r.text
        return r.json()

    def corner_taps(self, n: int = 5) -> None:
        for _ in range(n):
            r = self.http.post("/automation/input", json={"at": CORNER})
            assert r.status_code == 200, r.text

    def tap(self, target: str) -> None:
        r = self.http.post("/automation/tap", json={"target": target})
        assert r.status_code == 200, r.text

    def enter(self, pin: str) -> None:
        for digit in pin:
            self.tap(f"staff-exit.key-{digit}")
        self.tap("staff-exit.ok")

    def targets(self) -> list[str]:
        targets: list[str] = self.http.get("/automation/texts").json()["targets"]
        return targets

    def keypad_shown(self) -> bool:
        return "staff-exit.ok" in self.targets()

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")


def _start(sup: Supervisor, tmp_path: Path, crash_script: bool = False,
           **settings: str) -> Kiosk:
    env = {"KIOSK_PERIPHERALS__CARD": "absent",
           # The cheapest scrypt allowed keeps each check fast on a loaded machine.
           "KIOSK_STAFF_EXIT_PIN_HASH": ExitPin.new(PIN, n=MIN_N).encoded(),
           **{f"KIOSK_{k.upper()}": v for k, v in settings.items()}}
    try:
        require("cjk-font")
        service = services.kiosk(
            tmp_path / "kiosk", device_id="kiosk-test-01", device_token="dev1.kiosk-test-01.x",
            pcscd_env={}, edge_url=f"http://127.0.0.1:{free_port()}", extra_env=env,
        )
        spec = service.spec
        if crash_script:
            assert spec.argv[1:3] == ["-m", "kioskctl"], spec.argv
            spec = dataclasses.replace(
                spec, argv=[sys.executable, "-c", CRASHING_KIOSK, *spec.argv[3:]],
                env={**spec.env, "CRASH_WHEN": str(tmp_path / "crash-now")})
        process = sup.start(spec)
    except (MissingSystemPackage, ProcessFailed) as exc:
        fail_on_missing(exc)
    kiosk = Kiosk(process, service.url)
    kiosk.at("attract")
    return kiosk


@pytest.fixture
def sup(tmp_path: Path) -> Iterator[Supervisor]:
    with supervised(tmp_path / "logs") as supervisor:
        yield supervisor


def _exited(process: ManagedProcess) -> bool:
    return not process.alive()


def test_escape_and_back_keys_do_not_quit_or_go_back(sup: Supervisor, tmp_path: Path) -> None:
    kiosk = _start(sup, tmp_path)
    for code in (ESC, ANDROID_BACK, SDL_AC_BACK):
        assert kiosk.key(code) == {"screen_before": "attract", "screen": "attract"}
    # On a journey's screen too: the keys neither quit nor step back.
    r = kiosk.http.post("/automation/tap", json={"target": "attract.card-loss"})
    assert r.status_code == 200, r.text
    journey = r.json()["screen"]
    assert journey != "attract"
    for code in (ESC, ANDROID_BACK, SDL_AC_BACK):
        assert kiosk.key(code) == {"screen_before": journey, "screen": journey}
    # The corner gesture during a citizen's journey opens nothing.
    kiosk.corner_taps(6)
    assert not kiosk.keypad_shown()
    assert kiosk.process.alive()
    assert kiosk.http.get("/status").json()["screen"] == journey
    assert "kiosk stopping" not in kiosk.log()


def test_the_gesture_and_a_wrong_pin_keep_it_running_the_right_pin_exits_0(
    sup: Supervisor, tmp_path: Path,
) -> None:
    kiosk = _start(sup, tmp_path)
    kiosk.corner_taps(4)
    assert not kiosk.keypad_shown()  # four are not enough
    kiosk.corner_taps(1)
    texts = kiosk.http.get("/automation/texts").json()
    assert "工作人员退出" in texts["texts"] and "staff-exit.key-0" in texts["targets"]
    assert "attract.card-loss" not in texts["targets"]  # modal: nothing under it is reachable

    kiosk.enter(WRONG)
    assert "密码错误，还可以再试 2 次" in kiosk.http.get("/automation/texts").json()["texts"]
    assert kiosk.process.alive()
    kiosk.tap("staff-exit.cancel")
    assert not kiosk.keypad_shown()
    assert kiosk.process.alive()

    kiosk.corner_taps()
    for digit in PIN:
        kiosk.tap(f"staff-exit.key-{digit}")
    # The answer to the last tap may be cut off: the status server stops with the kiosk.
    with contextlib.suppress(httpx.TransportError):
        kiosk.http.post("/automation/tap", json={"target": "staff-exit.ok"})
    wait_for(lambda: _exited(kiosk.process), "the kiosk to exit", timeout=30)
    log = kiosk.log()
    assert kiosk.process.returncode() == 0, log[-3000:]
    assert "staff exit: wrong PIN (1 of 3)" in log and "staff exit: PIN accepted" in log
    assert "kiosk stopped" in log and "Traceback" not in log
    assert PIN not in log and WRONG not in log
    assert "key-*" in log and not any(f"key-{d}" in log for d in "0123456789")


def test_the_keypad_closes_by_itself_and_three_wrong_pins_lock_it(
    sup: Supervisor, tmp_path: Path,
) -> None:
    # 8 s: long enough between two scripted taps on a loaded machine (a key restarts it).
    kiosk = _start(sup, tmp_path, staff_exit_timeout_s="8", staff_exit_lockout_s="600")
    kiosk.corner_taps()
    assert kiosk.keypad_shown()
    wait_for(lambda: not kiosk.keypad_shown(), "the keypad to close by itself", timeout=30)
    assert "staff exit keypad closed: no key for 8 s" in kiosk.log()

    kiosk.corner_taps()
    for _ in range(3):
        assert kiosk.keypad_shown()
        kiosk.enter(WRONG)
    assert not kiosk.keypad_shown()
    kiosk.corner_taps()
    assert not kiosk.keypad_shown()  # locked out
    assert "the gesture is locked for 600 s" in kiosk.log()
    assert kiosk.process.alive()

    # kill -9 (the OOM killer, a hang systemd gives up on): a status systemd restarts after.
    kiosk.process.kill()
    assert kiosk.process.returncode() == -9


def test_a_crashed_event_loop_exits_non_zero(sup: Supervisor, tmp_path: Path) -> None:
    kiosk = _start(sup, tmp_path, crash_script=True)
    (tmp_path / "crash-now").touch()
    wait_for(lambda: _exited(kiosk.process), "the kiosk to exit", timeout=30)
    log = kiosk.log()
    assert kiosk.process.returncode() == 1, log[-3000:]
    assert "kiosk event loop failed" in log and "test: the event loop fails" in log
