"""What /metrics exports of the figures (ExportPlan): a one-province deployment every figure of every
unit, as before; a national one every figure over the country and each province (onestop_rollup_*),
the configured (figure, period) pairs of every unit, and units of opted-in levels in detail."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from services.api.figure_metrics import (
    FIGURE_METRICS,
    ROLLUP_METRICS,
    export_plan,
    render_figures,
    render_unit_figures,
    rollup_units,
    target_rows,
    unit_rows,
)
from services.api.queries import State
from services.api.rollup_cache import RollupCache
from services.api.settings import ApiSettings
from services.api.targets import Target, TargetBook
from services.api.tree import UnitInfo, UnitTree
from services.api.view import FiguresView
from services.contract.figures import PERIODS
from tests.support.api import record

Samples = dict[tuple[str, str, str], float]  # (metric, unit, period) → value


def national_tree() -> UnitTree:
    return UnitTree([
        UnitInfo("VN", "Việt Nam", "country", None),
        UnitInfo("31", "Hải Phòng", "province", "VN"),
        UnitInfo("31.S03", "Sở Tư pháp", "department", "31"),
        UnitInfo("11311", "Phường A", "ward", "31"),
        UnitInfo("01", "Hà Nội", "province", "VN"),
        UnitInfo("00004", "Phường B", "ward", "01"),
    ])


def scrape(settings: ApiSettings, tree: UnitTree, records: dict[str, Any]) -> tuple[Samples, set[str]]:
    view = FiguresView()
    for code, value in records.items():
        view.apply(code, orjson.dumps(value))
    cache = RollupCache(State(tree, view.records, TargetBook()), view, tree)
    plan = export_plan(settings)
    rollups = [(c, u.level, cache.get(c, plan.periods)["periods"]) for c in rollup_units(tree, plan)
               if (u := tree.get(c))]
    text = render_figures(unit_rows(view.records, tree), plan, rollups).decode()
    samples: Samples = {}
    families = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for s in family.samples:
            key = (s.name, s.labels["unit"], s.labels["period"])
            assert key not in samples
            samples[key] = s.value
    return samples, families


RECORDS = {"31.S03": record("31.S03", received_total=4, received_online=1, pending_overdue=2),
           "11311": record("11311", received_total=6, received_online=6),
           "00004": record("00004", received_total=10, received_online=5)}


def test_a_national_deployment_exports_rollups_and_the_units_pairs() -> None:
    samples, families = scrape(ApiSettings(seed_province="all"), national_tree(), RECORDS)
    assert families >= {name for _, name, _, _ in FIGURE_METRICS} | {name for _, name, _, _ in ROLLUP_METRICS}
    per_unit = {k: v for k, v in samples.items() if k[0].startswith("onestop_unit_")}
    # Every unit: received and the two rates this month, overdue over all time; nothing else.
    assert per_unit == {
        **{("onestop_unit_received_filings", u, "month_to_date"): n
           for u, n in (("31.S03", 4), ("11311", 6), ("00004", 10))},
        ("onestop_unit_online_rate_ratio", "31.S03", "month_to_date"): 0.25,
        ("onestop_unit_online_rate_ratio", "11311", "month_to_date"): 1.0,
        ("onestop_unit_online_rate_ratio", "00004", "month_to_date"): 0.5,
        **{("onestop_unit_on_time_rate_ratio", u, "month_to_date"): 0.0
           for u in ("31.S03", "11311", "00004")},
        **{("onestop_unit_pending_overdue_filings", u, "all_time"): n
           for u, n in (("31.S03", 2), ("11311", 0), ("00004", 0))},
    }
    # Every figure of every period over the country and each province: rates of the sums.
    rolled = {k: v for k, v in samples.items() if k[0].startswith("onestop_rollup_")}
    assert {(unit, period) for _, unit, period in rolled} == {(u, p) for u in ("VN", "31", "01")
                                                              for p in PERIODS}
    assert rolled[("onestop_rollup_received_filings", "VN", "today")] == 20
    assert rolled[("onestop_rollup_received_filings", "31", "year_to_date")] == 10
    assert rolled[("onestop_rollup_online_rate_ratio", "31", "today")] == 0.7
    assert rolled[("onestop_rollup_online_rate_ratio", "VN", "all_time")] == 0.6
    assert rolled[("onestop_rollup_pending_overdue_filings", "VN", "all_time")] == 2


def test_levels_opted_in_export_every_figure_and_the_target_periods_follow_the_scope() -> None:
    settings = ApiSettings(seed_province="all", metrics_unit_levels=("department",),
                           metrics_periods=("today", "month_to_date"))
    samples, _ = scrape(settings, national_tree(), RECORDS)
    department = {(name, period) for name, unit, period in samples if unit == "31.S03"}
    undefined = ("avg_resolution_hours", "online_payment_share", "digitised_share")  # nothing to divide by
    assert department == {(name, p) for field, name, _, _ in FIGURE_METRICS
                          for p in ("today", "month_to_date") if field not in undefined}
    assert export_plan(settings).target_periods == ("month_to_date",)
    assert export_plan(ApiSettings(seed_province="31")).target_periods == PERIODS


def test_a_one_province_deployment_exports_every_figure_of_every_unit_as_before() -> None:
    tree = UnitTree([u for u in national_tree().units.values() if u.code in ("31", "31.S03", "11311")])
    tree.put(UnitInfo("31", "Hải Phòng", "province", None))
    records = {c: r for c, r in RECORDS.items() if c in tree}
    samples, _ = scrape(ApiSettings(seed_province="31"), tree, records)
    per_unit = {k for k in samples if k[0].startswith("onestop_unit_")}
    view = FiguresView()
    for code, value in records.items():
        view.apply(code, orjson.dumps(value))
    before = render_unit_figures(unit_rows(view.records, tree), PERIODS).decode()
    assert per_unit == {(s.name, s.labels["unit"], s.labels["period"])
                        for f in text_string_to_metric_families(before) for s in f.samples}
    assert {unit for name, unit, _ in samples if name.startswith("onestop_rollup_")} == {"31"}


def test_each_units_standing_against_its_targets_is_exported_with_its_gap_and_whether_it_is_met() -> None:
    tree = national_tree()
    view = FiguresView()
    for code, online, overdue in (("11311", 8, 3), ("00004", 4, 1)):
        view.apply(code, orjson.dumps(record(code, received_total=10, received_online=online,
                                             pending_overdue=overdue)))
    targets = TargetBook()
    for code in ("11311", "00004", "31.S03"):  # 31.S03 has no figures: its target, no gap, no verdict
        targets.put(Target(code, "online_rate", "2026-03", 0.6))
    targets.put(Target("11311", "pending_overdue", "2026-03", 2))  # lower is better: 3 is over it
    targets.put(Target("00004", "pending_overdue", "2026-03", 2))
    state = State(tree, view.records, targets)
    rows = {(code, figure): (target, gap, met)
            for code, _level, figure, _period, target, gap, met in
            target_rows(state, ("month_to_date",), date(2026, 3, 10))}
    assert rows[("11311", "online_rate")][0] == 0.6 and rows[("11311", "online_rate")][2] is True
    assert abs(rows[("11311", "online_rate")][1] - 0.2) < 1e-9
    assert rows[("00004", "online_rate")][2] is False and abs(rows[("00004", "online_rate")][1] + 0.2) < 1e-9
    assert rows[("31.S03", "online_rate")] == (0.6, None, None)
    assert rows[("11311", "pending_overdue")] == (2, 1, False)
    assert rows[("00004", "pending_overdue")] == (2, -1, True)
