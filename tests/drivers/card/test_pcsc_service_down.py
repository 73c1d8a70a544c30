"""pcscd going away and coming back: health says so, and the driver recovers by itself."""

from __future__ import annotations

from drivers.base import HealthChanged, HealthState
from drivers.card.interface import CardFailure, CardInserted, CardRead, CardReadError
from drivers.card.pcsc import PcscCardReader
from simulators.card.applet import SscCard
from tests.drivers.card.conftest import EventLog
from tests.simulators.card.vcard import CardSlot


def _restart_in_place(process) -> None:
    """Start the stopped pcscd again as the same ManagedProcess, so the session fixtures that
    hold it (pcscd_process) stay valid for later tests. Same socket path and vpcd ports, so
    libpcsclite's per-process cached socket name still points at it."""
    process.start()
    process.wait_ready()


def test_pcscd_down_is_pcsc_unavailable_and_the_driver_recovers(
    pcscd, pcscd_process, population
):
    driver = PcscCardReader("Virtual PCD 00 00", poll_timeout_s=0.2)
    late = PcscCardReader("Virtual PCD 00 00")
    reuser = PcscCardReader("Virtual PCD 00 00")  # read() keeps its context between reads
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    try:
        assert log.next(HealthChanged).health.code == "ok"
        try:
            reuser.read()  # no card: REMOVED, and the context is kept for the next read
        except CardReadError as exc:
            assert exc.failure is CardFailure.REMOVED

        pcscd_process.stop()
        try:
            down = log.next(HealthChanged).health
            assert (down.state, down.code) == (HealthState.MISSING, "pcsc-unavailable")
            assert driver.health().code == "pcsc-unavailable"
            # A reader started while pcscd is down says the same, without raising.
            late_log = EventLog()
            late.subscribe(late_log)
            late.start()
            assert late_log.next(HealthChanged).health.code == "pcsc-unavailable"
            try:
                PcscCardReader().read()
            except CardReadError as exc:
                assert exc.failure is CardFailure.READER_UNAVAILABLE
            else:
                raise AssertionError("read() without pcscd must fail")
        finally:
            _restart_in_place(pcscd_process)

        assert log.next(HealthChanged).health.code == "ok"
        assert late_log.next(HealthChanged).health.code == "ok"

        # Fully back: a card inserted now is read.
        citizen = next(
            population.citizen(i) for i in range(population.size)
            if population.citizen(i).current_card.generation == 2
        )
        with CardSlot(pcscd.vpcd_port) as slot:
            slot.insert(SscCard.from_citizen(citizen))
            assert isinstance(log.next(), CardInserted)
            event = log.next()
            assert isinstance(event, CardRead), event
            # The context read() kept is from the pcscd that went: it takes a fresh one.
            assert reuser.read().citizen_id == citizen.citizen_id
    finally:
        driver.stop()
        late.stop()  # idempotent, and a no-op when it never started
