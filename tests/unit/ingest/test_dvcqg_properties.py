"""Properties of the mapping: any order and any repetition of a dossier's states, contradicting ones
included, give the same figures (the oracle's, from the events the states map to)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.dvcqg.mapping import map_dossier
from services.ingest.dvcqg.values import VIETNAM, compact
from tests.support.oracle import recompute

AS_OF = datetime(2026, 12, 1, 12, tzinfo=VIETNAM)
START = datetime(2026, 11, 2, 8, tzinfo=VIETNAM)

hours = st.integers(min_value=1, max_value=24 * 20)
flag = st.sampled_from(["", "0", "1"])


@st.composite
def state(draw: st.DrawFn, code: str) -> dict[str, Any]:
    """One state of dossier `code`: any status, dates after receipt, any flags. Drawn freely, so that
    two states of one dossier may contradict each other in every field."""
    received = START + timedelta(hours=draw(st.integers(0, 3)))
    status = draw(st.sampled_from([str(n) for n in range(1, 11)]))

    def later() -> str:
        return compact(received + timedelta(hours=draw(hours)))

    supplements = [{"NgayBoSung": later(), "NgayTiepNhanBoSung": draw(st.sampled_from(["", later()])),
                    "NgayHenTraMoi": draw(st.sampled_from(["", later()]))}
                   for _ in range(draw(st.integers(0, 2)))]
    if status == "5" and all(s["NgayTiepNhanBoSung"] for s in supplements):
        supplements.append({"NgayBoSung": later()})
    return {
        "MaHoSo": code, "MaTTHC": draw(st.sampled_from(["1.001234", "2.000908"])),
        "KenhThucHien": draw(st.sampled_from(["1", "2", "3", ""])), "TrangThaiHoSo": status,
        "NgayTiepNhan": compact(received), "NgayHenTra": later(), "NgayKetThucXuLy": later(),
        "NgayTra": draw(st.sampled_from(["", later()])), "NgayTuChoi": draw(st.sampled_from(["", later()])),
        "DuocThanhToanTrucTuyen": draw(st.sampled_from(["", "0", "1", "2"])),
        "HoSoCoThanhPhanSoHoa": draw(flag), "TaiKhoanDuocXacThucVoiVNeID": draw(flag),
        "TaiLieuNop": [{"DuocTaiSuDung": draw(flag), "DuocLayTuKhoDMQG": draw(flag)}],
        "DanhSachLePhi": draw(st.sampled_from([[], [{"Gia": "0"}], [{"Gia": "8000"}]])),
        "DanhSachGiayToKetQua": draw(st.sampled_from(
            [[], [{"TenGiayTo": "kq", "DuongDanTepTinKetQua": ""}],
             [{"TenGiayTo": "kq", "DuongDanTepTinKetQua": "https://example.invalid/kq"}]])),
        "DanhSachHoSoBoSung": supplements,
    }


def figures(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The oracle's figures of every unit, from the events of `states` sent in that order."""
    lines = b"".join(orjson.dumps(e) + b"\n"
                     for s in states for e in map_dossier(s, "31.S03", "dvcqg:k1").events)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.ndjson"
        path.write_bytes(lines)
        return recompute(path, AS_OF).units


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two deliveries of the same states of two dossiers: each in its own order, each state sent one
    to four times."""
    states = draw(st.lists(state("HS-1"), min_size=1, max_size=4)) + draw(st.lists(state("HS-2"), max_size=3))

    def delivery() -> list[dict[str, Any]]:
        sent = [s for s in states for _ in range(draw(st.integers(1, 4)))]
        return draw(st.permutations(sent))

    return delivery(), delivery()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_any_order_and_repetition_of_states_gives_the_same_figures(
        pair: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    first, second = pair
    assert figures(first) == figures(second)


@settings(max_examples=150, deadline=None)
@given(st.lists(state("HS-1"), min_size=1, max_size=5))
def test_one_event_id_always_means_one_content(states: list[dict[str, Any]]) -> None:
    """What makes arrival order irrelevant: no two states give one id two contents, so no copy
    counts by arriving first."""
    seen: dict[str, dict[str, Any]] = {}
    for s in states:
        for event in map_dossier(s, "31.S03", "dvcqg:k1").events:
            assert seen.setdefault(event["event_id"], event) == event


@settings(max_examples=100, deadline=None)
@given(st.lists(state("HS-1"), min_size=1, max_size=3))
def test_a_state_sent_again_adds_nothing(states: list[dict[str, Any]]) -> None:
    assert figures(states) == figures(states + states[:1] * 5)
