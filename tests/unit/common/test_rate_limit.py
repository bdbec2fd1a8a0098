"""The token bucket behind the 429s, on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.rate_limit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(rate: float = 2.0, burst: int = 3, **kwargs: int) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(rate, burst, clock=clock, **kwargs), clock


def test_a_burst_goes_through_then_the_next_waits_one_token_time() -> None:
    limit, _ = limiter(rate=2.0, burst=3)
    assert [limit.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.take("a") == pytest.approx(0.5)  # one token at 2 a second


def test_tokens_come_back_at_the_rate() -> None:
    limit, clock = limiter(rate=2.0, burst=3)
    for _ in range(3):
        limit.take("a")
    clock.now += 0.25
    assert limit.take("a") == pytest.approx(0.25)  # half a token there, half to wait for
    clock.now += 1.0  # two more tokens: 0.5 + 2 = 2.5
    assert [limit.take("a") for _ in range(2)] == [0.0, 0.0]
    assert limit.take("a") > 0


def test_a_long_pause_refills_no_more_than_the_burst() -> None:
    limit, clock = limiter(rate=2.0, burst=3)
    limit.take("a")
    clock.now += 3600
    assert [limit.take("a") == 0.0 for _ in range(4)] == [True, True, True, False]


def test_callers_have_their_own_buckets() -> None:
    limit, _ = limiter(rate=1.0, burst=1)
    assert limit.take("a") == 0.0
    assert limit.take("a") > 0
    assert limit.take("b") == 0.0


def test_a_clock_stepping_back_neither_refills_nor_drains() -> None:
    limit, clock = limiter(rate=1.0, burst=2)
    limit.take("a")
    clock.now -= 50
    assert limit.take("a") == 0.0  # the one token left is still there
    assert limit.take("a") > 0


def test_memory_is_bounded_by_forgetting_the_least_recently_seen() -> None:
    limit, _ = limiter(rate=1.0, burst=1, max_callers=3)
    for caller in ("a", "b", "c"):
        limit.take(caller)
    limit.take("a")  # a is now the most recent
    limit.take("d")  # so b goes
    assert len(limit) == 3
    assert limit.take("a") > 0 and limit.take("c") > 0  # still remembered as spent
    assert limit.take("b") == 0.0  # forgotten: a fresh bucket


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)


@pytest.mark.parametrize(("wait", "header"), [(0.001, "1"), (1.0, "1"), (1.01, "2"), (29.5, "30")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after(wait) == header


@given(rate=st.floats(0.5, 50), burst=st.integers(1, 20),
       gaps=st.lists(st.floats(0, 2), min_size=1, max_size=200))
def test_never_more_than_the_burst_plus_the_rate_over_any_window(rate: float, burst: int,
                                                                 gaps: list[float]) -> None:
    """Whatever the timing of requests, those let through in [t0, t1] are at most burst + rate*(t1-t0),
    and a caller told to wait w gets through if it comes back after w."""
    limit, clock = limiter(rate=rate, burst=burst)
    allowed: list[float] = []
    for gap in gaps:
        clock.now += gap
        wait = limit.take("a")
        if wait == 0.0:
            allowed.append(clock.now)
        else:
            assert wait <= 1 / rate + 1e-9
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            assert j - i + 1 <= burst + rate * (allowed[j] - start) + 1e-6
    while (wait := limit.take("a")) == 0.0:
        pass  # spend what is left
    clock.now += wait + 1e-9
    assert limit.take("a") == 0.0
