"""One dossier state of the national portal's sync (`DongBoHoSoMC`) → the contract's v2 events.

Pure: a dict in, events out, no clock and no I/O. The rules are in docs/integration.md ("How a
dossier becomes events"); in short:

- A state says where the dossier stands *now* and carries its dates, so each state gives every
  event its dates imply: `submitted` at NgayTiepNhan, the supplement requests and completions of
  DanhSachHoSoBoSung, and the ending its status names at its date. A state sent again gives the
  same events again.
- Event ids are made from the dossier's code, the transition and every value the event carries.
  The same content always has the same id (so it counts once, however often it is sent), and
  different content never shares an id (so no copy "wins" by arriving first). The aggregator's
  figures are a function of the *set* of a filing's events (docs/figures.md), so any order and any
  repetition of a dossier's states give the same figures.
- Where states contradict, the set's canonical order decides, and the ids are built so that its
  choice is the documented one: the earliest receipt, then the earliest due date
  (`s:<receipt>:<due>` sorts so); a flag takes the value of the latest state reporting it, and
  between states of the same moment a yes beats a no (`f1` sorts after `f0`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.ingest.dvcqg.reader import Problem, Reader
from services.ingest.dvcqg.values import compact, rfc3339

Event = dict[str, Any]

STATUSES = frozenset(str(n) for n in range(1, 11))
CHANNELS = {"1": "in_person", "2": "online", "3": "postal"}
# DuocThanhToanTrucTuyen: 1 paid on the national portal, 2 through the province's gateway; 0 and 3
# are seen with no published meaning, and are read as "not paid online" (docs/integration.md).
PAYMENT = {"1": "national_portal", "2": "provincial_gateway"}
NOT_PAID = frozenset({"0", "3"})
# The contract's filing_id; a dossier code outside it is replaced by a digest of it.
FILING_ID = re.compile(r"[A-Za-z0-9._:@/-]{1,128}")
ID_PART_CHARS = 60  # of the filing id inside an event id, which is at most 128 characters
REQUIRED = "bắt buộc (required)"


@dataclass
class Mapped:
    """What one dossier state comes to: events, or the problems that refuse it.

    `origins[i]` names, for the contract fields of `events[i]` that came from the dossier, the
    sender's field, so that a contract error is reported by the sender's name.
    """

    filing_id: str | None = None
    events: list[Event] = field(default_factory=list)
    origins: list[dict[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    not_received: bool = False  # status 1, or 3 with no receipt: nothing of it counts (2.1)


def filing_id_of(code: str) -> str:
    """The dossier's code as the contract's filing_id; a code the contract cannot carry (spaces,
    other scripts, over 128 characters) becomes `dvcqg-<digest>`, the same every time."""
    if FILING_ID.fullmatch(code):
        return code
    return "dvcqg-" + hashlib.blake2b(code.encode(), digest_size=16).hexdigest()


def map_dossier(dossier: Mapping[str, object], unit_code: str, source: str) -> Mapped:
    problems: list[Problem] = []
    r = Reader(dossier, problems)
    code = r.code("MaHoSo")
    if code is None and not any(p.field == "MaHoSo" for p in problems):
        r.require("MaHoSo", REQUIRED)
    status = r.code("TrangThaiHoSo")
    if status is None and not any(p.field == "TrangThaiHoSo" for p in problems):
        r.require("TrangThaiHoSo", REQUIRED)
    elif status is not None and status not in STATUSES:
        r.require("TrangThaiHoSo", f"{status[:20]!r} không phải là mã trạng thái 1–10 (not a status 1–10)")
    received = r.instant("NgayTiepNhan")
    due = r.instant("NgayHenTra")
    ended = r.instant("NgayKetThucXuLy")
    handed = r.instant("NgayTra")
    refused = r.instant("NgayTuChoi")
    channel_code = r.code("KenhThucHien") or "1"  # missing counts as in person (decision-766.md)
    channel = CHANNELS.get(channel_code)
    if channel is None:
        r.require("KenhThucHien", f"{channel_code[:20]!r} không phải là 1, 2 hoặc 3 (not 1, 2 or 3)")
    procedure = r.code("MaTTHC")
    supplements = _supplements(r)
    flags = _flags(r, status)
    mapped = Mapped(filing_id_of(code) if code else None, problems=problems)
    if problems or code is None:
        return mapped
    if status == "1" or (status == "3" and received is None):
        mapped.not_received = True
        return mapped
    if received is None:
        r.require("NgayTiepNhan", "bắt buộc khi hồ sơ đã được tiếp nhận (required once received)")
    if due is None:
        r.require("NgayHenTra", "bắt buộc: không có ngày hẹn trả thì không tính được đúng hạn "
                  "(required: without a due date the on-time rate cannot be computed)")
    if procedure is None:
        r.require("MaTTHC", REQUIRED)
    elif len(procedure) > 64:
        r.require("MaTTHC", "dài quá 64 ký tự (longer than 64 characters)")
    if problems:
        return mapped
    assert received is not None and due is not None and procedure is not None and channel is not None

    build = _Builder(mapped, unit_code, source)
    build.add("submitted", received, "NgayTiepNhan",
              tag=f"s:{compact(received)}:{compact(due)}:{_digest(channel, procedure)}",
              channel=channel, due_at=rfc3339(due), procedure_code=procedure,
              origin={"due_at": "NgayHenTra", "procedure_code": "MaTTHC", "channel": "KenhThucHien"})
    open_request = False
    for requested, requested_field, completed, completed_field, moved in supplements:
        build.add("supplement_requested", requested, requested_field, tag=f"rq:{compact(requested)}")
        if completed is None:
            open_request = True
            continue
        extra: dict[str, Any] = {}
        origin = {}
        if moved is not None:
            extra["due_at"] = rfc3339(moved)
            origin["due_at"] = completed_field.replace("NgayTiepNhanBoSung", "NgayHenTraMoi")
        build.add("supplement_completed", completed, completed_field,
                  tag=f"rc:{compact(completed)}:{compact(moved) if moved else '-'}", origin=origin, **extra)
    _ending(r, build, status, received, ended, handed, refused, open_request)
    if problems:
        return Mapped(mapped.filing_id, problems=problems)
    build.flags(flags)
    return mapped


def _ending(r: Reader, build: _Builder, status: str | None, received: datetime, ended: datetime | None,
            handed: datetime | None, refused: datetime | None, open_request: bool) -> None:
    """The event of the status the dossier stands at, at the date that status reads."""
    if status == "3":  # refused after it was received: rejected at the refusal's date
        refusal, name = next((m, n) for m, n in ((refused, "NgayTuChoi"), (ended, "NgayKetThucXuLy"),
                                                 (received, "NgayTiepNhan")) if m is not None)
        build.add("rejected", refusal, name, tag=f"rj:{compact(refusal)}")
    elif status == "5" and not open_request:
        r.require("DanhSachHoSoBoSung", "trạng thái 5 cần một yêu cầu bổ sung có NgayBoSung chưa có "
                  "NgayTiepNhanBoSung (status 5 needs an open supplement request)")
    elif status in ("7", "8", "9"):
        kind, tag = {"7": ("withdrawn", "w"), "8": ("stopped", "st"), "9": ("processed", "p")}[status]
        end = ended if ended is not None or status != "7" else handed
        if end is None:
            r.require("NgayKetThucXuLy", f"bắt buộc khi TrangThaiHoSo là {status} "
                      f"(required with status {status})")
            return
        build.add(kind, end, "NgayKetThucXuLy" if end is ended else "NgayTra", tag=f"{tag}:{compact(end)}")
    elif status == "10":
        if ended is not None:
            build.add("processed", ended, "NgayKetThucXuLy", tag=f"p:{compact(ended)}")
        back = handed or ended
        if back is None:
            r.require("NgayTra", "bắt buộc khi TrangThaiHoSo là 10 (required with status 10)")
            return
        build.add("result_returned", back, "NgayTra" if handed else "NgayKetThucXuLy",
                  tag=f"rr:{compact(back)}")


Supplement = tuple[datetime, str, datetime | None, str, datetime | None]


def _supplements(r: Reader) -> list[Supplement]:
    """Each supplement request: (requested, its field, completed or None, its field, moved due)."""
    out = []
    for item in r.items("DanhSachHoSoBoSung"):
        requested = item.instant("NgayBoSung")
        completed = item.instant("NgayTiepNhanBoSung")
        moved = item.instant("NgayHenTraMoi")
        item.instant("NgayHenTraTruoc")  # read so that an unreadable one is reported; not needed
        if requested is None:
            if not item.present("NgayBoSung"):
                item.require("NgayBoSung", REQUIRED)
            continue
        out.append((requested, item.field("NgayBoSung"), completed, item.field("NgayTiepNhanBoSung"), moved))
    return out


def _any(readings: list[bool | None]) -> bool | None:
    """Yes if any document says yes, no if some say no and none yes, None if none says."""
    if any(readings):
        return True
    return False if any(x is False for x in readings) else None


def _amount(item: Reader) -> int | None:
    text = item.code("Gia")
    if text is None:
        return None
    # Dong have no fractions; senders write 8000, "8.000", "8,000" or "8 000 đ".
    digits = re.sub(r"[\s.,]|đ$|vnd$|VND$|VNĐ$", "", text)
    if not digits.isdigit():
        item.require("Gia", f"{text[:20]!r} không phải là số tiền (not an amount)")
        return None
    return int(digits)


def _flags(r: Reader, status: str | None) -> dict[str, Any]:
    """The contract's flags this state reports (a flag it does not report is left out)."""
    flags: dict[str, Any] = {}
    paid = r.code("DuocThanhToanTrucTuyen")
    if paid in PAYMENT:
        flags["online_payment"] = True
        flags["online_payment_via"] = PAYMENT[paid]
    elif paid in NOT_PAID:
        flags["online_payment"] = False
    elif paid is not None:
        r.require("DuocThanhToanTrucTuyen", f"{paid[:20]!r} không phải là 0, 1, 2 hoặc 3 (not 0, 1, 2 or 3)")
    documents = [d for d in r.items("TaiLieuNop") if not d.flag("IsDeleted")]
    digitised = r.flag("HoSoCoThanhPhanSoHoa")
    if digitised is None:
        digitised = _any([d.flag("DuocSoHoa") for d in documents])
    reused = _any([d.flag("DuocTaiSuDung") for d in documents])
    store = _any([d.flag("DuocLayTuKhoDMQG") for d in documents])
    population = r.flag("TaiKhoanDuocXacThucVoiVNeID")
    fees = [_amount(f) for f in r.items("DanhSachLePhi")]
    fee_due = True if status == "6" or any(a for a in fees if a) else (False if fees else None)
    results = r.items("DanhSachGiayToKetQua")
    for name, value in (("digitised", digitised), ("data_reused", reused), ("personal_store", store),
                        ("population_db", population), ("fee_due", fee_due)):
        if value is not None:
            flags[name] = value
    if results:
        # A listed result document means the procedure's result is a document (4.1's denominator);
        # a link to its file means it was issued electronically.
        flags["paper_result"] = True
        flags["electronic_result"] = any(item.present("DuongDanTepTinKetQua") for item in results)
    return flags


