"""The allocation endpoints on a real broker: the proposal is computed from the published figures, and
applying it writes the targets that every read then judges against."""

from __future__ import annotations

import pytest

from services.api.allocation import Start, allocate
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

pytestmark = pytest.mark.integration

REQUEST = {"figure": "online_rate", "goal": 0.8, "reference_period": "year_to_date", "target_period": "2027",
           "base": 0.1}


async def test_propose_then_apply(kafka_settings: KafkaSettings) -> None:
    # Starts over year_to_date: 31.S06 with its office 23/30, WARD_A 1/5, WARD_B 8/8 (counts ×6 there).
    records = [figures_record("31.S06", received_total=10, received_online=4),
               figures_record("31.S06.01", received_total=20, received_online=19),
               figures_record(WARD_A, received_total=5, received_online=1),
               figures_record(WARD_B, received_total=8, received_online=8)]
    async with figures_producer(kafka_settings) as publish:
        await publish(*records)
        async with running_api(api_settings(kafka_settings)) as api:
            client = api.client
            url = "/v1/admin/allocations/31"
            assert (await client.get(url, params=REQUEST)).status_code == 401
            answer = await client.get(url, params=REQUEST, headers=ADMIN)
            assert answer.status_code == 200, answer.text
            proposal = answer.json()
            children = (await client.get("/v1/units/31")).json()["children"]
            units = {u["code"]: u for u in proposal["units"]}
            assert sorted(units) == sorted(children)

            want = allocate([Start("31.S06", 23 / 30, 180), Start(WARD_A, 1 / 5, 30), Start(WARD_B, 1.0, 48)],
                            0.8, 0.1)
            assert proposal["status"] == "allocated" and proposal["k"] == pytest.approx(want.k, rel=1e-12)
            assert proposal["current"] == pytest.approx((138 + 6 + 48) / 258, rel=1e-12)
            assert proposal["result"] == pytest.approx(0.8, rel=1e-12)
            assert units["31.S06"]["filings"] == 180 and units["31.S06"]["start"] == pytest.approx(23 / 30)
            assert units["31.S06"]["share"] == pytest.approx(180 / 258)
            for code in ("31.S06", WARD_A, WARD_B):
                assert units[code]["target"] == pytest.approx(want.targets[code], rel=1e-12)
            assert units[WARD_B]["target"] == 1.0 and units[WARD_A]["target"] < units["31.S06"]["target"]
            quiet = next(u for u in proposal["units"] if u["filings"] == 0)
            assert quiet["start"] is None and quiet["target"] == 0.8
            # A proposal writes nothing.
            assert (await client.get("/v1/units/31.S06")).json()["targets"] == []

            applied = await client.post(url, json=REQUEST, headers=ADMIN)
            assert applied.status_code == 200, applied.text
            assert applied.json()["units"] == proposal["units"]
            for code in ("31", "31.S06", WARD_A, quiet["code"]):
                targets = (await client.get(f"/v1/units/{code}")).json()["targets"]
                value = 0.8 if code in ("31", quiet["code"]) else units[code]["target"]
                assert targets == [{"unit_code": code, "figure": "online_rate", "period": "2027",
                                    "value": pytest.approx(value, rel=1e-12)}]
            assert len((await client.get("/v1/units/31.S06.01")).json()["targets"]) == 0  # not a child of 31

            bad = await client.get(url, params={**REQUEST, "goal": 1.5}, headers=ADMIN)
            assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "goal"
            bad = await client.post(url, json={**REQUEST, "figure": "received_total"}, headers=ADMIN)
            assert bad.status_code == 422 and "figure" in bad.json()["message"]
            bad = await client.post(url, json={**REQUEST, "target_period": "2027-13"}, headers=ADMIN)
            assert bad.status_code == 422 and "target_period" in bad.json()["message"]
            assert (await client.get("/v1/admin/allocations/nope", params=REQUEST,
                                     headers=ADMIN)).status_code == 404
            leaf = await client.get("/v1/admin/allocations/31.S06.01", params=REQUEST, headers=ADMIN)
            assert leaf.status_code == 422 and leaf.json()["error"] == "no_units"
