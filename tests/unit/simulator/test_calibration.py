"""The simulator's calibration data equals the portal's answer it was taken from, and its draws
follow that data."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from services.simulator.calibration import COMMUNE_VOLUMES, ON_TIME, Empirical, on_time_shares, volumes
from services.simulator.phu_tho_2026_08 import UNITS
from tests.support.paths import ROOT

ANSWER = json.loads((ROOT / "tests" / "data" / "portal-766-phu-tho-2026-08-progress.json").read_text())


def test_every_row_is_the_portals() -> None:
    children = ANSWER["data"]["children"]
    expected = sorted((c["departmentCode"], c["level"][0], c["totalReceived"], c["totalOnTime"],
                       c["avgProcessingDays"]) for c in children)
    assert sorted(UNITS) == expected
    assert len(UNITS) == 163
    assert sum(u[2] for u in UNITS) == ANSWER["data"]["parent"]["totalReceived"] == 184_513


def test_the_distributions_are_the_real_units_of_each_kind() -> None:
    assert len(ON_TIME["P"].values) == 9 and len(ON_TIME["C"].values) == 148
    assert ON_TIME["P"].values[0] == pytest.approx(881 / 2739)  # Sở Nội vụ, 32.17 %
    assert ON_TIME["C"].median == pytest.approx(0.8725, abs=1e-4)
    assert COMMUNE_VOLUMES.values[0] == 181 and COMMUNE_VOLUMES.values[-1] == 2971
    assert volumes("P").values[0] == 2  # units without filings are left out
    assert on_time_shares("C") == ON_TIME["C"]


def test_a_draw_is_an_interpolated_quantile() -> None:
    sample = Empirical.of([3.0, 1.0, 2.0])
    assert [sample.quantile(q) for q in (0, 0.25, 0.5, 1, 1.5, -1)] == [1.0, 1.5, 2.0, 3.0, 3.0, 1.0]
    rng = random.Random(7)
    draws = [ON_TIME["C"].draw(rng) for _ in range(20_000)]
    real = statistics.quantiles(ON_TIME["C"].values, n=4)
    drawn = statistics.quantiles(draws, n=4)
    assert drawn == pytest.approx(real, abs=0.01)
    assert min(draws) >= ON_TIME["C"].values[0] and max(draws) <= ON_TIME["C"].values[-1]
    with pytest.raises(ValueError):
        Empirical.of([])