class _Builder:
    """Adds events to a `Mapped`, each with its id and the dossier fields it came from."""

    def __init__(self, mapped: Mapped, unit_code: str, source: str) -> None:
        self.mapped = mapped
        filing_id = mapped.filing_id
        assert filing_id is not None
        self.common = {"schema_version": 2, "filing_id": filing_id, "unit_code": unit_code, "source": source}
        part = filing_id if len(filing_id) <= ID_PART_CHARS else "h" + _digest(filing_id, size=16)
        self.prefix = f"dvcqg:{part}:"
        self.latest: datetime | None = None

    def add(self, event_type: str, moment: datetime, moment_field: str, *, tag: str,
            origin: Mapping[str, str] | None = None, **fields: Any) -> None:
        event = {**self.common, "event_id": self.prefix + tag, "event_type": event_type,
                 "occurred_at": rfc3339(moment), **fields}
        self.mapped.events.append(event)
        self.mapped.origins.append({"occurred_at": moment_field, "filing_id": "MaHoSo", **(origin or {})})
        if self.latest is None or moment > self.latest:
            self.latest = moment

    def flags(self, flags: Mapping[str, Any]) -> None:
        """The state's flags on `updated` events at its latest date: the yes-flags on one, the no-flags
        on another whose id sorts before it, so that at one moment a yes beats a no."""
        if self.latest is None:
            return
        yes = {k: v for k, v in flags.items() if v is not False}
        no = {k: v for k, v in flags.items() if v is False}
        for kind, part in (("f0", no), ("f1", yes)):
            if part:
                digest = _digest(*(f"{k}={v}" for k, v in sorted(part.items())))
                self.add("updated", self.latest, "", tag=f"{kind}:{compact(self.latest)}:{digest}", **part)


def _digest(*parts: str, size: int = 5) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=size).hexdigest()
