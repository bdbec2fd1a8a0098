"""A dossier state of the portal's sync → contract v2 events: one test per status, per flag, per
kind of liberal value, and the ids that make a re-sent state count once."""

from __future__ import annotations

from typing import Any

import pytest

from services.contract.event_validation import default_validator
from services.ingest.dvcqg import values
from services.ingest.dvcqg.mapping import filing_id_of, map_dossier

UNIT = "31.S03"
SOURCE = "dvcqg:k0123"
CODE = "000.00.12.H31-261120-00001"
VALIDATOR = default_validator()


def dossier(**overrides: Any) -> dict[str, Any]:
    """A received dossier (status 2), in person, no flags; keyword arguments replace fields."""
    base: dict[str, Any] = {"MaHoSo": CODE, "MaTTHC": "1.001234", "KenhThucHien": "1",
                            "NgayTiepNhan": "20261120083000", "NgayHenTra": "20261125170000",
                            "TrangThaiHoSo": "2", "NgayKetThucXuLy": "", "NgayTra": ""}
    base.update(overrides)
    return base


def events(state: dict[str, Any]) -> list[dict[str, Any]]:
    mapped = map_dossier(state, UNIT, SOURCE)
    assert mapped.problems == [], mapped.problems
    for event in mapped.events:
        assert not hasattr(VALIDATOR.validate(event), "errors"), (event, VALIDATOR.validate(event))
    return mapped.events


def kinds(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["event_type"], e["occurred_at"]) for e in events(state) if e["event_type"] != "updated"]


def flags(state: dict[str, Any]) -> dict[str, Any]:
    """Every flag the state's `updated` events carry."""
    out: dict[str, Any] = {}
    for event in events(state):
        if event["event_type"] == "updated":
            out.update({k: v for k, v in event.items() if k not in COMMON})
    return out


def problems(state: dict[str, Any]) -> dict[str, str]:
    return {p.field: p.message for p in map_dossier(state, UNIT, SOURCE).problems}


COMMON = ("schema_version", "event_id", "event_type", "filing_id", "unit_code", "occurred_at", "source")
RECEIVED = "2026-11-20T08:30:00+07:00"


# --- statuses -------------------------------------------------------------------------------------

def test_status_1_newly_registered_is_not_received_and_gives_nothing() -> None:
    mapped = map_dossier(dossier(TrangThaiHoSo="1", NgayTiepNhan=""), UNIT, SOURCE)
    assert mapped.not_received and mapped.events == [] and mapped.problems == []


def test_status_2_received_gives_the_submission_with_due_channel_and_procedure() -> None:
    [submitted] = events(dossier())
    assert submitted["event_type"] == "submitted"
    assert submitted["occurred_at"] == RECEIVED
    assert submitted["due_at"] == "2026-11-25T17:00:00+07:00"
    assert (submitted["channel"], submitted["procedure_code"]) == ("in_person", "1.001234")
    assert (submitted["filing_id"], submitted["unit_code"], submitted["source"]) == (CODE, UNIT, SOURCE)


def test_status_3_refused_at_the_desk_without_receipt_is_not_received() -> None:
    mapped = map_dossier(dossier(TrangThaiHoSo="3", NgayTiepNhan=""), UNIT, SOURCE)
    assert mapped.not_received and mapped.events == []


def test_status_3_refused_after_receipt_is_rejected_at_its_date() -> None:
    assert kinds(dossier(TrangThaiHoSo="3", NgayTuChoi="20261121100000")) == [
        ("submitted", RECEIVED), ("rejected", "2026-11-21T10:00:00+07:00")]


def test_status_4_being_processed_is_the_submission_alone() -> None:
    assert kinds(dossier(TrangThaiHoSo="4")) == [("submitted", RECEIVED)]


def test_status_5_supplement_requested_from_the_open_request() -> None:
    state = dossier(TrangThaiHoSo="5", DanhSachHoSoBoSung=[{"NgayBoSung": "20261121090000",
                                                            "NgayTiepNhanBoSung": ""}])
    assert kinds(state) == [("submitted", RECEIVED), ("supplement_requested", "2026-11-21T09:00:00+07:00")]


def test_status_5_without_an_open_request_names_the_list() -> None:
    assert "DanhSachHoSoBoSung" in problems(dossier(TrangThaiHoSo="5"))


def test_a_completed_supplement_with_a_new_due_date_moves_it() -> None:
    state = dossier(TrangThaiHoSo="4", DanhSachHoSoBoSung=[{
        "NgayBoSung": "20261121090000", "NgayTiepNhanBoSung": "20261123140000",
        "NgayHenTraTruoc": "20261125170000", "NgayHenTraMoi": "20261127170000"}])
    *_, completed = events(state)
    assert completed["event_type"] == "supplement_completed"
    assert completed["occurred_at"] == "2026-11-23T14:00:00+07:00"
    assert completed["due_at"] == "2026-11-27T17:00:00+07:00"


