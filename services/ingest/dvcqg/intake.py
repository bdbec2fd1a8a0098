"""One sync call, before Kafka: its dossiers placed at their units, mapped to events, checked.

Plain functions over bytes and dicts, like `services/ingest/intake.py`, whose contract check they
reuse, so that a sync dossier meets exactly the rules of an event sent to /v1/events. Each dossier
is taken whole or refused whole (its events all written or none), with its problems named by the
sender's own field names. Nothing of a dossier but what the events carry leaves this module: the
applicant's and officers' data are never copied, logged or counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.contract.agencies import AgencyBook
from services.contract.event_validation import EventValidator
from services.ingest.dvcqg import values
from services.ingest.dvcqg.mapping import map_dossier
from services.ingest.dvcqg.reader import Problem, Reader
from services.ingest.intake import check_events
from services.ingest.keys import ApiKey
from services.ingest.producer import Record

DOSSIERS = "DongBoHoSoMC"
STEPS = "CapNhatTienDoHoSoMC"
SERVICES = (DOSSIERS, STEPS)
# Where a dossier's agency is read, first found first: its own fields, then the call's.
DOSSIER_AGENCY_FIELDS = ("MaDonViXuLy", "MaDinhDanhDV")
SUCCESS = "00"
PARTIAL = "-1"


class MalformedCall(ValueError):
    """Not JSON, not an envelope or a list, no such service, too many items (HTTP 400 or 413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SyncCall:
    service: str
    agency: str | None  # the call's `madonvi` (or the gateway URL's MaDinhDanhDV)
    session: str | None
    items: list[object]


def parse_call(body: bytes, path_service: str | None, query_agency: str | None, max_items: int) -> SyncCall:
    """The envelope `{"session", "madonvi", "service", "isUpdating", "data": [...]}`, or the bare list
    that some gateways send (then the service is the URL's)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedCall(400, f"JSON không hợp lệ (malformed JSON) at line {exc.lineno} "
                            f"column {exc.colno}: {exc.msg}") from None
    if isinstance(value, list):
        envelope: Mapping[str, object] = {"data": value}
    elif isinstance(value, dict):
        envelope = value
    else:
        raise MalformedCall(400, "thân yêu cầu phải là đối tượng hoặc danh sách (the body must be the "
                            "envelope object or a list of dossiers)")
    items = envelope.get("data")
    if not isinstance(items, list):
        raise MalformedCall(400, "data: phải là danh sách (must be a list)")
    if len(items) > max_items:
        raise MalformedCall(413, f"data: {len(items)} mục, tối đa {max_items} "
                            f"(at most {max_items} items a call)")
    try:
        service = values.code(envelope.get("service")) or path_service
        agency = (values.code(envelope.get("madonvi")) or values.code(envelope.get("MaDinhDanhDV"))
                  or query_agency)
        session = values.code(envelope.get("session"))
    except values.Unreadable as exc:
        raise MalformedCall(400, str(exc)) from None
    if service not in SERVICES:
        raise MalformedCall(400, f"service: phải là {DOSSIERS} hoặc {STEPS} (must be one of them)")
    return SyncCall(service, agency, session, items)


@dataclass
class SyncBatch:
    """Per item, in order, its answer; and the records to write for the dossiers taken."""

    results: list[dict[str, Any]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    taken: int = 0
    refused: int = 0
    not_received: int = 0
    unmapped: int = 0  # refused because nobody mapped their agency code

    def answer(self) -> dict[str, Any]:
        if self.refused:
            message = (f"{self.refused} mục bị từ chối, {self.taken} mục đã nhận "
                       f"({self.refused} refused, {self.taken} taken); xem data (see data)")
        else:
            message = f"Thành công: {self.taken} mục đã nhận ({self.taken} taken)"
        return {"error_code": PARTIAL if self.refused else SUCCESS, "message": message,
                "accepted": self.taken, "rejected": self.refused, "data": self.results}


@dataclass(frozen=True)
class Intake:
    """What a call is checked against."""

    key: ApiKey
    agencies: AgencyBook
    validator: EventValidator
    max_event_bytes: int
    now_us: int

    @property
    def source(self) -> str:
        return f"dvcqg:{self.key.key_id}"


def examine_call(call: SyncCall, intake: Intake) -> SyncBatch:
    batch = SyncBatch()
    for index, item in enumerate(call.items):
        if not isinstance(item, Mapping):
            _refuse(batch, index, None, [Problem(f"data.{index}", "phải là đối tượng (must be an object)")])
            continue
        problems: list[Problem] = []
        reader = Reader(item, problems)
        code = reader.code("MaHoSo")
        unit = _unit(reader, call, intake, batch)
        if unit is None or problems:
            _refuse(batch, index, code, problems)
            continue
        if call.service == STEPS:
            _step(batch, index, code, reader, problems)
        else:
            _dossier(batch, index, code, item, unit, intake)
    return batch


def _unit(reader: Reader, call: SyncCall, intake: Intake, batch: SyncBatch) -> str | None:
    """The unit the item counts for, from its agency code; a problem named for the field that gave it."""
    field_name, agency = next(((name, code) for name in DOSSIER_AGENCY_FIELDS
                               if (code := reader.code(name)) is not None), ("madonvi", call.agency))
    if agency is None:
        reader.require("madonvi", "bắt buộc: mã đơn vị của cuộc gọi hoặc MaDonViXuLy của hồ sơ "
                       "(required: the call's agency code, or the dossier's MaDonViXuLy)")
        return None
    unit = intake.agencies.unit_of(agency)
    if unit is None:
        batch.unmapped += 1
        reader.require(field_name, f"mã đơn vị {agency[:64]!r} chưa được gắn với đơn vị nào; nhờ quản trị "
                       "viên gắn (no unit is mapped to this agency code; ask the operator to map it)")
        return None
    if not intake.key.may_write(unit):
        reader.require(field_name, f"khóa này không được ghi đơn vị {unit!r} của mã {agency[:64]!r} "
                       "(this key may not write the agency's unit)")
        return None
    return unit


def _step(batch: SyncBatch, index: int, code: str | None, reader: Reader, problems: list[Problem]) -> None:
    """A progress step is checked and acknowledged; the figures read the dossier's own state (a step
    counted too would count a supplement request twice: docs/integration.md)."""
    if code is None:
        reader.require("MaHoSo", "bắt buộc (required)")
    status = reader.code("TrangThai")
    if status is not None and status not in {str(n) for n in range(1, 11)}:
        reader.require("TrangThai", "không phải là mã trạng thái 1–10 (not a status 1–10)")
    reader.instant("ThoiDiemXuLy")
    if problems:
        _refuse(batch, index, code, problems)
        return
    batch.taken += 1
    batch.results.append(_result(index, code, "0", "Đã nhận (taken; the figures read DongBoHoSoMC)"))


def _dossier(batch: SyncBatch, index: int, code: str | None, item: Mapping[str, object], unit: str,
             intake: Intake) -> None:
    mapped = map_dossier(item, unit, intake.source)
    if mapped.problems:
        _refuse(batch, index, code, mapped.problems)
        return
    if mapped.not_received:
        batch.taken += 1
        batch.not_received += 1
        batch.results.append(_result(index, code, "0", "Đã nhận; hồ sơ chưa được tiếp nhận nên chưa tính "
                                     "(taken; not received yet, so not counted)"))
        return
    checked = check_events(mapped.events, intake.validator, intake.max_event_bytes, intake.now_us)
    if checked.rejected:
        problems = [Problem(_sender_field(mapped.origins[r["index"]], error["field"]), error["reason"])
                    for r in checked.results if r["status"] == "rejected" for error in r["errors"]]
        _refuse(batch, index, code, problems)
        return
    batch.taken += 1
    batch.records.extend(checked.records)
    batch.results.append({**_result(index, code, "0", "Đã nhận (taken)"), "events": checked.accepted})


def _sender_field(origins: Mapping[str, str], contract_field: str) -> str:
    return origins.get(contract_field) or "MaHoSo"


def _refuse(batch: SyncBatch, index: int, code: str | None, problems: Sequence[Problem]) -> None:
    batch.refused += 1
    unique = list(dict.fromkeys(problems))
    message = "; ".join(p.as_dict()["message"] for p in unique)
    batch.results.append({**_result(index, code, "1", message), "errors": [p.as_dict() for p in unique]})


def _result(index: int, code: str | None, error_code: str, message: str) -> dict[str, Any]:
    return {"index": index, "MaHoSo": code[:128] if code else None, "error_code": error_code,
            "message": message}
