"""The agent's health collection: the kiosk probe and the host (fleet.agent.health)."""

from __future__ import annotations

import threading
from pathlib import Path

from fleet.agent.health import KioskProbe, system_health
from fleet.agent.state import PeripheralMemory
from tests.fleet.agent.support import Trickler
from tests.fleet.support import FakeKiosk, kiosk_status


def test_kiosk_probe_reads_the_status_endpoint(tmp_path: Path) -> None:
    kiosk = FakeKiosk()
    kiosk.status = kiosk_status()
    kiosk.status["peripherals"]["printer"] = {"state": "paper-low?", "code": "paper-low"}
    kiosk.start()
    try:
        probe = KioskProbe(kiosk.url, 1.0, PeripheralMemory(tmp_path), expected=[])
        report = probe.report()
    finally:
        kiosk.stop()
    assert report.kiosk.reachable and report.kiosk.screen == "attract"
    assert probe.last_app_version == "2.3.4"
    assert report.peripherals["card_reader"].state == "ok"
    printer = report.peripherals["printer"]
    assert (printer.state, printer.code) == ("degraded", "paper-low")  # unknown state word

    # Kiosk gone, agent restarted: the peripherals it last reported are reported missing.
    probe = KioskProbe(kiosk.url, 0.5, PeripheralMemory(tmp_path), expected=["camera"])
    down = probe.report()
    assert not down.kiosk.reachable
    assert set(down.peripherals) == {"card_reader", "printer", "camera"}
    assert {(p.state, p.code) for p in down.peripherals.values()} == {
        ("missing", "kiosk-unreachable")
    }
    probe.close()


def test_system_health_is_plausible(tmp_path: Path) -> None:
    health = system_health(tmp_path)
    assert 0 <= health.memory_percent <= 100
    assert 0 <= health.disk_percent <= 100
    assert health.uptime_s > 0


def test_a_trickling_kiosk_is_given_up_at_the_deadline(tmp_path: Path) -> None:
    trickler = Trickler()
    probe = KioskProbe(f"http://127.0.0.1:{trickler.port}/status", 0.5, PeripheralMemory(tmp_path),
                       expected=["card_reader"])
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(probe.report().kiosk.reachable))
    try:
        worker.start()
        worker.join(10)  # per-read timeouts alone would never end: a byte comes every 0.2 s
        assert done == [False]
    finally:
        trickler.close()

