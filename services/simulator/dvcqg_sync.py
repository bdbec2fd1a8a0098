"""The simulator speaking the national portal's sync: a province's filings as `DongBoHoSoMC` calls.

Each filing's v2 events (`lifecycle.py`) are rendered as the dossier states a provincial system
would send: after each event, the dossier's whole current state, with the applicant's personal data
filled in as real payloads carry it (made-up, recognisable values, so that a test can look for them
downstream). `province_day_calls` sends every state one to three times and lets states of one dossier
overtake each other, as real syncs do. `expressible` is what the format can say of the same events
(no `overdue` mark, no full-online or rating fields, the result's form only with a result file): the
events whose figures the sync must give. `as_sync` does the same live: a feed's items in delivery
order, some units' filings turned into dossier states as they happen, sent again and out of order.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from services.simulator.delivery import DUPLICATE, MALFORMED, REPEAT, SYNC_RESENT, SYNC_STATE, Delivery
from services.simulator.lifecycle import Event

STATUS_AFTER = {"submitted": "4", "supplement_requested": "5", "supplement_completed": "4",
                "processed": "9", "result_returned": "10", "stopped": "8", "withdrawn": "7", "rejected": "3"}
CHANNEL = {"in_person": "1", "online": "2", "postal": "3"}
PAID_VIA = {"national_portal": "1", "provincial_gateway": "2"}
# Fields of the contract the sync format has no place for.
UNSAYABLE = ("full_online_service", "full_online_eligible", "satisfied", "paper_result", "electronic_result")


def agency_code(unit_code: str) -> str:
    """The made-up portal agency code of a unit (the province maps them through the API's admin)."""
    return f"000.00.{unit_code}.H31"


def compact(text: str) -> str:
    """`yyyyMMddHHmmss` in Viet Nam time of an RFC 3339 instant (the simulator's are all +07:00)."""
    return datetime.fromisoformat(text).strftime("%Y%m%d%H%M%S")


def personal_data(n: int) -> dict[str, str]:
    """An applicant's data as senders fill it: every value made up and unique to `n`."""
    return {"ChuHoSo": f"Nguyễn Văn Thử {n:06d}", "SoDienThoai": f"09{n:08d}",
            "Email": f"cudan{n:06d}@example.invalid", "Fax": f"02{n:08d}", "MaDoiTuong": f"CD{n:08d}",
            "SoGiayToChuHoSo": f"0010990{n:05d}",
            "DinhDanhCHS": f"0790{n:08d}", "ThongTinKhac": f"Số nhà {n} đường Thử",
            "TrichYeuHoSo": f"Đăng ký khai sinh cho con của Nguyễn Văn Thử {n:06d}"}


def dossier_states(events: list[Event], pii: Mapping[str, str]) -> list[dict[str, Any]]:
    """The filing's state after each of its events (events in their order of occurrence)."""
    first = events[0]
    assert first["event_type"] == "submitted"
    state: dict[str, Any] = {
        "MaHoSo": first["filing_id"], "MaTTHC": first["procedure_code"], "TenTTHC": "Thủ tục thử",
        "MaLinhVuc": "HT", "TenLinhVuc": "Hộ tịch", "KenhThucHien": CHANNEL[first["channel"]],
        "LoaiDoiTuong": "1",
        **pii, "NgayNopHoSo": compact(first["occurred_at"]), "NgayTiepNhan": compact(first["occurred_at"]),
        "NgayHenTra": compact(_due(first)), "TrangThaiHoSo": "2", "NgayKetThucXuLy": "", "NgayTra": "",
        "ThongTinTra": "", "HinhThuc": "0", "NgayTuChoi": "", "DonViXuLy": "UBND phường Thử",
        "DuocThanhToanTrucTuyen": "", "HoSoCoThanhPhanSoHoa": "", "TaiKhoanDuocXacThucVoiVNeID": "",
        "TaiLieuNop": [], "DanhSachLePhi": [], "DanhSachGiayToKetQua": [], "DanhSachHoSoBoSung": [],
        "DanhSachTepDinhKemKhac": [], "DSKetNoiCSDL": []}
    flags: dict[str, Any] = {}
    states = []
    for event in events:
        _apply(state, event)
        flags.update({k: v for k, v in event.items() if k in _FLAG_FIELDS})
        if event.get("online_payment_via"):
            flags["online_payment"] = True
        _render_flags(state, flags, pii)
        states.append(_copy(state))
    return states


_FLAG_FIELDS = frozenset({"online_payment", "online_payment_via", "fee_due", "digitised", "data_reused",
                          "personal_store", "population_db", "paper_result", "electronic_result"})


def _due(submitted: Event) -> str:
    if "due_at" in submitted:
        return str(submitted["due_at"])
    start = datetime.fromisoformat(submitted["occurred_at"])
    return (start + timedelta(hours=submitted["statutory_max_hours"])).isoformat()


def _apply(state: dict[str, Any], event: Event) -> None:
    kind = event["event_type"]
    when = compact(event["occurred_at"])
    if kind in STATUS_AFTER:
        state["TrangThaiHoSo"] = STATUS_AFTER[kind]
    if kind == "supplement_requested":
        state["DanhSachHoSoBoSung"].append({"NgayBoSung": when, "NgayTiepNhanBoSung": "",
                                            "NguoiYeuCauBoSung": "Cán bộ Thử",
                                            "NoiDungBoSung": "Bổ sung giấy tờ", "NgayHenTraMoi": ""})
    elif kind == "supplement_completed":
        item = state["DanhSachHoSoBoSung"][-1]
        item["NgayTiepNhanBoSung"] = when
        if "due_at" in event:
            item["NgayHenTraMoi"] = compact(event["due_at"])
    elif kind in ("processed", "stopped", "withdrawn"):
        state["NgayKetThucXuLy"] = when
    elif kind == "result_returned":
        state["NgayTra"] = when
    elif kind == "rejected":
        state["NgayTuChoi"] = when


def _render_flags(state: dict[str, Any], flags: Mapping[str, Any], pii: Mapping[str, str]) -> None:
    if "online_payment" in flags:
        state["DuocThanhToanTrucTuyen"] = PAID_VIA.get(flags.get("online_payment_via") or "", "0") \
            if flags["online_payment"] else "0"
    if "fee_due" in flags:
        state["DanhSachLePhi"] = [{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "1", "HinhThucThu": "1",
                                   "Gia": "50000" if flags["fee_due"] else "0", "LoaiPhiLePhi": "1"}]
    for name, field in (("digitised", "HoSoCoThanhPhanSoHoa"),
                        ("population_db", "TaiKhoanDuocXacThucVoiVNeID")):
        if name in flags:
            state[field] = "1" if flags[name] else "0"
    if "data_reused" in flags or "personal_store" in flags:
        state["TaiLieuNop"] = [{"TepDinhKemId": "1", "TenTepDinhKem": f"cccd-{pii['SoGiayToChuHoSo']}.pdf",
                                "IsDeleted": "False", "DuocTaiSuDung": _yes_no(flags.get("data_reused")),
                                "DuocLayTuKhoDMQG": _yes_no(flags.get("personal_store"))}]
    if flags.get("paper_result") and "electronic_result" in flags:
        link = "https://example.invalid/kq.pdf" if flags["electronic_result"] else ""
        state["DanhSachGiayToKetQua"] = [{"TenGiayTo": "Giấy khai sinh", "GiayToId": "1",
                                          "DuongDanTepTinKetQua": link}]


def _yes_no(value: object) -> str:
    return "" if value is None else ("1" if value else "0")


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return {k: [dict(i) for i in v] if isinstance(v, list) else v for k, v in state.items()}


def expressible(events: list[Event]) -> list[Event]:
    """The filing's events as the sync can say them (see the module's docstring), in order."""
    out = []
    paper: bool | None = None
    for event in events:
        if event["event_type"] == "overdue":
            continue
        paper = event.get("paper_result", paper)
        said = {k: v for k, v in event.items() if k not in UNSAYABLE}
        if "statutory_max_hours" in said:
            del said["statutory_max_hours"]
            said["due_at"] = _due(event)
        if paper and "electronic_result" in event:  # a result file is listed: the result's form is known
            said["paper_result"] = True
            said["electronic_result"] = event["electronic_result"]
        out.append(said)
    return out


def province_day_calls(events: Iterable[Event], rng: random.Random, per_call: int = 100,
                       agency_of: Callable[[str], str] = agency_code,
                       ) -> tuple[list[list[dict[str, Any]]], list[Event]]:
    """The feed's filings as sync calls (lists of up to `per_call` dossiers, each with its agency code
    as `MaDonViXuLy`): each state sent one to three times, a dossier's states delivered up to two days
    out of order. Also the expressible events, for the oracle."""
    filings: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        filings[(event["unit_code"], event["filing_id"])].append(event)
    deliveries: list[tuple[float, int, dict[str, Any]]] = []
    said: list[Event] = []
    for number, ((unit, _), history) in enumerate(sorted(filings.items()), start=1):
        history.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))
        if history[0]["event_type"] != "submitted":
            continue  # its submission is outside the feed's window
        said.extend(expressible(history))
        for event, state in zip(history, dossier_states(history, personal_data(number)), strict=True):
            state["MaDonViXuLy"] = agency_of(unit)
            sent_at = datetime.fromisoformat(event["occurred_at"]).timestamp()
            for _ in range(rng.randint(1, 3)):
                deliveries.append((sent_at + rng.uniform(0, 2 * 86_400), len(deliveries), state))
    deliveries.sort()
    dossiers = [state for _, _, state in deliveries]
    return [dossiers[i:i + per_call] for i in range(0, len(dossiers), per_call)], said


