"""The figures on /metrics: which series a deployment exports (ExportPlan), per unit (onestop_unit_*),
per subtree (onestop_rollup_*) and each unit's standing against its targets, rendered from the live
state at scrape time in the Prometheus text format (docs/operations.md, "What /metrics exports")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.api.figure_labels import label
from services.api.queries import Rollup, State, standing
from services.api.ranking import judged
from services.api.rollup import LOWER_IS_BETTER
from services.api.settings import ApiSettings
from services.api.tree import UnitTree
from services.contract.figures import COUNTERS, SNAPSHOTS

PREFIX = "onestop_unit_"
# Every figure of a period object as (its field, metric name, help, scale). Windowed counts go up
# and down (a day leaves the window), so all are gauges. Names follow Prometheus conventions: base
# units (seconds, not hours), `_ratio` for 0..1, `_filings` for counts of filings.
# The help texts are figure_labels' sentences: press-style figures say so, and the on-time rate says
# it is Decision 766's 2.1.
_SECONDS = ("resolution_seconds", "portal_processing_seconds")
FIGURE_METRICS: tuple[tuple[str, str, str, float], ...] = (
    *((c, f"{PREFIX}{c.removesuffix('_total').removesuffix('_filings')}_filings", label(c), 1.0)
      for c in (*COUNTERS, *SNAPSHOTS) if c not in _SECONDS),
    *((c, f"{PREFIX}{c}", label(c), 1.0) for c in _SECONDS),
    ("online_rate", f"{PREFIX}online_rate_ratio", label("online_rate"), 1.0),
    ("on_time_rate", f"{PREFIX}on_time_rate_ratio", label("on_time_rate"), 1.0),
    ("avg_resolution_hours", f"{PREFIX}resolution_average_seconds", label("avg_resolution_hours"), 3600.0),
    ("online_payment_share", f"{PREFIX}online_payment_ratio", label("online_payment_share"), 1.0),
    ("digitised_share", f"{PREFIX}digitised_ratio", label("digitised_share"), 1.0),
)
# (unit code, its level, its record's periods): the view at the moment of a scrape.
UnitRow = tuple[str, str, dict[str, Any]]

ROLLUP_PREFIX = "onestop_rollup_"
# The same figures over each subtree of the rollup levels (the country, each province): rates of sums.
ROLLUP_METRICS: tuple[tuple[str, str, str, float], ...] = tuple(
    (field, ROLLUP_PREFIX + name.removeprefix(PREFIX), f"Over the unit's subtree. {help_}", scale)
    for field, name, help_, scale in FIGURE_METRICS)


@dataclass(frozen=True)
class ExportPlan:
    """Which figures /metrics carries (docs/operations.md, "What /metrics exports").

    Every figure of every period is 350 samples a unit: a country's 10^4 units would make millions a
    scrape, far past what one Prometheus target should carry. So units of `detail_levels` (None: every
    unit) export every figure of `periods`; every other unit exports only `unit_series`, the (figure,
    period) pairs the dashboards rank and alert on; and each unit of `rollup_levels` exports every
    figure of `periods` over its subtree (onestop_rollup_*), from which the province and country panels
    read, instead of Prometheus summing thousands of series at every rule evaluation.
    """

    periods: tuple[str, ...]
    detail_levels: frozenset[str] | None
    unit_series: tuple[tuple[str, str], ...]
    rollup_levels: frozenset[str]
    target_periods: tuple[str, ...]

    def in_detail(self, level: str) -> bool:
        return self.detail_levels is None or level in self.detail_levels


def export_plan(settings: ApiSettings) -> ExportPlan:
    national = settings.national()
    levels = settings.metrics_unit_levels
    detail = (frozenset() if national else None) if levels is None else frozenset(levels)
    targets = settings.metrics_target_periods
    if targets is None:
        targets = ("month_to_date",) if national else settings.metrics_periods
    series = tuple((figure, period) for figure, _, period in
                   (pair.partition(":") for pair in settings.metrics_unit_series))
    return ExportPlan(settings.metrics_periods, detail, series, frozenset(settings.metrics_rollup_levels),
                      targets)


def rollup_units(tree: UnitTree, plan: ExportPlan) -> list[str]:
    """The units whose subtree's figures are exported."""
    return [code for code, unit in tree.units.items() if unit.level in plan.rollup_levels]


def unit_rows(records: Mapping[str, Mapping[str, Any]], tree: UnitTree) -> list[UnitRow]:
    """The view's records with each unit's level, taken at once on the event loop; rendering them can
    then run in a thread, since a record is replaced by the view, never changed in place."""
    units = tree.units
    rows = []
    for code, record in list(records.items()):
        unit = units.get(code)
        rows.append((code, unit.level if unit else "unknown", record["periods"]))
    return rows


def render_unit_figures(rows: Sequence[UnitRow], periods: Sequence[str]) -> bytes:
    """Every figure of every unit for `periods`, and no rollups: render_figures with every unit in
    detail (a one-province deployment's per-unit series; bench/national_bench.py's baseline)."""
    return render_figures(rows, ExportPlan(tuple(periods), None, (), frozenset(), ()), ())


