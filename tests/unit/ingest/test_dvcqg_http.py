"""The sync endpoints in process, with stand-ins for Kafka and for the mirrored agency codes: login
and sessions, the envelope and the bare list, answers in the format's shape, units by agency code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from services.ingest.app import create_app
from services.ingest.dvcqg.sessions import Sessions
from services.ingest.keys import KeyStore, new_key
from services.ingest.settings import IngestSettings
from tests.support.ingest import FakeWriter, StubAgencies, bearer, write_keys

AGENCY = "000.00.12.H31"
OTHER_AGENCY = "000.00.13.H31"


@dataclass
class Sync:
    client: httpx.AsyncClient
    writer: FakeWriter
    registry: CollectorRegistry
    agencies: StubAgencies
    all_units: str
    scoped: str  # units 26734 and 26737

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def written(self) -> list[dict[str, Any]]:
        return [orjson.loads(value) for batch in self.writer.batches for _, value in batch]

    async def session(self, key: str | None = None) -> str:
        key_id, _, secret = (key or self.all_units).partition(".")
        answer = await self.client.post("/dvcqg/login", json={"username": key_id, "password": secret})
        assert answer.status_code == 200, answer.text
        session: str = answer.json()["session"]
        return session

    async def call(self, data: list[Any], service: str = "DongBoHoSoMC", **envelope: Any) -> httpx.Response:
        body = {"session": await self.session(), "madonvi": AGENCY, "service": service,
                "isUpdating": "False", "data": data, **envelope}
        return await self.client.post("/dvcqg/sync", json=body)


@pytest.fixture
async def sync(tmp_path: Path) -> AsyncIterator[Sync]:
    all_units, scoped = write_keys(tmp_path / "keys.json", ["*"], ["26734", "26737"])
    writer, registry = FakeWriter(), CollectorRegistry()
    agencies = StubAgencies({AGENCY: "26734", OTHER_AGENCY: "31.S03"})
    settings = IngestSettings(keys_file=tmp_path / "keys.json", instance_id="test", max_body_bytes=256 * 1024,
                              sync_max_items=50)
    app = create_app(settings, registry, writer, agencies)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest") as client:
        yield Sync(client, writer, registry, agencies, all_units, scoped)


def dossier(code: str = "000.00.12.H31-261120-00001", **overrides: Any) -> dict[str, Any]:
    base = {"MaHoSo": code, "MaTTHC": "1.001234", "KenhThucHien": "2", "NgayTiepNhan": "20261120083000",
            "NgayHenTra": "20261125170000", "TrangThaiHoSo": "4", "NgayKetThucXuLy": "", "NgayTra": "",
            "DuocThanhToanTrucTuyen": "1", "ChuHoSo": "Nguyễn Văn A", "SoDienThoai": "0912345678"}
    return {**base, **overrides}


async def test_login_gives_a_session_that_takes_a_dossier_call(sync: Sync) -> None:
    answer = await sync.call([dossier()])
    assert answer.status_code == 200
    body = answer.json()
    assert body["error_code"] == "00" and body["accepted"] == 1 and body["rejected"] == 0
    assert body["data"] == [{"index": 0, "MaHoSo": "000.00.12.H31-261120-00001", "error_code": "0",
                             "message": "Đã nhận (taken)", "events": 2}]
    events = sync.written()
    assert {e["unit_code"] for e in events} == {"26734"}
    assert [e["event_type"] for e in events] == ["submitted", "updated"]  # the paid-online flag
    assert sync.sample("ingest_sync_items_total", service="DongBoHoSoMC", outcome="taken") == 1


async def test_a_wrong_password_is_refused_in_the_formats_shape(sync: Sync) -> None:
    key_id = sync.all_units.partition(".")[0]
    answer = await sync.client.post("/dvcqg/login", json={"username": key_id, "password": "nope"})
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "401" and "password" in answer.json()["message"]
    assert sync.sample("ingest_sync_logins_total", outcome="refused") == 1


async def test_the_whole_key_as_password_also_logs_in(sync: Sync) -> None:
    key_id = sync.all_units.partition(".")[0]
    answer = await sync.client.post("/dvcqg/login", json={"username": key_id, "password": sync.all_units})
    assert answer.status_code == 200 and answer.json()["error_code"] == 0


async def test_no_session_or_a_forged_one_is_401(sync: Sync) -> None:
    for session in (None, "k123.99999999999.forged"):
        body = {"madonvi": AGENCY, "service": "DongBoHoSoMC", "data": [dossier()], "session": session}
        answer = await sync.client.post("/dvcqg/sync", json=body)
        assert answer.status_code == 401 and answer.json()["error_code"] == "401"
    assert sync.written() == []


async def test_the_bare_list_on_the_gateway_address_with_a_key(sync: Sync) -> None:
    answer = await sync.client.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}&isUpdating=True",
                                    content=orjson.dumps([dossier()]), headers=bearer(sync.all_units))
    assert answer.status_code == 200 and answer.json()["error_code"] == "00"
    assert {e["unit_code"] for e in sync.written()} == {"26734"}


async def test_the_bare_list_with_a_session_in_the_query(sync: Sync) -> None:
    session = await sync.session()
    answer = await sync.client.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}&session={session}",
                                    content=orjson.dumps([dossier()]))
    assert answer.status_code == 200, answer.text


async def test_an_unmapped_agency_is_refused_clearly_and_counted(sync: Sync) -> None:
    answer = await sync.call([dossier()], madonvi="000.00.99.H31")
    body = answer.json()
    assert answer.status_code == 200 and body["error_code"] == "-1" and body["rejected"] == 1
    [error] = body["data"][0]["errors"]
    assert error["field"] == "madonvi" and "000.00.99.H31" in error["message"]
    key_id = sync.all_units.partition(".")[0]
    assert sync.sample("ingest_sync_unmapped_agency_total", key_id=key_id) == 1
    assert sync.written() == []


async def test_a_dossiers_own_agency_code_places_it(sync: Sync) -> None:
    await sync.call([dossier(MaDonViXuLy=OTHER_AGENCY)])
    assert {e["unit_code"] for e in sync.written()} == {"31.S03"}


async def test_a_key_writes_only_its_units(sync: Sync) -> None:
    key_id, _, secret = sync.scoped.partition(".")
    login = await sync.client.post("/dvcqg/login", json={"username": key_id, "password": secret})
    session = login.json()["session"]
    body = {"session": session, "madonvi": OTHER_AGENCY, "service": "DongBoHoSoMC", "data": [dossier()]}
    answer = (await sync.client.post("/dvcqg/sync", json=body)).json()
    assert answer["rejected"] == 1 and "31.S03" in answer["data"][0]["message"]


async def test_each_dossier_is_taken_or_refused_whole_naming_the_vietnamese_field(sync: Sync) -> None:
    answer = (await sync.call([dossier(), dossier("HS-2", NgayTiepNhan="hôm qua"),
                               dossier("HS-3", TrangThaiHoSo="9")])).json()
    assert [d["error_code"] for d in answer["data"]] == ["0", "1", "1"]
    assert answer["data"][1]["errors"][0]["field"] == "NgayTiepNhan"
    assert answer["data"][2]["errors"][0]["field"] == "NgayKetThucXuLy"
    assert {e["filing_id"] for e in sync.written()} == {"000.00.12.H31-261120-00001"}


async def test_a_contract_bound_is_reported_by_the_senders_field(sync: Sync) -> None:
    answer = (await sync.call([dossier(NgayHenTra="20401125170000")])).json()
    assert answer["data"][0]["errors"][0]["field"] == "NgayHenTra"


async def test_a_dossier_not_yet_received_is_taken_and_not_counted(sync: Sync) -> None:
    answer = (await sync.call([dossier(TrangThaiHoSo="1", NgayTiepNhan="")])).json()
    assert answer["error_code"] == "00" and sync.written() == []
    assert sync.sample("ingest_sync_items_total", service="DongBoHoSoMC", outcome="not_received") == 1


async def test_progress_steps_are_acknowledged_and_write_nothing(sync: Sync) -> None:
    step = {"MaHoSo": "HS-1", "NguoiXuLy": "Trần Thị B", "ThoiDiemXuLy": "20261120090000", "TrangThai": "4"}
    answer = (await sync.call([step], service="CapNhatTienDoHoSoMC")).json()
    assert answer["error_code"] == "00" and sync.written() == []
    bad = (await sync.call([{**step, "ThoiDiemXuLy": "x"}], service="CapNhatTienDoHoSoMC")).json()
    assert bad["data"][0]["errors"][0]["field"] == "ThoiDiemXuLy"


async def test_no_personal_data_reaches_the_records(sync: Sync) -> None:
    await sync.call([dossier(Email="a@example.invalid", SoGiayToChuHoSo="001099012345")])
    written = b"".join(value for batch in sync.writer.batches for _, value in batch)
    for secret in (b"Nguy", b"0912345678", b"a@example.invalid", b"001099012345"):
        assert secret not in written


@pytest.mark.parametrize(("body", "status"), [(b"not json", 400), (b'{"data": 3}', 400),
                                               (b'{"service": "X", "data": []}', 400)])
async def test_malformed_calls_are_refused_whole(sync: Sync, body: bytes, status: int) -> None:
    answer = await sync.client.post("/dvcqg/sync", content=body, headers=bearer(sync.all_units))
    assert answer.status_code == status and answer.json()["error_code"] == str(status)


async def test_too_many_items_is_413(sync: Sync) -> None:
    answer = await sync.client.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}",
                                    content=orjson.dumps([dossier()] * 51), headers=bearer(sync.all_units))
    assert answer.status_code == 413 and answer.json()["error_code"] == "413"


class CountedBody:
    """A body sent in 64 KiB chunks as the server asks for them, counting what it took."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b" " * 65_536
        while self.sent < self.total:
            self.sent += len(chunk)
            yield chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_413_in_the_formats_shape_and_not_read_on(
        sync: Sync, declared: bool) -> None:
    limit = 256 * 1024
    body = CountedBody(20 * limit)
    headers = bearer(sync.all_units) | ({"Content-Length": str(body.total)} if declared else {})
    answer = await sync.client.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}", content=body,
                                    headers=headers)
    assert answer.status_code == 413
    assert set(answer.json()) == {"error_code", "message"} and answer.json()["error_code"] == "413"
    assert f"{limit} bytes" in answer.json()["message"]
    # A declared length over the limit is refused before a byte is read; a chunked body at the limit.
    assert body.sent <= (0 if declared else limit) + 65_536
    assert sync.written() == []
    assert sync.sample("ingest_requests_total", route="/dvcqg/DongBoHoSoMC", status="413") == 1
    # /v1/events keeps the shared shape.
    events = await sync.client.post("/v1/events", content=CountedBody(20 * limit),
                                    headers=bearer(sync.all_units) | {"Content-Type": "application/json"})
    assert events.status_code == 413 and set(events.json()) == {"error", "message"}