def test_a_completed_supplement_without_a_new_due_date_carries_none() -> None:
    state = dossier(DanhSachHoSoBoSung=[{"NgayBoSung": "20261121090000",
                                         "NgayTiepNhanBoSung": "20261123140000"}])
    assert "due_at" not in events(state)[2]


def test_two_supplement_requests_give_two_requests() -> None:
    state = dossier(TrangThaiHoSo="5", DanhSachHoSoBoSung=[
        {"NgayBoSung": "20261121090000", "NgayTiepNhanBoSung": "20261122090000"},
        {"NgayBoSung": "20261123090000"}])
    assert [k for k, _ in kinds(state)].count("supplement_requested") == 2


def test_status_6_financial_obligation_is_pending_with_a_fee_due() -> None:
    state = dossier(TrangThaiHoSo="6")
    assert kinds(state) == [("submitted", RECEIVED)]
    assert flags(state) == {"fee_due": True}


def test_status_7_withdrawn_at_the_end_of_processing() -> None:
    assert kinds(dossier(TrangThaiHoSo="7", NgayKetThucXuLy="20261121150000")) == [
        ("submitted", RECEIVED), ("withdrawn", "2026-11-21T15:00:00+07:00")]


def test_status_8_stopped() -> None:
    assert kinds(dossier(TrangThaiHoSo="8", NgayKetThucXuLy="20261121150000")) == [
        ("submitted", RECEIVED), ("stopped", "2026-11-21T15:00:00+07:00")]


def test_status_9_processed_at_the_end_of_processing() -> None:
    assert kinds(dossier(TrangThaiHoSo="9", NgayKetThucXuLy="20261124110000")) == [
        ("submitted", RECEIVED), ("processed", "2026-11-24T11:00:00+07:00")]


def test_status_9_without_its_date_names_it() -> None:
    assert "NgayKetThucXuLy" in problems(dossier(TrangThaiHoSo="9"))


def test_status_10_result_returned_also_gives_the_processing_end() -> None:
    state = dossier(TrangThaiHoSo="10", NgayKetThucXuLy="20261124110000", NgayTra="20261124150000")
    assert kinds(state) == [("submitted", RECEIVED), ("processed", "2026-11-24T11:00:00+07:00"),
                            ("result_returned", "2026-11-24T15:00:00+07:00")]


def test_status_10_with_only_the_hand_back_date() -> None:
    assert kinds(dossier(TrangThaiHoSo="10", NgayTra="20261124150000")) == [
        ("submitted", RECEIVED), ("result_returned", "2026-11-24T15:00:00+07:00")]


def test_an_unknown_status_names_it() -> None:
    assert "TrangThaiHoSo" in problems(dossier(TrangThaiHoSo="11"))


# --- channel --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sent", "channel"), [("1", "in_person"), ("2", "online"), ("3", "postal"),
                                               ("", "in_person"), (None, "in_person"), (2, "online")])
def test_channel(sent: Any, channel: str) -> None:
    assert events(dossier(KenhThucHien=sent))[0]["channel"] == channel


# --- flags ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sent", "expected"), [
    ("1", {"online_payment": True, "online_payment_via": "national_portal"}),
    ("2", {"online_payment": True, "online_payment_via": "provincial_gateway"}),
    ("0", {"online_payment": False}), ("3", {"online_payment": False}), ("", {})])
def test_paid_online(sent: str, expected: dict[str, Any]) -> None:
    assert flags(dossier(DuocThanhToanTrucTuyen=sent)) == expected


@pytest.mark.parametrize(("sent", "expected"), [("1", True), ("0", False), (True, True), (0, False)])
def test_digitised(sent: Any, expected: bool) -> None:
    assert flags(dossier(HoSoCoThanhPhanSoHoa=sent)) == {"digitised": expected}


@pytest.mark.parametrize(("sent", "expected"), [("1", True), ("0", False)])
def test_vneid_account_is_the_population_database(sent: str, expected: bool) -> None:
    assert flags(dossier(TaiKhoanDuocXacThucVoiVNeID=sent)) == {"population_db": expected}


def document(**overrides: Any) -> dict[str, Any]:
    base = {"TepDinhKemId": "123", "TenTepDinhKem": "to-khai.pdf", "IsDeleted": "False",
            "DuocSoHoa": "0", "DuocTaiSuDung": "0", "DuocLayTuKhoDMQG": "0"}
    return {**base, **overrides}


def test_documents_digitised_when_the_dossier_does_not_say() -> None:
    state = dossier(TaiLieuNop=[document(), document(DuocSoHoa="1")])
    assert flags(state)["digitised"] is True
    assert flags(dossier(TaiLieuNop=[document()], HoSoCoThanhPhanSoHoa="0"))["digitised"] is False


def test_a_reused_document_is_data_reuse() -> None:
    assert flags(dossier(TaiLieuNop=[document(), document(DuocTaiSuDung="1")]))["data_reused"] is True
    assert flags(dossier(TaiLieuNop=[document()]))["data_reused"] is False


def test_a_document_from_the_data_store_is_the_personal_store() -> None:
    assert flags(dossier(TaiLieuNop=[document(DuocLayTuKhoDMQG=1)]))["personal_store"] is True
    assert flags(dossier(TaiLieuNop=[document()]))["personal_store"] is False


