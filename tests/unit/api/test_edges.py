"""Edges that answered 500 or stored nonsense (issue 12, class 6): each refused with a 4xx or answered
with a safe value, on the API and, where it has the same edge, the ingest service. In process (the
checks all come before any Kafka access, so Kafka is not started); an admin write that passes them
answers 503 (no Kafka), which is how a test tells "accepted" from "refused"."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.api.app import create_app as create_api
from services.api.daily import DailyView
from services.api.registry import ANY_UNIT_CODE, UNIT_CODE, decode_unit
from services.api.settings import ApiSettings
from services.api.targets import Target, TargetBook, apply_target, encode_target, target_key
from services.api.tree import UnitInfo
from services.ingest.app import create_app as create_ingest
from services.ingest.settings import IngestSettings
from tests.support.ingest import FakeWriter, write_keys

ADMIN_KEY = "admin-key-for-edge-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ACCEPTED = 503  # passed every check, then found no Kafka
LONG_CODE = "a" * 5000


def api_app() -> FastAPI:
    settings = ApiSettings(admin_key_sha256=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
                           seed_registry=False, admin_rate_burst=10_000)
    app = create_api(settings, CollectorRegistry())
    tree = app.state.api.runtime.tree
    tree.put(UnitInfo("31", "Hải Phòng", "province", None))
    tree.put(UnitInfo("31.S03", "Sở Tư pháp", "department", "31"))
    return app


@pytest.fixture
async def api() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = api_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as client:
        yield app, client


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    write_keys(tmp_path / "keys.json", ["*"])
    app = create_ingest(IngestSettings(keys_file=tmp_path / "keys.json", instance_id="test"),
                        CollectorRegistry(), FakeWriter())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest") as client:
        yield client


def chain(app: FastAPI, levels: int) -> list[str]:
    """A unit tree `levels` deep, one unit a level; its codes, the root first."""
    codes = [f"c{i}" for i in range(levels)]
    for i, code in enumerate(codes):
        app.state.api.runtime.tree.put(UnitInfo(code, f"Level {i}", "office", codes[i - 1] if i else None))
    return codes


async def test_a_tree_127_levels_deep_is_served(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """Issue 12, class 6: a unit tree 127 levels deep made GET /v1/units fail for everyone (orjson's
    recursion limit on the nested dicts); it is written without recursion now, whatever its depth."""
    app, client = api
    chain(app, 127)
    for url in ("/v1/units", "/v1/units?root=c0"):
        answer = await client.get(url)
        assert answer.status_code == 200
        node, depth = next(r for r in answer.json()["roots"] if r["code"] == "c0"), 1
        while node["children"]:
            (node,) = node["children"]
            depth += 1
        assert depth == 127 and node["code"] == "c126"


async def test_the_admin_refuses_a_tree_deeper_than_32_levels(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """Issue 12, class 6: no write makes a tree deeper than 32 levels, whether the new unit hangs below
    a deep chain or brings a deep subtree of orphans with it."""
    app, client = api
    codes = chain(app, 31)
    unit = {"name": "Tổ", "level": "office"}
    ok = await client.put("/v1/admin/units/leaf", json={**unit, "parent_code": codes[-1]}, headers=ADMIN)
    assert ok.status_code == ACCEPTED  # level 32
    app.state.api.runtime.tree.put(UnitInfo("leaf", "Tổ", "office", codes[-1]))
    below = await client.put("/v1/admin/units/leaf2", json={**unit, "parent_code": "leaf"}, headers=ADMIN)
    assert below.status_code == 422 and below.json()["parameter"] == "parent_code"
    # The root of the chain moved under another unit: its 31 levels (and leaf) would be 33 deep.
    moved = await client.put("/v1/admin/units/c0", json={**unit, "parent_code": "31"}, headers=ADMIN)
    assert moved.status_code == 422 and "33 levels" in moved.json()["message"]


@pytest.mark.parametrize(("first", "last"), [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-02"),
                                             ("2099-12-31", "2100-01-01"), ("1999-12-31", "2000-01-01")])
async def test_daily_dates_outside_the_century_are_refused(api: tuple[FastAPI, httpx.AsyncClient],
                                                          first: str, last: str) -> None:
    """Issue 12, class 6: /v1/units/{code}/daily?from=9999-12-31&to=9999-12-31 overflowed (500)."""
    _, client = api
    answer = await client.get(f"/v1/units/31/daily?from={first}&to={last}")
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_parameter"
    assert answer.json()["parameter"] in ("from", "to")
    inside = await client.get("/v1/units/31/daily?from=2099-12-31&to=2099-12-31")
    assert inside.status_code == 200 and [d["day"] for d in inside.json()["days"]] == ["2099-12-31"]


def test_a_daily_series_never_computes_the_day_after_its_last() -> None:
    """Issue 12, class 6: the series stepped to the day after `to`, which for the last date there is
    does not exist."""
    assert [d["day"] for d in DailyView().series("U", date.max, date.max)] == [date.max.isoformat()]


@pytest.mark.parametrize(("figure", "value"), [
    ("online_rate", 5.0), ("online_rate", 1e308), ("online_rate", True), ("online_rate", False),
    ("online_rate", -0.1), ("on_time_rate", 1.01), ("received_total", 1e13), ("received_total", 12.5),
    ("avg_resolution_hours", 10_000), ("online_rate", "NaN"), ("online_rate", None)])
async def test_targets_out_of_their_figures_range_or_not_numbers_are_refused(
        api: tuple[FastAPI, httpx.AsyncClient], figure: str, value: Any) -> None:
    """Issue 12, class 6: rate targets of 5.0 or 1e308, and `true`, were accepted."""
    _, client = api
    answer = await client.put(f"/v1/admin/targets/31/{figure}/2026", content=orjson.dumps({"value": value}),
                              headers={**ADMIN, "Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_parameter" and "value" in answer.json()["message"]


@pytest.mark.parametrize(("figure", "value"), [("online_rate", 0), ("online_rate", 1), ("online_rate", 0.6),
                                               ("received_total", 1200), ("avg_resolution_hours", 72.5)])
async def test_targets_in_range_are_taken(api: tuple[FastAPI, httpx.AsyncClient], figure: str,
                                          value: float) -> None:
    """Issue 12, class 6: the bounds leave every sensible target through."""
    _, client = api
    answer = await client.put(f"/v1/admin/targets/31/{figure}/2026", json={"value": value}, headers=ADMIN)
    assert answer.status_code == ACCEPTED


async def test_allocation_numbers_are_numbers(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """Issue 12, class 6: `true` was taken as a goal of 1 (and `false` as 0)."""
    _, client = api
    for body in ({"goal": True, "target_period": "2027"},
                 {"goal": 0.8, "base": True, "target_period": "2027"}):
        answer = await client.post("/v1/admin/allocations/31", json=body, headers=ADMIN)
        assert answer.status_code == 422, body


def test_a_target_record_the_admin_would_refuse_is_skipped() -> None:
    """Issue 12, class 6: the mirror took any value from the targets topic (float(True), "5")."""
    book = TargetBook()
    good = Target("31", "online_rate", "2026", 0.6)
    apply_target(book, good.key, encode_target(good))
    for raw in ({**good.as_dict(), "value": 5.0}, {**good.as_dict(), "value": True},
                {**good.as_dict(), "value": "0.6"}, {**good.as_dict(), "period": "２０２６"},
                {**good.as_dict(), "unit_code": "-x"}):
        key = target_key(raw["unit_code"], raw["figure"], raw["period"])
        with pytest.raises((ValueError, TypeError)):
            apply_target(book, key, orjson.dumps(raw))
    assert list(book.by_key) == [good.key]


@pytest.mark.parametrize("period", ["２０２６", "٢٠٢٦", "2026-Q１", "202６-03", "9999", "0000", "2026\n"])
async def test_target_periods_take_ascii_digits_of_this_century_only(
        api: tuple[FastAPI, httpx.AsyncClient], period: str) -> None:
    """Issue 12, class 6: periods matched non-ASCII digits (`\\d`), which no figure's period ever names."""
    _, client = api
    target = await client.put(f"/v1/admin/targets/31/online_rate/{quote(period)}", json={"value": 0.5},
                              headers=ADMIN)
    assert target.status_code == 422
    allocation = await client.get("/v1/admin/allocations/31", params={"goal": 0.8, "target_period": period},
                                  headers=ADMIN)
    assert allocation.status_code == 422