def as_sync(items: Iterable[Delivery], rng: random.Random, synced: Callable[[str], bool], *,
            window_s: int = 6 * 3600, agency_of: Callable[[str], str] = agency_code) -> Iterator[Delivery]:
    """The feed's items in delivery order, the filings of units where `synced(unit_code)` holds
    turned into dossier states (`SYNC_STATE`, payload a dossier with `MaDonViXuLy`); other items pass
    unchanged.

    As a provincial system syncs: when an event of such a filing reaches the sender, the dossier's
    whole current state (every event known so far, in order of occurrence) goes out, and goes out
    again up to twice within `window_s` seconds (`SYNC_RESENT`), so an older state may arrive after
    a newer one. The feed's own duplicates, repeats and broken lines of those units are left out:
    the sync has no event ids to repeat. A filing whose submission has not reached the sender yet
    waits for it. Once a dossier is closed (result returned, refused, withdrawn, stopped) its later
    news is not sent: a rating, or an event delivered days late, is dropped."""
    histories: dict[str, tuple[int, list[Event]]] = {}
    closed: dict[str, int] = {}  # filing → when it closed; forgotten after CLOSED_KEPT_S
    held: list[tuple[int, int, Delivery]] = []
    seq = filings = 0

    def hold(item: Delivery) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(held, (item.deliver_at, seq, item))

    for item in items:
        while held and held[0][0] <= item.deliver_at:
            yield heapq.heappop(held)[2]
        event = item.payload
        unit = event.get("unit_code") if isinstance(event, dict) else None
        if not isinstance(unit, str) or not synced(unit):
            yield item
            continue
        assert isinstance(event, dict)
        filing = event["filing_id"]
        if item.kind in (DUPLICATE, REPEAT, MALFORMED) or filing in closed:
            continue
        if filing not in histories:
            filings += 1
            histories[filing] = (filings, [])
            if filings % 1000 == 0:
                _forget_closed(closed, item.deliver_at)
        number, history = histories[filing]
        history.append(event)
        history.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))
        if history[0]["event_type"] != "submitted":
            continue
        state = dossier_states(history, personal_data(number))[-1]
        state["MaDonViXuLy"] = agency_of(unit)
        yield Delivery(item.deliver_at, item.occurred_at, state, SYNC_STATE)
        for _ in range(rng.randint(0, 2)):
            hold(Delivery(item.deliver_at + 1 + rng.randrange(max(window_s, 1)), item.occurred_at, state,
                          SYNC_RESENT))
        if state["TrangThaiHoSo"] in _CLOSED:
            del histories[filing]
            closed[filing] = item.deliver_at
    while held:
        yield heapq.heappop(held)[2]


# Statuses after which a dossier's news is not sent any more: result returned, refused at the desk,
# withdrawn, stopped. Processed (9) is not: the result's return follows.
_CLOSED = frozenset({"10", "3", "7", "8"})
CLOSED_KEPT_S = 10 * 86_400  # longer than the feed delivers anything late (delivery.py)


def _forget_closed(closed: dict[str, int], now: int) -> None:
    for filing in [f for f, at in closed.items() if now - at > CLOSED_KEPT_S]:
        del closed[filing]
