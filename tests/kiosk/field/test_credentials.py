import datetime as dt

import pytest

from common import staff_file
from kiosk.field.credentials import StaffCredentials
from kiosk.field.session import StaffSessions
from provisioning import staff

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.mono = 1000.0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def files(tmp_path):
    path = tmp_path / "staff.json"
    staff.add(path, "S-1001", "246810", valid_days=2, now=NOW, n=staff.MIN_N)
    staff.add(path, "S-1002", "135790", valid_days=30, now=NOW, n=staff.MIN_N)
    return path, tmp_path / "state" / "lockout.json"


def test_right_pin_logs_in_offline_and_wrong_ones_count_down(files):
    clock = Clock()
    creds = StaffCredentials(*files, clock=clock)
    assert creds.check("S-1001", "246810").ok
    wrong = creds.check("S-1001", "000000")
    assert (wrong.outcome, wrong.failures_left) == ("wrong", 4)
    assert creds.check("nobody", "246810").failures_left == 3  # unknown IDs count too
    assert creds.check("S-1001", "246810").ok  # a success resets the count
    assert creds.check("S-1001", "000001").failures_left == 4


def test_five_failures_lock_the_terminal_across_a_restart_until_the_period_ends(files):
    clock = Clock()
    creds = StaffCredentials(*files, clock=clock, lockout_s=600)
    outcomes = [creds.check("S-1002", f"00000{n}").outcome for n in range(5)]
    assert outcomes == ["wrong"] * 4 + ["locked"]
    # A new process (restart, power cut) reads the same state: still locked, even for the
    # right PIN of another staff member.
    again = StaffCredentials(*files, clock=clock, lockout_s=600)
    assert again.check("S-1001", "246810").outcome == "locked"
    assert again.locked_until() == NOW + dt.timedelta(seconds=600)
    clock.advance(601)
    assert again.locked_until() is None
    assert again.check("S-1001", "246810").ok


def test_an_attempt_is_counted_before_the_check_so_a_cut_gives_no_guess_back(files):
    clock = Clock()
    creds = StaffCredentials(*files, clock=clock)
    creds.check("S-1001", "000000")
    # As if the power went during the second check: the count was written first.
    state = creds.lockout.read()
    state.failures += 1
    creds.lockout.write(state)
    assert StaffCredentials(*files, clock=clock).check("S-1001", "000000").failures_left == 2


def test_a_damaged_lockout_state_fails_closed(files):
    staff_path, state_path = files
    state_path.parent.mkdir(parents=True)
    state_path.write_text("{not json")
    assert StaffCredentials(staff_path, state_path).check("S-1001", "246810").outcome == (
        "locked")


def test_an_expired_credential_is_refused_even_with_the_right_pin(files):
    clock = Clock()
    clock.advance(2 * 86400)
    creds = StaffCredentials(*files, clock=clock)
    assert creds.check("S-1001", "246810").outcome == "expired"
    assert creds.check("S-1002", "135790").ok


def test_a_missing_staff_file_is_unavailable_not_a_crash(tmp_path):
    creds = StaffCredentials(tmp_path / "none.json", tmp_path / "lock.json")
    assert creds.check("S-1001", "246810").outcome == "unavailable"


def test_the_staff_session_spans_citizens_and_ends_on_idle_and_expiry(files):
    clock = Clock()
    sessions = StaffSessions(StaffCredentials(*files, clock=clock), max_s=3600, idle_s=300,
                             monotonic=lambda: clock.mono)
    assert sessions.current() is None
    assert not sessions.login("S-1001", "999999").ok and sessions.current() is None
    assert sessions.login("S-1001", "246810").ok
    for _ in range(20):  # many citizens, each within the idle limit
        clock.advance(120)
        assert sessions.certified_one() is not None
    found = sessions.current()
    assert found is not None and found.citizens == 20 and found.staff_id == "S-1001"
    clock.advance(299)
    assert sessions.current() is not None
    clock.advance(1)
    assert sessions.current() is None  # idle
    assert sessions.login("S-1002", "135790").ok
    for _ in range(13):
        clock.advance(290)
        sessions.touch()
    assert sessions.current() is None  # expired (max_s) despite activity
    assert sessions.login("S-1002", "135790").ok
    sessions.logout()
    assert sessions.current() is None


def test_the_kiosk_reads_what_provisioning_writes(tmp_path):
    path = tmp_path / "staff.json"
    staff.add(path, "S-3001", "97531864", valid_days=5, now=NOW, n=staff.MIN_N)
    read = staff_file.load(path)["S-3001"]
    written = staff.load(path)["S-3001"]
    assert (read.salt, read.digest, read.n, read.expires_at) == (
        written.salt, written.digest, written.n, written.expires_at)
    assert read.matches("97531864") and not read.matches("97531865")
    assert (staff_file.FORMAT, staff_file.DEFAULT_N, staff_file.MIN_N) == (
        staff.FORMAT, staff.DEFAULT_N, staff.MIN_N)
