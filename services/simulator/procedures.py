"""The administrative procedures (thủ tục hành chính) each kind of unit receives.

Codes follow the national format (mã TTHC, `1.001193`); names are common procedures of that
kind of body and the time limits are typical ones. The pairing of code and name is illustrative,
not looked up in the national database: the figures never depend on which procedure it is, only
on the due date it gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.contract.units import COMMUNE, SPECIAL_ZONE, WARD, Unit


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    working_days: int  # the legal time limit, counted by the sender's calendar
    paid: bool  # whether it carries a fee, hence an online-payment flag
    weight: float  # relative frequency within the unit's own procedures

    @property
    def full_online_eligible(self) -> bool:
        """Whether the procedure is offered as a full-online service (about half of them)."""
        return self.code in FULL_ONLINE


# Communes, wards and special zones: civil status and certified copies dominate the counter.
LOCAL: tuple[Procedure, ...] = (
    Procedure("2.000815", "Chứng thực bản sao từ bản chính", 1, True, 8.0),
    Procedure("1.001193", "Đăng ký khai sinh", 1, False, 3.0),
    Procedure("1.000894", "Đăng ký kết hôn", 1, False, 1.0),
    Procedure("1.004873", "Cấp bản sao trích lục hộ tịch", 1, True, 1.5),
    Procedure("1.004227", "Cấp giấy xác nhận tình trạng hôn nhân", 3, False, 1.5),
    Procedure("2.000720", "Đăng ký thành lập hộ kinh doanh", 3, True, 0.8),
    Procedure("1.011608", "Cấp giấy phép xây dựng nhà ở riêng lẻ", 15, True, 0.4),
)

# Departments, by the suffix of their unit code (see units.DEPARTMENTS).
BY_DEPARTMENT: dict[str, tuple[Procedure, ...]] = {
    "S01": (Procedure("2.000232", "Cấp thẻ đi lại của doanh nhân APEC", 15, True, 1.0),),
    "S02": (Procedure("1.000459", "Cấp giấy phép lao động cho người lao động nước ngoài", 5, True, 1.0),
            Procedure("1.001978", "Giải quyết hưởng trợ cấp thất nghiệp", 20, False, 2.0)),
    "S03": (Procedure("2.000505", "Cấp phiếu lý lịch tư pháp", 10, True, 4.0),
            Procedure("1.001877", "Đăng ký hoạt động văn phòng công chứng", 10, True, 0.2)),
    "S04": (Procedure("2.001610", "Đăng ký thành lập doanh nghiệp", 3, True, 2.0),
            Procedure("2.002003", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", 3, True, 3.0)),
    "S05": (Procedure("2.000620", "Cấp giấy phép bán lẻ sản phẩm rượu", 10, True, 1.0),
            Procedure("2.001283", "Cấp giấy chứng nhận cửa hàng đủ điều kiện bán lẻ xăng dầu", 15, True,
                      0.3)),
    "S06": (Procedure("1.010727", "Cấp giấy phép môi trường", 20, True, 1.0),),
    "S06.01": (Procedure("1.012795", "Đăng ký biến động đất đai", 10, True, 4.0),
               Procedure("1.012770", "Đăng ký, cấp giấy chứng nhận quyền sử dụng đất lần đầu", 20, True,
                         1.5)),
    "S07": (Procedure("1.002835", "Đổi giấy phép lái xe", 5, True, 5.0),
            Procedure("1.009972", "Cấp giấy phép xây dựng", 20, True, 0.5)),
    "S08": (Procedure("1.003572", "Cấp giấy phép bưu chính", 10, True, 1.0),),
    "S09": (Procedure("1.005092", "Chỉnh sửa nội dung văn bằng, chứng chỉ", 5, False, 1.0),),
    "S10": (Procedure("1.004602", "Cấp giấy phép hành nghề khám bệnh, chữa bệnh", 20, True, 1.0),
            Procedure("1.002399", "Cấp giấy chứng nhận đủ điều kiện kinh doanh dược", 20, True, 0.5)),
    "S11": (Procedure("1.001432", "Cấp giấy phép kinh doanh dịch vụ lữ hành nội địa", 10, True, 1.0),),
    "S12": (Procedure("2.002337", "Giải quyết khiếu nại lần đầu", 30, False, 1.0),),
    "S13": (Procedure("1.009645", "Cấp giấy chứng nhận đăng ký đầu tư", 15, True, 1.0),),
    "S14": (Procedure("1.012346", "Cấp thẻ căn cước", 7, True, 4.0),
            Procedure("2.001159", "Đăng ký, cấp biển số xe", 2, True, 3.0),
            Procedure("1.010052", "Cấp hộ chiếu phổ thông", 8, True, 1.0)),
    "S15": (Procedure("1.000059", "Giải quyết hưởng chế độ ốm đau", 6, False, 2.0),
            Procedure("1.000148", "Cấp lại sổ bảo hiểm xã hội", 5, False, 1.0)),
    "S16": (Procedure("1.007797", "Đăng ký thuế lần đầu", 3, False, 1.0),),
}

# Procedures offered as full-online services (dịch vụ công trực tuyến toàn trình): half of the
# catalogue; the ones that need the applicant or an original document in person (certified
# copies from the original, marriage, building permits, land titles, passports...) are not.
# Illustrative, like the pairing of codes and names.
FULL_ONLINE = frozenset({
    "1.001193", "1.004873", "1.004227", "2.000720",  # local
    "1.000459", "2.000505", "2.001610", "2.002003", "2.000620", "1.003572", "1.005092",
    "1.001432", "1.000059", "1.000148", "1.007797", "1.002835", "1.010727",
})

_LOCAL_LEVELS = {WARD, COMMUNE, SPECIAL_ZONE}


def procedures_for(unit: Unit) -> tuple[Procedure, ...]:
    """What `unit` receives; a department not in the table falls back to the local list."""
    if unit.level in _LOCAL_LEVELS:
        return LOCAL
    suffix = unit.code.partition(".")[2]
    return BY_DEPARTMENT.get(suffix, LOCAL)