def render_figures(rows: Sequence[UnitRow], plan: ExportPlan, rollups: Sequence[UnitRow]) -> bytes:
    """Per-unit gauges (onestop_unit_*) and rollups (onestop_rollup_*), labels unit, level, period, in
    the Prometheus text format.

    Written by hand rather than through a prometheus_client Collector: the client library's per-sample
    objects and formatting cost several times as much (bench/api_bench.py); the text is the same
    format, held to the library's own parser by the tests. Each label set is formatted once per unit
    and period, not once per sample.
    """
    detail: list[tuple[str, Any]] = []  # (labels, a record's period object)
    compact: dict[str, list[tuple[str, Any]]] = {period: [] for _, period in plan.unit_series}
    for code, level, unit_periods in rows:
        prefix = f'{{unit="{_escape(code)}",level="{_escape(level)}",period="'
        if plan.in_detail(level):
            detail.extend((f'{prefix}{period}"}} ', figures) for period in plan.periods
                          if (figures := unit_periods.get(period)))
        else:
            for period, sets in compact.items():
                if figures := unit_periods.get(period):
                    sets.append((f'{prefix}{period}"}} ', figures))
    summed = [(f'{{unit="{_escape(code)}",level="{_escape(level)}",period="{period}"}} ', figures)
              for code, level, periods in rollups for period in plan.periods
              if (figures := periods.get(period))]
    by_field: dict[str, list[list[tuple[str, Any]]]] = {}
    for field, period in plan.unit_series:
        by_field.setdefault(field, []).append(compact[period])
    out: list[str] = []
    for field, name, help_, scale in FIGURE_METRICS:
        _family(out, field, name, help_, scale, [detail, *by_field.get(field, ())])
    if summed:
        for field, name, help_, scale in ROLLUP_METRICS:
            _family(out, field, name, help_, scale, [summed])
    return "".join(out).encode()


def _family(out: list[str], field: str, name: str, help_: str, scale: float,
            label_sets: Sequence[Sequence[tuple[str, Any]]]) -> None:
    out.append(f"# HELP {name} {help_}\n# TYPE {name} gauge\n")
    # An undefined rate (no filings) is no sample, rather than NaN on every graph; a value that is no
    # number (a record we do not understand) is no sample either. One comprehension per family and
    # set: the loop runs once per sample.
    for sets in label_sets:
        if scale == 1.0:
            out += [f"{name}{labels}{value}\n" for labels, figures in sets
                    if type(value := figures.get(field)) in _NUMBERS]
        else:
            out += [f"{name}{labels}{value * scale}\n" for labels, figures in sets
                    if type(value := figures.get(field)) in _NUMBERS]


_NUMBERS = (int, float)


def _escape(label_value: str) -> str:
    return label_value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


# (unit, level, figure, period, target, gap, met): one unit's standing against one target.
TargetRow = tuple[str, str, str, str, float, float | None, bool | None]
_TARGET_FAMILIES = (
    (f"{PREFIX}target", "The target judging the unit's figure over the period (rates as 0..1, average "
     "resolution in hours, counts as counts)."),
    (f"{PREFIX}target_gap", "Value over the unit's subtree minus its target."),
    (f"{PREFIX}target_met", "1 when the unit meets its target (at or under it for a lower-is-better figure), "
     "0 when below; no sample without filings."),
)


def target_rows(state: State, periods: Sequence[str], today: date, rollup: Rollup | None = None,
                ) -> list[TargetRow]:
    """Each unit's standing against its targets, as /v1/reports/targets judges it (the value over the
    unit's subtree, the target of the period's month, quarter or year), for alerts on units below.
    `rollup` (RollupCache.get) gives the subtree's figures without summing it again. On the event
    loop: it reads the live state."""
    rows: list[TargetRow] = []
    for figure in sorted({t.figure for t in state.targets.by_key.values()}):
        codes = sorted(state.targets.units_with(figure))
        lower = figure in LOWER_IS_BETTER
        for period in periods:
            for code in codes:  # not ranked: a scrape has no order, and sorting 10,000 units costs
                s = standing(state, code, figure, period, today, rollup)
                if s.target is not None:
                    rows.append((code, s.level or "unknown", figure, period, s.target,
                                 *judged(s.value, s.target, lower)))
    return rows


def render_targets(rows: Sequence[TargetRow]) -> bytes:
    """onestop_unit_target, _target_gap and _target_met (labels unit, level, figure, period), written by
    hand as render_figures is: prometheus_client's formatting of a country's 30,000 samples takes most
    of a second."""
    labels = [f'{{unit="{_escape(unit)}",level="{_escape(level)}",figure="{figure}",period="{period}"}} '
              for unit, level, figure, period, *_ in rows]
    (target_name, target_help), (gap_name, gap_help), (met_name, met_help) = _TARGET_FAMILIES
    out = [f"# HELP {target_name} {target_help}\n# TYPE {target_name} gauge\n"]
    out += [f"{target_name}{label}{float(row[4])}\n" for label, row in zip(labels, rows, strict=True)]
    out.append(f"# HELP {gap_name} {gap_help}\n# TYPE {gap_name} gauge\n")
    out += [f"{gap_name}{label}{float(row[5])}\n" for label, row in zip(labels, rows, strict=True)
            if row[6] is not None and row[5] is not None]
    out.append(f"# HELP {met_name} {met_help}\n# TYPE {met_name} gauge\n")
    out += [f"{met_name}{label}{1.0 if row[6] else 0.0}\n" for label, row in zip(labels, rows, strict=True)
            if row[6] is not None]
    return "".join(out).encode()
