"""When filings arrive, at which unit, by which channel, for which procedure.

Two demand streams per day: online filings spread over 24 hours (peaking in office hours, some
at night and on weekends) and counter filings (in person or by post) only in office hours,
weekdays plus Saturday mornings. The online share of the day splits the day's demand between
them, so it moves with the configured trend while the hourly shapes stay realistic.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import NamedTuple

from services.contract.units import COMMUNE, DEPARTMENT, OFFICE, PROVINCE, SPECIAL_ZONE, WARD, Unit
from services.simulator.calibration import COMMUNE_VOLUMES
from services.simulator.localtime import HOUR, day_start, local_day, weekday
from services.simulator.procedures import Procedure, procedures_for
from services.simulator.workdays import is_working_day

ONLINE = "online"
IN_PERSON = "in_person"
POSTAL = "postal"


def _normalised(weights: list[float]) -> tuple[float, ...]:
    total = sum(weights)
    return tuple(w / total for w in weights)


# Share of a day's filings per hour of day, 00 to 23.
ONLINE_HOURS = _normalised([0.15, 0.08, 0.05, 0.04, 0.05, 0.1, 0.3, 0.6, 1.0, 1.2, 1.2, 1.0,
                            0.6, 0.8, 1.1, 1.1, 1.0, 0.8, 0.6, 0.6, 0.7, 0.6, 0.45, 0.3])
# Counters open 07:30-11:30 and 13:30-17:00; a few people still come at lunchtime.
COUNTER_HOURS = _normalised([0] * 7 + [0.5, 1.0, 1.2, 1.1, 0.4, 0.05, 0.5, 1.0, 1.0, 0.7] + [0] * 7)
SATURDAY_COUNTER_HOURS = _normalised([0] * 7 + [0.5, 1.0, 1.2, 1.1, 0.2] + [0] * 12)
FIRST_COUNTER_SECOND = {7: 1800}  # the counter opens at 07:30, not 07:00

# A day's demand relative to a working day, Monday..Sunday, per stream.
ONLINE_DAY = (1.0, 1.0, 1.0, 1.0, 1.0, 0.35, 0.25)
COUNTER_DAY = (1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.0)
HOLIDAY_ONLINE = 0.3

# A commune's or ward's size is its monthly volume drawn from the real ones (calibration.py), over
# their median, so a typical one is 1; island special zones are smaller. How online each kind of
# unit is relative to the others: Huế 2020, provincial bodies far more online than communes.
SPECIAL_ZONE_SIZE = 0.4
LEVEL_ONLINE_LEAN = {DEPARTMENT: 0.8, OFFICE: 0.8, WARD: 0.2, COMMUNE: -0.4, SPECIAL_ZONE: -0.8}


class Arrival(NamedTuple):
    ts: int
    unit: Unit
    channel: str
    procedure: Procedure


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class UnitMix:
    """The receiving units with their sizes, online leanings and procedure mixes.

    Sizes are skewed, so a few units carry much of the load, as in real provinces: a commune's or
    ward's is drawn from the real communes' and wards' volumes, a department's is its size in the
    department table with log-normal noise. Each unit leans more or less online than the province; the
    leanings are shifted every day so that the size-weighted online share equals the day's target,
    the way Hải Phòng's per-unit targets add up to the city's goal.
    """

    def __init__(self, units: list[Unit], department_sizes: dict[str, float], rng: random.Random):
        self.units = [u for u in units if u.level != PROVINCE]
        self.sizes: list[float] = []
        self.leans: list[float] = []
        self.procedures: list[tuple[tuple[Procedure, ...], list[float]]] = []
        local = COMMUNE_VOLUMES.stratified(sum(u.code not in department_sizes for u in self.units), rng)
        for unit in self.units:
            if unit.code in department_sizes:
                size = department_sizes[unit.code] * rng.lognormvariate(0.0, 0.5)
            else:
                size = local.pop() / COMMUNE_VOLUMES.median
                size *= SPECIAL_ZONE_SIZE if unit.level == SPECIAL_ZONE else 1.0
            self.sizes.append(size)
            self.leans.append(LEVEL_ONLINE_LEAN.get(unit.level, 0.0) + rng.gauss(0.0, 0.5))
            procs = procedures_for(unit)
            self.procedures.append((procs, list(accumulate(p.weight for p in procs))))
        self._cache: dict[float, tuple[list[float], list[float]]] = {}

    def online_probabilities(self, share: float) -> list[float]:
        """Each unit's chance that a filing is online, averaging `share` over the load."""
        if share <= 0.0 or share >= 1.0:
            return [min(max(share, 0.0), 1.0)] * len(self.units)
        base = _logit(share)
        total = sum(self.sizes)
        low, high = -12.0, 12.0
        for _ in range(40):  # bisection on the shift; the weighted mean rises with it
            mid = (low + high) / 2
            mean = sum(s * _sigmoid(base + a + mid) for s, a in zip(self.sizes, self.leans, strict=True))
            if mean / total < share:
                low = mid
            else:
                high = mid
        shift = (low + high) / 2
        return [_sigmoid(base + a + shift) for a in self.leans]

    def cumulative_weights(self, share: float) -> tuple[list[float], list[float]]:
        """Cumulative unit weights for an online filing and for a counter filing at `share`."""
        key = round(share, 3)
        cached = self._cache.get(key)
        if cached is None:
            probs = self.online_probabilities(key)
            online = list(accumulate(s * p for s, p in zip(self.sizes, probs, strict=True)))
            counter = list(accumulate(s * (1.0 - p) for s, p in zip(self.sizes, probs, strict=True)))
            cached = self._cache[key] = (online, counter)
        return cached


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    if mean > 30.0:  # the normal approximation is close enough and O(1)
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    total = cumulative[-1]
    if total <= 0.0:
        return rng.randrange(len(cumulative))
    return min(bisect(cumulative, rng.random() * total), len(cumulative) - 1)


