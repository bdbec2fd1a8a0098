"""What the simulated units are drawn from: the national portal's figures for Phú Thọ, August 2026
(`phu_tho_2026_08.py`), 163 real units' filings a month and shares on time (Decision 766's 2.1).

A unit's monthly volume and its share on time are draws from the empirical distribution of real
units of its kind: a provincial department from the departments', a commune or ward from the
communes' and wards'. A draw is the distribution's quantile at a random level, interpolated between
neighbouring units, the levels of a province's units stratified, so that the simulated province
spreads like the real one without copying any one unit.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

from services.simulator.phu_tho_2026_08 import UNITS

# A share on time is read only from units with this many filings or more, as the portal's figures
# are quoted (below it, one filing moves the share by a point or more).
MIN_FILINGS = 100
DEPARTMENTS, COMMUNES = "P", "C"


@dataclass(frozen=True)
class Empirical:
    """A sample's distribution: `draw` returns its quantile at a uniform random level."""

    values: tuple[float, ...]  # sorted

    @classmethod
    def of(cls, values: list[float]) -> Empirical:
        if not values:
            raise ValueError("an empirical distribution needs at least one value")
        return cls(tuple(sorted(values)))

    def quantile(self, level: float) -> float:
        """Linear interpolation between order statistics (level 0: the least, 1: the greatest)."""
        position = min(max(level, 0.0), 1.0) * (len(self.values) - 1)
        low = int(position)
        high = min(low + 1, len(self.values) - 1)
        return self.values[low] + (position - low) * (self.values[high] - self.values[low])

    def draw(self, rng: random.Random) -> float:
        return self.quantile(rng.random())

    def stratified(self, count: int, rng: random.Random) -> list[float]:
        """`count` draws, one from each of `count` equal slices of the levels, in random order: a
        province's units spread like the distribution, not only on average over many provinces."""
        draws = [self.quantile((i + rng.random()) / count) for i in range(count)]
        rng.shuffle(draws)
        return draws

    @property
    def median(self) -> float:
        return statistics.median(self.values)


def volumes(kind: str) -> Empirical:
    """Filings a month of the units of `kind` that received any."""
    return Empirical.of([float(received) for _, level, received, _, _ in UNITS if level == kind and received])


def on_time_shares(kind: str) -> Empirical:
    """Shares on time (2.1) of the units of `kind` with MIN_FILINGS filings or more."""
    return Empirical.of([on_time / received for _, level, received, on_time, _ in UNITS
                         if level == kind and received >= MIN_FILINGS])


COMMUNE_VOLUMES = volumes(COMMUNES)
ON_TIME = {DEPARTMENTS: on_time_shares(DEPARTMENTS), COMMUNES: on_time_shares(COMMUNES)}
