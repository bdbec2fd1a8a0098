"""Each unit's own habits: how often it is late, how digital it is, how pleased its applicants are.

Decision 766 ranks units, so the simulated units must differ the way real ones do. A unit's share
on time (2.1) is drawn from the real units of its kind (`calibration.py`: Phú Thọ, August 2026,
departments' median 69 %, communes' and wards' 87 %), and its share of filings resolved late is
the one that gives it that share once the filings the portal counts overdue whatever the unit does
(a second supplement request) are counted. Its other shares are `sigmoid(logit(base) + its level's
lean + weight × its digital maturity + noise)`: the maturity is shared by all its digital shares (a
unit good at one tends to be good at the others), the noise is its own per share, so rankings by
each indicator differ.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.contract.units import COMMUNE, DEPARTMENT, OFFICE, SPECIAL_ZONE, WARD, Unit
from services.simulator.calibration import COMMUNES, DEPARTMENTS, ON_TIME

if TYPE_CHECKING:
    from services.simulator.lifecycle import LifecycleShares

# The default centre of lateness (LifecycleShares.late): at it, units' shares on time are the
# calibration's; another centre shifts every unit by the same amount on the logit scale.
CALIBRATED_LATE = 0.13
# Digital maturity: departments and wards ahead of communes and island districts.
MATURITY_LEAN = {DEPARTMENT: 0.5, OFFICE: 0.5, WARD: 0.2, COMMUNE: -0.2, SPECIAL_ZONE: -0.6}


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """A unit's shares; each is a probability per filing (see `LifecycleShares` for the bases)."""

    late: float  # of processed filings, resolved after the due time
    satisfied: float  # of ratings, satisfied
    paid_online_online: float  # of fee filings made online, paid online
    paid_online_counter: float  # of fee filings made at the counter or by post, paid online
    via_portal: float  # of online payments, through the national portal (else the province's gateway)
    digitised: float
    electronic_result: float  # of paper-result filings, the result also issued electronically
    data_reused: float
    personal_store: float
    population_db_online: float
    population_db_counter: float
    full_online: float  # of eligible filings made online, through the full-online service


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1.0 - p))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Shares:
    """Draws one unit's shares around their bases, with the unit's maturity and its own noise."""

    def __init__(self, rng: random.Random, maturity: float, spread: float):
        self.rng, self.maturity, self.spread = rng, maturity, spread

    def __call__(self, base: float, weight: float = 0.6) -> float:
        return sigmoid(logit(base) + weight * self.maturity + self.rng.gauss(0.0, self.spread))


def late_for_on_time(on_time: float, shares: LifecycleShares) -> float:
    """The share of processed filings resolved late that gives a unit `on_time` on 2.1.

    Overdue whatever the unit does: filings with a second supplement request. On time whatever it
    does: filings rejected or withdrawn at once, stopped, or never completed after a supplement
    request (the request ends them). The rest reach processing, on time or late."""
    always_overdue = shares.supplement * shares.second_request
    ended_early = shares.rejected + shares.withdrawn + shares.supplement * shares.never_back
    processed = (1.0 - ended_early - always_overdue) * (1.0 - shares.stopped)
    return min(1.0, max(0.002, (1.0 - on_time - always_overdue) / processed))


def unit_profiles(units: list[Unit], shares: LifecycleShares, rng: random.Random) -> dict[str, UnitProfile]:
    """One profile per unit, by unit code, drawn in catalogue order (deterministic from `rng`)."""
    spread = shares.unit_spread
    profiles: dict[str, UnitProfile] = {}
    kinds = [DEPARTMENTS if unit.level in (DEPARTMENT, OFFICE) else COMMUNES for unit in units]
    on_time_draws = {kind: ON_TIME[kind].stratified(kinds.count(kind), rng) for kind in ON_TIME}
    for unit, kind in zip(units, kinds, strict=True):
        maturity = MATURITY_LEAN.get(unit.level, 0.0) + rng.gauss(0.0, 0.7)
        share = _Shares(rng, maturity, spread)
        on_time = sigmoid(logit(on_time_draws[kind].pop()) + logit(CALIBRATED_LATE) - logit(shares.late)
                          + rng.gauss(0.0, shares.late_spread))
        late = late_for_on_time(on_time, shares)
        profiles[unit.code] = UnitProfile(
            late=late,
            satisfied=share(shares.satisfied, 0.3),
            paid_online_online=share(shares.paid_online_online),
            paid_online_counter=share(shares.paid_online_counter),
            via_portal=share(shares.via_portal, 0.0),
            digitised=share(shares.digitised),
            electronic_result=share(shares.electronic_result),
            data_reused=share(shares.data_reused),
            personal_store=share(shares.personal_store),
            population_db_online=share(shares.population_db_online),
            population_db_counter=share(shares.population_db_counter),
            full_online=share(shares.full_online),
        )
    return profiles