def test_deleted_documents_are_not_read() -> None:
    state = dossier(TaiLieuNop=[document(DuocTaiSuDung="1", IsDeleted="True")])
    assert "data_reused" not in flags(state)


def test_documents_without_the_newer_flags_report_nothing() -> None:
    assert flags(dossier(TaiLieuNop=[{"TepDinhKemId": "1", "TenTepDinhKem": "a.pdf"}])) == {}


@pytest.mark.parametrize(("fees", "expected"), [
    ([{"TenPhiLePhi": "Lệ phí", "Gia": "8000"}], {"fee_due": True}),
    ([{"Gia": "8.000"}], {"fee_due": True}), ([{"Gia": 0}], {"fee_due": False}), ([], {})])
def test_fees(fees: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert flags(dossier(DanhSachLePhi=fees)) == expected


def test_result_files_with_a_link_are_an_electronic_result() -> None:
    state = dossier(DanhSachGiayToKetQua=[{"TenGiayTo": "Giấy phép", "GiayToId": "9",
                                           "DuongDanTepTinKetQua": "https://example.invalid/kq.pdf"}])
    assert flags(state) == {"paper_result": True, "electronic_result": True}


def test_result_documents_without_a_file_are_paper_only() -> None:
    state = dossier(DanhSachGiayToKetQua=[{"TenGiayTo": "Giấy phép", "DuongDanTepTinKetQua": ""}])
    assert flags(state) == {"paper_result": True, "electronic_result": False}


def test_flags_ride_at_the_states_latest_date_yes_and_no_apart() -> None:
    state = dossier(TrangThaiHoSo="9", NgayKetThucXuLy="20261124110000", DuocThanhToanTrucTuyen="1",
                    HoSoCoThanhPhanSoHoa="0")
    updates = [e for e in events(state) if e["event_type"] == "updated"]
    assert {e["occurred_at"] for e in updates} == {"2026-11-24T11:00:00+07:00"}
    no, yes = updates
    assert no["digitised"] is False and "online_payment_via" in yes
    assert no["event_id"] < yes["event_id"]  # at one moment, a yes comes last and wins


# --- liberal values -------------------------------------------------------------------------------

@pytest.mark.parametrize("sent", ["20261120083000", "2026-11-20T08:30:00+07:00", "2026-11-20T01:30:00Z",
                                  "2026-11-20T08:30:00", "20/11/2026 08:30:00", 20261120083000])
def test_dates_in_every_form_seen(sent: Any) -> None:
    assert events(dossier(NgayTiepNhan=sent))[0]["occurred_at"] == RECEIVED


def test_status_as_a_number() -> None:
    assert kinds(dossier(TrangThaiHoSo=9, NgayKetThucXuLy="20261124110000"))[-1][0] == "processed"


def test_unknown_fields_are_ignored() -> None:
    assert events(dossier(TruongMoi={"x": 1}, GhiChu="ghi chú"))[0]["event_type"] == "submitted"


def test_an_unreadable_date_is_named_by_its_vietnamese_field() -> None:
    found = problems(dossier(NgayHenTra="ngày mai"))
    assert list(found) == ["NgayHenTra"] and "yyyyMMddHHmmss" in found["NgayHenTra"]


def test_a_received_dossier_without_due_date_is_refused_naming_it() -> None:
    assert "NgayHenTra" in problems(dossier(NgayHenTra=""))


def test_problems_inside_lists_name_the_item() -> None:
    found = problems(dossier(DanhSachHoSoBoSung=[{"NgayBoSung": "x"}]))
    assert "DanhSachHoSoBoSung.0.NgayBoSung" in found


def test_values_read_liberally() -> None:
    assert values.flag("True") is True and values.flag(1.0) is True and values.flag("") is None
    assert values.code(10) == "10" and values.code(True) == "1"
    with pytest.raises(values.Unreadable):
        values.flag("maybe")


# --- identity -------------------------------------------------------------------------------------

def test_the_same_state_gives_the_same_event_ids() -> None:
    state = dossier(TrangThaiHoSo="10", NgayKetThucXuLy="20261124110000", NgayTra="20261124150000",
                    DuocThanhToanTrucTuyen="1")
    assert events(state) == events(dict(state))


def test_a_changed_value_gives_a_new_event_id() -> None:
    first = events(dossier())[0]["event_id"]
    assert events(dossier(NgayHenTra="20261126170000"))[0]["event_id"] > first  # the earlier due sorts first
    assert events(dossier(KenhThucHien="2"))[0]["event_id"] != first


def test_a_code_the_contract_cannot_carry_is_digested() -> None:
    assert filing_id_of(CODE) == CODE
    odd = filing_id_of("HS 2026 / số 1")
    assert odd.startswith("dvcqg-") and odd == filing_id_of("HS 2026 / số 1")
    long_code = "A" * 120
    assert all(len(e["event_id"]) <= 128 for e in events(dossier(MaHoSo=long_code)))
