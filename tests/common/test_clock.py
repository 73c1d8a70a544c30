import datetime as dt

import pytest

from common.clock import CHINA_TZ, Deadline, iso_utc, to_china, utc_now


def test_utc_now_is_aware_utc():
    now = utc_now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)


def test_china_time_is_utc_plus_eight_all_year():
    summer = dt.datetime(2026, 7, 1, 16, 30, tzinfo=dt.UTC)
    winter = dt.datetime(2026, 1, 1, 16, 30, tzinfo=dt.UTC)
    assert to_china(summer).hour == 0 and to_china(summer).day == 2
    assert to_china(winter).utcoffset() == dt.timedelta(hours=8)
    assert CHINA_TZ.utcoffset(None) == dt.timedelta(hours=8)


def test_iso_utc_is_second_precision_with_z():
    moment = dt.datetime(2026, 12, 1, 8, 0, 5, 999_999, tzinfo=CHINA_TZ)
    assert iso_utc(moment) == "2026-12-01T00:00:05Z"


@pytest.mark.parametrize("fn", [iso_utc, to_china])
def test_naive_datetimes_are_refused(fn):
    with pytest.raises(ValueError, match="naive"):
        fn(dt.datetime(2026, 1, 1))


def test_deadline_counts_down_on_its_clock_and_never_below_zero():
    now = [100.0]
    deadline = Deadline(5.0, clock=lambda: now[0])
    assert deadline.remaining() == 5.0 and not deadline.expired
    now[0] = 103.5
    assert deadline.remaining() == pytest.approx(1.5)
    now[0] = 200.0
    assert deadline.remaining() == 0.0 and deadline.expired
