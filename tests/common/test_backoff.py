import pytest

from common.backoff import Backoff


def test_exact_delays_grow_exponentially_up_to_the_cap():
    b = Backoff(initial_s=1.0, max_s=10.0, factor=2.0, jitter=0)
    assert [b.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_stays_within_its_fraction_of_the_capped_delay():
    b = Backoff(initial_s=4.0, max_s=4.0, jitter=0.5)
    assert b.delay(1, rand=lambda: 0.0) == 2.0
    assert b.delay(1, rand=lambda: 1.0) == 4.0


def test_retry_after_is_honoured_up_to_the_cap():
    b = Backoff(initial_s=1.0, max_s=30.0, jitter=0)
    assert b.delay(1, retry_after_s=12) == 12
    assert b.delay(1, retry_after_s=3600) == 30.0
    assert b.delay(1, retry_after_s=-5) == 1.0


def test_a_long_outage_does_not_overflow():
    assert Backoff(jitter=0).delay(10_000) == 30.0


@pytest.mark.parametrize(
    "kwargs", [{"initial_s": 0}, {"initial_s": 5, "max_s": 1}, {"factor": 0.5}, {"jitter": 2}]
)
def test_nonsense_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)
