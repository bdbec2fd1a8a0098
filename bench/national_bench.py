"""A national deployment's /metrics and rollups, in process: `python -m bench.national_bench [--units 10000]`.

The registry is the country as the API seeds it (`API_SEED_PROVINCE=all`: 34 provinces, 3,321 communes
and wards, each province's departments, under `VN`), padded to `--units` with offices under the
departments (a province's land-registry branches, tax teams); every unit has a unit-figures record
with every counter and snapshot for the seven rolling periods and the 23 calendar ones, decoded by
the API's own FiguresView as from Kafka. Then, in the same run:

  (a) /metrics' figures as the route makes them (the view's rows, the rollups, the text, and the
      service's own registry): the exporter of a one-province deployment (every figure of every unit
      and period: what /metrics exported before ExportPlan, the baseline) against a national
      deployment's defaults; time (median of --scrapes), bytes and samples (counted by
      prometheus_client's parser); then the national defaults with an online-rate target on every unit
      (three more series a unit: the target, the gap, met);
  (b) the national rollup (`/v1/units/VN/rollup`'s 30 periods): the full recomputation
      (queries.subtree_rollup, what a cache miss cost before SubtreeSums, the baseline) against
      RollupCache.compute right after 1, 10 and 100 units published a new record (one more filing
      received online in each period containing today), with the time taking the changes into the
      sums (which the API does every 0.1 s in the background, so a request finds at most that
      long's changes); right after a unit was added to the tree; and right after a third of the
      units changed at once (a full rebuild, as when the aggregator republishes after midnight).

Everything runs in this one process on one core; the HTTP scrape of a running API is
bench/api_bench.py's (b).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.api.figure_metrics import (
    export_plan,
    render_figures,
    render_targets,
    render_unit_figures,
    rollup_units,
    target_rows,
    unit_rows,
)
from services.api.metrics import ApiMetrics
from services.api.periods import published_periods
from services.api.queries import State, subtree_rollup
from services.api.registry import seed_units
from services.api.rollup_cache import RollupCache
from services.api.settings import ApiSettings
from services.api.targets import Target, TargetBook
from services.api.tree import UnitInfo, UnitTree
from services.api.view import FiguresView
from services.contract.figures import COUNTERS, PERIODS, SNAPSHOTS, rates
from services.contract.units import NATIONAL_ROOT

TODAY = date(2026, 11, 23)
PERIOD_NAMES = published_periods(TODAY)
# The periods a filing received today counts in: every rolling one, this month, quarter and year.
TODAYS = (*PERIODS, "2026-11", "2026-Q4", "2026")


def national_units(total: int) -> list[UnitInfo]:
    units = seed_units(None)
    departments = [u.code for u in units if u.level == "department"]
    for i in range(total - len(units)):
        units.append(UnitInfo(f"{departments[i % len(departments)]}.X{i:05d}", f"Chi nhánh {i}", "office",
                              departments[i % len(departments)]))
    return units


def figures_record(code: str, rng: random.Random) -> dict[str, Any]:
    """A complete unit-figures record: every counter and snapshot in every published period, counts
    growing with the period's length."""
    periods = {}
    for scale, name in enumerate(PERIOD_NAMES, start=1):
        counts: dict[str, Any] = {c: rng.randrange(0, 40 * min(scale, 8)) for c in COUNTERS}
        counts["received_total"] = sum(counts[f"received_{c}"] for c in ("online", "in_person", "postal"))
        counts["resolved_total"] = sum(counts[f"resolved_{v}"] for v in ("early", "on_time", "late"))
        counts.update({s: rng.randrange(0, 20) for s in SNAPSHOTS})
        periods[name] = {**counts, **rates(counts)}
    return {"unit_code": code, "as_of": "2026-11-23T14:05:00.123+07:00", "day": TODAY.isoformat(),
            "periods": periods}


def one_more_filing(record: dict[str, Any], second: int) -> dict[str, Any]:
    """The unit's next record: one more filing received online today."""
    periods = dict(record["periods"])
    for name in TODAYS:
        counts = {**periods[name]}
        counts["received_total"] += 1
        counts["received_online"] += 1
        periods[name] = {**counts, **rates(counts)}
    return {**record, "as_of": f"2026-11-23T14:{second // 60 % 60:02d}:{second % 60:02d}.000+07:00",
            "periods": periods}


def median_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, out


def samples_of(body: bytes) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(body.decode()))


