"""`make run`'s targets (deploy/local/demo_targets.py) through a real API on a real broker: every unit
below the province, and the department's office below its department, gets online-rate and on-time
targets that meet the province's goal together, and the monthly report has them at once."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx
import pytest
from openpyxl import load_workbook

from deploy.local.demo_targets import REFERENCE_PERIOD, DemoGoals, set_demo_targets
from services.api.allocation import Start, allocate
from services.api.report_xlsx import XLSX
from services.common.kafka_settings import KafkaSettings
from tests.support.api import (
    ADMIN,
    WARD_A,
    WARD_B,
    api_settings,
    figures_producer,
    figures_record,
    running_api,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

GOALS = DemoGoals(goals={"online_rate": 0.8, "on_time_rate": 0.9}, min_filings=100, wait_s=10)


async def test_demo_targets_meet_the_goal_and_fill_the_report(kafka_settings: KafkaSettings) -> None:
    records = [figures_record("31.S06", received_total=10, received_online=4, portal_on_time=6),
               figures_record("31.S06.01", received_total=20, received_online=19, portal_on_time=18),
               figures_record(WARD_A, received_total=5, received_online=1, portal_on_time=5),
               figures_record(WARD_B, received_total=8, received_online=8, portal_on_time=2)]
    async with figures_producer(kafka_settings) as publish:
        await publish(*records)
        async with running_api(api_settings(kafka_settings)) as api:
            def seed() -> dict[str, dict[str, float]]:
                with httpx.Client(base_url=api.url, headers=ADMIN, timeout=10) as client:
                    return set_demo_targets(client, "31", "2026", GOALS)
            written = await asyncio.to_thread(seed)
            client = api.client
            children = (await client.get("/v1/units/31")).json()["children"]
            for figure, goal in GOALS.goals.items():
                targets = written[figure]
                assert set(targets) == {"31", *children, "31.S06.01"}
                assert targets["31"] == goal
                # The filing-weighted targets of the province's children are its goal (docs/targets.md).
                rollups = {c: (await client.get(f"/v1/units/{c}/rollup")).json()["periods"][REFERENCE_PERIOD]
                           for c in ("31.S06", WARD_A, WARD_B)}
                total = sum(r["received_total"] for r in rollups.values())
                weighted = sum(r["received_total"] * targets[c] for c, r in rollups.items()) / total
                assert weighted == pytest.approx(goal, rel=1e-9)
                # The department's target is shared over its office in turn (its own filings are not).
                office = (await client.get("/v1/units/31.S06.01/rollup")).json()["periods"][REFERENCE_PERIOD]
                start = Start("31.S06.01", office[figure], office["received_total"])
                want = allocate([start], targets["31.S06"], 0.1).targets["31.S06.01"]
                assert targets["31.S06.01"] == pytest.approx(want, rel=1e-9)

            async def report_has_every_unit() -> bool:
                answer = await client.get("/v1/reports/targets",
                                          params={"figure": "on_time_rate", "period": "month_to_date"})
                report = answer.json()
                judged = len(report["above"]) + len(report["below"]) + len(report["no_value"])
                return bool(judged == len(children) + 2)
            await eventually(report_has_every_unit, 10, "the report to judge every unit against its target")
            report = (await client.get("/v1/reports/targets",
                                       params={"figure": "on_time_rate", "period": "month_to_date"})).json()
            assert {r["code"] for r in report["below"]} >= {WARD_B}
            assert {r["code"] for r in report["above"]} >= {WARD_A}

            # The same report as CSV and as an Excel workbook: the same rows.
            params = {"figure": "on_time_rate", "period": "month_to_date"}
            as_csv = await client.get("/v1/reports/targets", params={**params, "format": "csv"})
            as_xlsx = await client.get("/v1/reports/targets", params=params, headers={"Accept": XLSX})
            assert as_xlsx.status_code == 200 and as_xlsx.headers["content-type"] == XLSX
            disposition = as_xlsx.headers["content-disposition"]
            assert 'filename="targets-on_time_rate-month_to_date.xlsx"' in disposition
            sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True)["targets"]
            cells = [[same_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
            assert cells == [[same_cell(t) for t in row] for row in csv.reader(io.StringIO(as_csv.text))]
            assert len(cells) == len(children) + 3


def same_cell(value: object) -> object:
    """A cell as a number when it is one, to 12 decimals (the workbook keeps 16 significant digits and
    reads 1.0 back as 1; the CSV writes Python's shortest repr), else its text."""
    if value is None:
        return ""
    try:
        return round(float(str(value)), 12)
    except ValueError:
        return str(value)