async def test_sync_requests_are_counted_and_timed_by_route_like_events(sync: Sync) -> None:
    await sync.call([dossier()])  # a login, then a call
    await sync.client.post("/dvcqg/sync", content=b"not json", headers=bearer(sync.all_units))
    await sync.client.post(f"/dvcqg/DongBoHoSoMC?MaDinhDanhDV={AGENCY}", content=orjson.dumps([dossier()]),
                           headers=bearer(sync.all_units))
    await sync.client.post("/dvcqg/CapNhatTienDoHoSoMC", content=b"[]", headers=bearer("k1.wrong"))
    assert sync.sample("ingest_requests_total", route="/dvcqg/login", status="200") == 1
    assert sync.sample("ingest_requests_total", route="/dvcqg/sync", status="200") == 1
    assert sync.sample("ingest_requests_total", route="/dvcqg/sync", status="400") == 1
    assert sync.sample("ingest_requests_total", route="/dvcqg/DongBoHoSoMC", status="200") == 1
    assert sync.sample("ingest_requests_total", route="/dvcqg/CapNhatTienDoHoSoMC", status="401") == 1
    assert sync.sample("ingest_request_duration_seconds_count", route="/dvcqg/sync", status="200") == 1
    assert sync.sample("ingest_requests_total", route="/v1/events", status="200") == 0
    # Not the operators' own endpoints, nor unknown paths (the label stays bounded).
    await sync.client.get("/metrics")
    await sync.client.post("/dvcqg/nothing", content=b"[]")
    families = [m for m in sync.registry.collect() if m.name == "ingest_requests"]
    routes = {s.labels["route"] for m in families for s in m.samples}
    assert routes == {"/dvcqg/login", "/dvcqg/sync", "/dvcqg/DongBoHoSoMC", "/dvcqg/CapNhatTienDoHoSoMC"}