@pytest.mark.parametrize("parent", ["!!", "../31", "31/x", "a" * 65, "-31", "", "３１", " 31"])
async def test_parent_codes_are_held_to_the_registry_pattern(api: tuple[FastAPI, httpx.AsyncClient],
                                                            parent: str) -> None:
    """Issue 12, class 6: `parent_code` was not validated (the unit's own code was)."""
    _, client = api
    answer = await client.put("/v1/admin/units/31.S09", json={"name": "Sở", "level": "department",
                                                               "parent_code": parent}, headers=ADMIN)
    assert answer.status_code == 422
    with pytest.raises(ValueError):
        decode_unit("31.S09", orjson.dumps({"name": "Sở", "level": "department", "parent_code": parent}))


async def test_csv_cells_from_the_registry_cannot_be_formulas(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """Issue 12, class 6: unit names beginning with =, +, -, @ went raw into the CSV report, a formula
    when opened in a spreadsheet (OWASP, CSV injection: tab and carriage return too)."""
    app, client = api
    runtime = app.state.api.runtime
    names = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"]
    for i, name in enumerate(names):
        runtime.tree.put(UnitInfo(f"u{i}", name, "ward", "31"))
        runtime.targets.put(Target(f"u{i}", "online_rate", "2026", 0.5))
    runtime.tree.put(UnitInfo("u9", "Phường Hồng Bàng", "=cmd", "31"))
    runtime.targets.put(Target("u9", "online_rate", "2026", 0.5))
    answer = await client.get("/v1/reports/targets?format=csv&period=year_to_date")
    assert answer.status_code == 200
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert [rows[f"u{i}"]["name"] for i in range(len(names))] == ["'" + n for n in names]
    assert rows["u9"]["name"] == "Phường Hồng Bàng" and rows["u9"]["level"] == "'=cmd"


def documented_methods(app: FastAPI) -> dict[str, set[str]]:
    return {re.sub(r"\{[^}]+\}", "31", path): {m.upper() for m in ops}
            for path, ops in app.openapi()["paths"].items()}


async def test_every_405_names_the_methods_the_path_takes(api: tuple[FastAPI, httpx.AsyncClient],
                                                         ingest: httpx.AsyncClient) -> None:
    """Issue 12, class 6: 405 answers carried an empty `Allow` (RFC 9110, 15.5.6, wants the methods)."""
    app, client = api
    paths = {**documented_methods(app), "/dashboard/dashboard.js": {"GET", "HEAD"}, "/": {"GET"},
             "/docs": {"GET"}}
    paths["/v1/admin/targets/31/online_rate/2026"] = {"PUT", "DELETE"}
    for service, known in ((client, paths), (ingest, {"/v1/events": {"POST"}, "/healthz": {"GET"},
                                                      "/metrics": {"GET"}, "/docs": {"GET"}})):
        for path, methods in known.items():
            wrong = next(m for m in ("PATCH", "POST", "GET") if m not in methods)
            answer = await service.request(wrong, path, headers=ADMIN)
            assert answer.status_code == 405, path
            assert set(answer.headers["allow"].split(", ")) == methods, path
            assert answer.json()["error"] == "method_not_allowed"


async def test_no_answer_echoes_a_long_code(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    """Issue 12, class 6: 404s echoed a 5,000-character code back. A code longer than the contract's 64
    characters is refused (422, naming the parameter, not its value); a 404 quotes at most 100."""
    _, client = api
    for url in (f"/v1/units/{LONG_CODE}", f"/v1/units/{LONG_CODE}/rollup",
                f"/v1/units/{LONG_CODE}/daily?from=2026-01-01&to=2026-01-02", f"/v1/units?root={LONG_CODE}",
                f"/v1/rankings?parent={LONG_CODE}", f"/v1/reports/targets?unit={LONG_CODE}"):
        answer = await client.get(url)
        assert answer.status_code == 422 and len(answer.content) < 500, url
    missing = await client.get(f"/v1/units/{'b' * 64}")
    assert missing.status_code == 404 and len(missing.content) < 300


@pytest.mark.parametrize("service", ["api", "ingest"])
async def test_docs_load_nothing_from_another_site(api: tuple[FastAPI, httpx.AsyncClient],
                                                   ingest: httpx.AsyncClient, service: str) -> None:
    """Issue 12, class 6: /docs loaded its scripts from a public CDN with no Content-Security-Policy.
    Now every script, stylesheet and icon is served by the service itself, under a strict policy."""
    client = api[1] if service == "api" else ingest
    page = await client.get("/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy
    assert "http" not in page.text.replace('"http-equiv', "") and "<script>" not in page.text
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(loaded) == 4
    for url in loaded:
        asset = await client.get(f"/{url}")
        assert asset.status_code == 200 and asset.content, url
    assert (await client.get("/redoc")).status_code == 404
    assert (await client.get("/docs/index.html")).status_code == 404  # only the page's own files


def test_read_codes_are_the_contracts_and_registry_codes_a_part_of_them() -> None:
    """Issue 12, class 6: a code is validated with the pattern of the event contract's `unit_code`."""
    field = orjson.loads(Path("schemas/filing-event.v1.json").read_bytes())["properties"]["unit_code"]
    assert field["pattern"] == "^[A-Za-z0-9._-]+$" and (field["minLength"], field["maxLength"]) == (1, 64)
    assert ANY_UNIT_CODE.pattern == "^[A-Za-z0-9._-]{1,64}$"
    for code in ("31", "31.S03", "a" * 64, "-x", ".", "a" * 65, "３１", "31\n"):
        assert not UNIT_CODE.fullmatch(code) or ANY_UNIT_CODE.fullmatch(code)


@pytest.mark.parametrize("body", [b"{\"value\": 0.9", b"not json", b"{\"value\": 0.9}}"])
async def test_a_body_that_is_no_json_is_named_body_not_a_character_number(
        api: tuple[FastAPI, httpx.AsyncClient], body: bytes) -> None:
    _, client = api
    answer = await client.put("/v1/admin/targets/31/online_rate/2026", content=body,
                              headers={**ADMIN, "Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["parameter"] for e in errors] == ["body"]
    assert errors[0]["reason"].startswith("not JSON at character")