class Scene:
    def __init__(self, units: list[UnitInfo]) -> None:
        rng = random.Random(1)
        self.tree, self.view, self.targets = UnitTree(units), FiguresView(), TargetBook()
        for unit in units:
            self.view.apply(unit.code, orjson.dumps(figures_record(unit.code, rng)))
        self.state = State(self.tree, self.view.records, self.targets)
        self.cache = RollupCache(self.state, self.view, self.tree)
        self.published = 0

    def publish(self, codes: list[str]) -> None:
        for code in codes:
            self.published += 1
            self.view.apply(code, orjson.dumps(one_more_filing(self.view.records[code], self.published)))

    def scrape(self, settings: ApiSettings | None) -> bytes:
        """/metrics as the route makes it (routes/ops.py); None: the exporter before ExportPlan, every
        figure of every unit and period (its target standing, through prometheus_client then, is left
        out: the baseline has no targets)."""
        registry = CollectorRegistry()
        ApiMetrics(registry)
        rows = unit_rows(self.view.records, self.tree)
        if settings is None:
            return generate_latest(registry) + render_unit_figures(rows, PERIODS)
        plan = export_plan(settings)
        rollups = [(c, u.level, self.cache.get(c, plan.periods)["periods"])
                   for c in rollup_units(self.tree, plan) if (u := self.tree.get(c))]
        targets = target_rows(self.state, plan.target_periods, TODAY, self.cache.get)
        return generate_latest(registry) + render_figures(rows, plan, rollups) + render_targets(targets)


def scrapes(scene: Scene, repeat: int) -> list[str]:
    rows = []
    national = ApiSettings(seed_province="all")
    cases: list[tuple[str, ApiSettings | None]] = [("baseline: every unit, figure and period", None),
                                                   ("national defaults", national)]
    scene.scrape(ApiSettings(seed_province="all"))  # the subtree sums built once, as at an API's start
    for label, settings in cases:
        ms, body = median_ms(partial(scene.scrape, settings), repeat)
        rows.append(f"/metrics, {label:<40} median {ms:7.1f} ms  {len(body) / 1e6:6.1f} MB  "
                    f"{samples_of(body):>9,} samples")
    for code in scene.tree.units:
        scene.targets.put(Target(code, "online_rate", "2026-11", 0.6))
    ms, body = median_ms(lambda: scene.scrape(national), repeat)
    rows.append(f"/metrics, {'national defaults, a target on every unit':<40} median {ms:7.1f} ms  "
                f"{len(body) / 1e6:6.1f} MB  {samples_of(body):>9,} samples")
    for key in list(scene.targets.by_key):
        scene.targets.delete(key)
    return rows


def rollups(scene: Scene, repeat: int) -> list[str]:
    rng = random.Random(4)
    codes = list(scene.view.records)
    full_ms, full = median_ms(lambda: subtree_rollup(scene.state, NATIONAL_ROOT, PERIOD_NAMES), repeat)
    assert scene.cache.compute(NATIONAL_ROOT, PERIOD_NAMES) == full
    rows = [f"national rollup, {len(PERIOD_NAMES)} periods, baseline: full recomputation  "
            f"median {full_ms:7.1f} ms"]
    for changed in (1, 10, 100):
        synced, answered = [], []
        for _ in range(repeat):
            scene.publish(rng.sample(codes, changed))
            started = time.perf_counter()
            scene.cache.sums.sync()  # what the API's background task does every 0.1 s
            middle = time.perf_counter()
            scene.cache.compute(NATIONAL_ROOT, PERIOD_NAMES)
            synced.append(middle - started)
            answered.append(time.perf_counter() - started)
        median, most = statistics.median(answered) * 1000, max(answered) * 1000
        rows.append(f"national rollup right after {changed:>3} units changed (SubtreeSums)  "
                    f"median {median:7.1f} ms  max {most:6.1f} ms, "
                    f"of which taking in the changes {statistics.median(synced) * 1000:.1f} ms")
    assert scene.cache.compute(NATIONAL_ROOT, PERIOD_NAMES) == subtree_rollup(scene.state, NATIONAL_ROOT,
                                                                              PERIOD_NAMES)
    times = []
    for i in range(repeat):
        scene.tree.put(UnitInfo(f"edit{i}", "edit", "office", "01.S04"))  # a unit added to a province
        started = time.perf_counter()
        scene.cache.compute(NATIONAL_ROOT, PERIOD_NAMES)
        times.append(time.perf_counter() - started)
    rows.append(f"national rollup right after a unit was added (its ancestors' sums redone)  "
                f"median {statistics.median(times) * 1000:7.1f} ms")
    times = []
    for _ in range(repeat):
        scene.publish(rng.sample(codes, len(codes) // 3))  # as after midnight: every sum rebuilt
        started = time.perf_counter()
        scene.cache.compute(NATIONAL_ROOT, PERIOD_NAMES)
        times.append(time.perf_counter() - started)
    rows.append(f"national rollup right after a third of the units changed (full rebuild)  "
                f"median {statistics.median(times) * 1000:7.1f} ms")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.national_bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=5, help="repetitions of each measurement")
    args = parser.parse_args()
    started = time.perf_counter()
    scene = Scene(national_units(args.units))
    levels: dict[str, int] = {}
    for unit in scene.tree.units.values():
        levels[unit.level] = levels.get(unit.level, 0) + 1
    lines = [f"{len(scene.tree):,} units ({', '.join(f'{n:,} {level}' for level, n in levels.items())}), "
             f"a record each with {len(PERIOD_NAMES)} periods; "
             f"set up in {time.perf_counter() - started:.0f} s"]
    lines += scrapes(scene, args.scrapes)
    lines += rollups(scene, args.scrapes)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