async def test_until_the_agency_codes_are_read_calls_wait(sync: Sync) -> None:
    sync.agencies.ready = False
    answer = await sync.call([dossier()])
    assert answer.status_code == 503 and "Retry-After" in answer.headers


async def test_kafka_away_is_503_and_nothing_half_written(sync: Sync) -> None:
    sync.writer.available = False
    answer = await sync.call([dossier()])
    assert answer.status_code == 503 and answer.json()["error_code"] == "503"


def test_sessions_expire_and_die_with_their_key() -> None:
    now = [1_000_000.0]
    sessions = Sessions(b"s" * 32, ttl_s=600, clock=lambda: now[0])
    key_id, token, stored = new_key(["26734"])
    store = KeyStore({key_id: stored})
    found = sessions.login(store, key_id, token.partition(".")[2])
    assert found is not None
    key, session = found
    assert sessions.check(store, session) == key
    now[0] += 599
    assert sessions.check(store, session) == key
    now[0] += 1
    assert sessions.check(store, session) is None  # expired
    now[0] -= 600
    assert sessions.check(KeyStore(), session) is None  # the key revoked
    assert Sessions(b"t" * 32, 600, lambda: now[0]).check(store, session) is None  # another secret
    assert session.count(".") == 2 and token.partition(".")[2] not in session
