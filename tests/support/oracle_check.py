"""The pipeline's figures, as the API serves them, against the oracle: shared by the end-to-end tests
(events posted bare, and the national portal's sync)."""

from __future__ import annotations

from typing import Any

import httpx

from services.aggregator.late_filings import LIST_BOUND
from services.contract.portal_scores import score_period
from tests.support.aggregator import Worker
from tests.support.oracle import OracleResult, compare, compare_filings, subtree_periods
from tests.support.waiting import eventually

SUBTREES = ("31", "31.S06", "31.S03")  # the province, a department with its office, a department alone
# Tuned for freshness: the worker publishes a changed unit within 50 ms (its lists within 250 ms)
# and packs for at most 20 ms.
FAST_WORKER = {"AGGREGATOR_PUBLISH_INTERVAL_S": "0.05", "AGGREGATOR_FILINGS_INTERVAL_S": "0.25",
               "AGGREGATOR_PACK_MAX_WAIT_MS": "20"}
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
    await assert_api_filings_equal_oracle(client, oracle)


async def served_lists(client: httpx.AsyncClient, code: str, late_periods: list[str]) -> dict[str, Any]:
    """A unit's lists as GET /v1/units/{code}/filings serves them, in the unit-filings record's shape."""
    async def one(which: str, period: str = "month_to_date") -> dict[str, Any]:
        answer = await client.get(f"/v1/units/{code}/filings",
                                  params={"list": which, "period": period, "per_page": LIST_BOUND})
        assert answer.status_code == 200, (code, which, period, answer.text)
        body = answer.json()
        assert body["kept"] == len(body["filings"]) == min(body["count"], LIST_BOUND)
        return {"count": body["count"], "until": body["until"], "filings": body["filings"]}
    return {"overdue_now": await one("overdue_now"), "due_soon": await one("due_soon"),
            "late": {period: await one("late", period) for period in late_periods}}


async def assert_api_filings_equal_oracle(client: httpx.AsyncClient, oracle: OracleResult) -> None:
    """Every unit's lists, as the API serves them from unit-filings, equal the oracle's filing by filing
    (the first 100 of each, and each list's exact count)."""
    last: list[str] = []

    async def settled() -> bool:
        served = {code: await served_lists(client, code, list(lists["late"]))
                  for code, lists in oracle.filings.items()}
        last[:] = compare_filings(oracle.filings, served, LIST_BOUND)
        return not last

    # Something to compare: filings overdue now and counted late, in the oracle's lists.
    assert any(lists["overdue_now"] for lists in oracle.filings.values())
    assert any(items for lists in oracle.filings.values() for items in lists["late"].values())
    try:
        await eventually(settled, SETTLE_S, "the API's filing lists to equal the oracle's")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still different: {last[:10]}") from None


def find(node: dict[str, Any], code: str) -> dict[str, Any] | None:
    if node["code"] == code:
        return node
    return next((found for child in node["children"] if (found := find(child, code))), None)


def codes_below(node: dict[str, Any] | None) -> set[str]:
    assert node is not None
    return {node["code"]}.union(*(codes_below(c) for c in node["children"]))
