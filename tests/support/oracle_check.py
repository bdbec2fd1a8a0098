"""The pipeline's figures, as the API serves them, against the oracle: shared by the end-to-end tests
(events posted bare, and the national portal's sync)."""

from __future__ import annotations

from typing import Any

import httpx

from services.contract.portal_scores import score_period
from tests.support.aggregator import Worker
from tests.support.oracle import OracleResult, compare, subtree_periods
from tests.support.waiting import eventually

SUBTREES = ("31", "31.S06", "31.S03")  # the province, a department with its office, a department alone
# Tuned for freshness: the worker publishes a changed unit within 50 ms and packs for at most 20 ms.
FAST_WORKER = {"AGGREGATOR_PUBLISH_INTERVAL_S": "0.05", "AGGREGATOR_PACK_MAX_WAIT_MS": "20"}
SETTLE_S = 120.0


async def assert_api_equals_oracle(client: httpx.AsyncClient, oracle: OracleResult, worker: Worker) -> None:
    """Every subtree's rollup and score, and every unit's figures, equal the oracle's (as of the frozen
    2026-11-23T12:00:00+07:00 the end-to-end tests run at)."""
    tree = (await client.get("/v1/units", params={"root": "31"})).json()["roots"][0]
    subtrees = {code: codes_below(find(tree, code)) for code in SUBTREES}
    assert set(oracle.units) <= subtrees["31"], "every unit with events is in the registry"
    expected = {code: {"unit_code": code, "periods": subtree_periods(
        [oracle.units[u] for u in sorted(units) if u in oracle.units])} for code, units in subtrees.items()}
    assert all(expected[c]["periods"]["all_time"]["received_total"] > 0 for c in SUBTREES)
    last: list[Any] = []

    async def settled() -> bool:
        # A rollup may lag the view by up to 0.25 s (rollup_cache.py); then every unit must be settled.
        if not worker.alive():  # not an AssertionError: the wait must not read it as "not yet"
            raise RuntimeError(f"the aggregator worker stopped:\n{worker.log_tail()}")
        rollups = {code: {"unit_code": code, "periods": (await client.get(f"/v1/units/{code}/rollup")).json()[
            "periods"]} for code in SUBTREES}
        last[:] = compare(expected, rollups)
        return not last

    try:
        await eventually(settled, SETTLE_S, "the API's rollups to equal the oracle's")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still different: {last[:10]}") from None
    # Decision 766's scores over each subtree: the API's, from the oracle's counters scored anew.
    for code in SUBTREES:
        periods = expected[code]["periods"]
        for period in ("month_to_date", "2026-11", "2026-10", "2026-Q4", "2026", "all_time"):
            answer = (await client.get(f"/v1/units/{code}/score", params={"period": period})).json()
            scored = score_period(periods[period], periods["all_time"])
            assert {k: answer[k] for k in scored} == scored, (code, period)
            assert answer["progress"]["totalReceived"] == periods[period]["received_total"]
    served = {}
    for code in oracle.units:
        answer = (await client.get(f"/v1/units/{code}")).json()
        served[code] = {"unit_code": code, "periods": answer["figures"]["periods"]}
        assert answer["figures"]["as_of"].startswith("2026-11-23T12:00:00")
    assert compare(oracle.units, served) == []


def find(node: dict[str, Any], code: str) -> dict[str, Any] | None:
    if node["code"] == code:
        return node
    return next((found for child in node["children"] if (found := find(child, code))), None)


def codes_below(node: dict[str, Any] | None) -> set[str]:
    assert node is not None
    return {node["code"]}.union(*(codes_below(c) for c in node["children"]))
