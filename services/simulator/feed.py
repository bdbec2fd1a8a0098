"""The simulated feed: a province's filing events over a time range, in delivery order.

Deterministic: the same `FeedConfig` gives the same lines, byte for byte. Each part (units,
arrivals, lifecycles, delivery) draws from its own `random.Random` derived from the seed, so
changing the delivery rates leaves the underlying filings unchanged. Nothing reads the clock:
the time range comes in through the config.
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.contract.units import (
    DEFAULT_PROVINCE,
    department_sizes,
    province_code,
    province_units,
    resolve_province,
)
from services.simulator.arrivals import UnitMix, arrivals
from services.simulator.delivery import Delivery, DeliveryRates, deliver
from services.simulator.lifecycle import Event, LifecycleShares, filing_events
from services.simulator.localtime import DAY, to_epoch
from services.simulator.profiles import unit_profiles

TREND_DAYS_WITHOUT_END = 365


@dataclass(frozen=True)
class FeedConfig:
    start: datetime  # timezone-aware
    end: datetime | None = None  # exclusive; None: the feed never ends (live mode)
    seed: int = 0
    province: int | str = DEFAULT_PROVINCE
    filings_per_day: float = 3000.0  # on a working day, the whole province
    online_share_start: float = 0.55  # of a working day's filings, at `start` ...
    online_share_end: float = 0.70  # ... moving linearly to this at `end`
    postal_share: float = 0.03  # of filings not made online
    shares: LifecycleShares = field(default_factory=LifecycleShares)
    delivery: DeliveryRates = field(default_factory=DeliveryRates)
    source: str | None = None  # default `motcua.<province code>`
    run_tag: str | None = None  # goes into filing ids; default from the seed

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.filings_per_day < 0:
            raise ValueError("filings_per_day cannot be negative")
        # Both go into every event id, so they must fit that field's pattern and length.
        for name in ("source", "run_tag"):
            value = getattr(self, name)
            if value is not None and not re.fullmatch(r"[A-Za-z0-9._:@/-]{1,40}", value):
                raise ValueError(f"{name} must be 1 to 40 of A-Z a-z 0-9 . _ : @ / -")
        for name in ("online_share_start", "online_share_end", "postal_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    number = abs(number)
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if number == 0:
            return text


class Feed:
    """One run of the simulator: iterate it once for `Delivery` items in delivery order.

    Its random streams advance as it goes, so a second pass needs a new `Feed`.
    """

    def __init__(self, config: FeedConfig):
        self.config = config
        province = resolve_province(config.province)
        self.province_code = province_code(province)
        self.source = config.source or f"motcua.{self.province_code}"
        self.run_tag = config.run_tag or ("n" if config.seed < 0 else "") + _base36(config.seed)[-8:]
        self.start = to_epoch(config.start)
        self.end = to_epoch(config.end) if config.end is not None else None
        trend_end = self.end if self.end is not None else self.start + TREND_DAYS_WITHOUT_END * DAY
        self._trend_span = max(trend_end - self.start, 1)
        self.units = province_units(province.codename)
        seed = config.seed
        self._mix = UnitMix(self.units, department_sizes(province.codename),
                            random.Random(f"{seed}:units"))
        # Its own stream, so that adding habits leaves the units' sizes and the arrivals as they were.
        self.profiles = unit_profiles(self.units, config.shares, random.Random(f"{seed}:profiles"))
        self._arrivals_rng = random.Random(f"{seed}:arrivals")
        self._lifecycle_rng = random.Random(f"{seed}:lifecycle")
        self._delivery_rng = random.Random(f"{seed}:delivery")

    def online_share(self, ts: int) -> float:
        """The configured online share of working-day filings at `ts` (linear trend)."""
        c = self.config
        progress = min(max((ts - self.start) / self._trend_span, 0.0), 1.0)
        return c.online_share_start + (c.online_share_end - c.online_share_start) * progress

    def events(self) -> Iterator[tuple[int, Event]]:
        """Every event in the order it happened, as (epoch seconds, event), before delivery."""
        c = self.config
        end = self.end
        pending: list[tuple[int, int, Event]] = []  # later events of filings already received
        seq = 0
        prefix = f"H{self.province_code}.{self.run_tag}-"
        for number, arrival in enumerate(
                arrivals(self._arrivals_rng, self._mix, self.start, end, c.filings_per_day,
                         self.online_share, c.postal_share), start=1):
            while pending and pending[0][0] <= arrival.ts:
                ts, _, event = heapq.heappop(pending)
                yield ts, event
            lifecycle = filing_events(self._lifecycle_rng, c.shares, self.profiles[arrival.unit.code],
                                      arrival, f"{prefix}{number:07d}", self.source)
            yield lifecycle[0]
            for ts, event in lifecycle[1:]:
                if end is None or ts < end:  # a filing still open at `end` stays open
                    seq += 1
                    heapq.heappush(pending, (ts, seq, event))
        while pending:
            ts, _, event = heapq.heappop(pending)
            yield ts, event

    def __iter__(self) -> Iterator[Delivery]:
        return deliver(self._delivery_rng, self.config.delivery, self.events(), self.end)


def generate(config: FeedConfig) -> Iterator[Delivery]:
    """The feed of `config` in delivery order."""
    return iter(Feed(config))



def generate_provinces(config: FeedConfig, provinces: Sequence[int | str]) -> Iterator[Delivery]:
    """Several provinces' feeds merged in delivery order: `config` for each province, with the
    province's own seed (`config.seed` plus its position) so that the provinces do not move in step.

    `config.filings_per_day` is per province; event and filing ids carry the province's code, so
    the feeds never collide.
    """
    if not provinces:
        raise ValueError("provinces: name at least one")
    feeds = [generate(replace(config, province=province, seed=config.seed + i))
             for i, province in enumerate(provinces)]
    return heapq.merge(*feeds, key=lambda item: item.deliver_at)