def arrivals(rng: random.Random, mix: UnitMix, start: int, end: int | None, filings_per_day: float,
             online_share: Callable[[int], float], postal_share: float) -> Iterator[Arrival]:
    """Filings received in [start, end) in time order; without `end`, forever."""
    day = local_day(start)
    while end is None or day_start(day) < end:
        midnight = day_start(day)
        dow = weekday(day)
        working = is_working_day(day)
        share = min(max(online_share(midnight + 12 * HOUR), 0.0), 1.0)
        demand = filings_per_day * max(0.0, rng.gauss(1.0, 0.08))
        if working or dow >= 5:
            online_day, counter_day = ONLINE_DAY[dow], COUNTER_DAY[dow]
        else:  # a public holiday on a weekday: counters shut, online still trickles in
            online_day, counter_day = HOLIDAY_ONLINE, 0.0
        online_n = demand * share * online_day
        counter_n = demand * (1.0 - share) * counter_day
        counter_hours = SATURDAY_COUNTER_HOURS if dow == 5 else COUNTER_HOURS
        online_cw, counter_cw = mix.cumulative_weights(share)
        for hour in range(24):
            top = midnight + hour * HOUR
            if end is not None and top >= end:
                return
            batch = [(top + rng.randrange(HOUR), ONLINE)
                     for _ in range(poisson(rng, online_n * ONLINE_HOURS[hour]))]
            first = FIRST_COUNTER_SECOND.get(hour, 0)
            for _ in range(poisson(rng, counter_n * counter_hours[hour])):
                channel = POSTAL if rng.random() < postal_share else IN_PERSON
                batch.append((top + first + rng.randrange(HOUR - first), channel))
            batch.sort()
            for ts, channel in batch:
                index = _pick(rng, online_cw if channel == ONLINE else counter_cw)
                procs, proc_cw = mix.procedures[index]
                procedure = procs[_pick(rng, proc_cw)]
                if ts >= start and (end is None or ts < end):
                    yield Arrival(ts, mix.units[index], channel, procedure)
        day += 1


# Events per filing, measured on default shares (3.0 over 60 days): submitted, processed and
# mostly result_returned, sometimes a rating, a supplement round or an overdue mark, plus the
# delivery effects.
EVENTS_PER_FILING = 3.1


def filings_per_day_for_rate(events_per_second: float, online_share: float) -> float:
    """The working-day volume whose busiest hour sends about `events_per_second`.

    Sized on the peak, not the mean, so that a live sender capped at that rate keeps up with
    the clock all day instead of falling hours behind during office hours.
    """
    peak_hour = max(online_share * o + (1.0 - online_share) * c
                    for o, c in zip(ONLINE_HOURS, COUNTER_HOURS, strict=True))
    return events_per_second * HOUR / (EVENTS_PER_FILING * peak_hour)
