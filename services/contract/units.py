"""The units of a province (the province itself, its departments, its communes and wards) and of the
country (every province's, under one national root).

Provinces, communes, wards and special zones (đặc khu) are the real post-July-2025 ones (34 and
3,321) with their official codes, from the `vietnam-provinces` package (`Province.iter_all()`,
`Ward.iter_by_province()`). Departments (sở, ban, ngành) are a fixed list, the same in every province;
their codes are `<province>.S01`, `<province>.S02`, ... (`_DEPARTMENT_TABLE` says where it comes from).

`province_units()` and `deployment_units()` are the public entry points: the simulator feeds a
province's units, and the API's unit registry is seeded with a deployment's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from vietnam_provinces import Province, VietNamDivisionType, Ward

DEFAULT_PROVINCE = 31  # Thành phố Hải Phòng: the domain's worked example of online-rate targets.

# The root above the provinces of a deployment that covers more than one.
NATIONAL_ROOT = "VN"
NATIONAL_NAME = "Việt Nam"

# Levels, as plain strings so that any registry can store them.
COUNTRY = "country"
PROVINCE = "province"
DEPARTMENT = "department"
OFFICE = "office"  # a body under a department that runs its own one-stop desk
WARD = "ward"
COMMUNE = "commune"
SPECIAL_ZONE = "special_zone"

_WARD_LEVELS = {
    VietNamDivisionType.PHUONG: WARD,
    VietNamDivisionType.XA: COMMUNE,
    VietNamDivisionType.DAC_KHU: SPECIAL_ZONE,
}


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class Department:
    """One entry of the department list. `size` is its filing volume relative to a ward's 1."""

    suffix: str
    name: str
    size: float
    parent_suffix: str | None = None


# S01-S12: the specialised agencies every province keeps under Decree 45/2025/NĐ-CP (the organisation of
# the provincial people's committees' specialised agencies after the 2025 merger; agencies only some
# provinces have, such as Sở Dân tộc và Tôn giáo or Sở Ngoại vụ, are left out). S13-S16: the provincial
# bodies outside the committee that run one-stop desks (industrial zones board, police, social
# insurance, tax). After the 2025 merger of departments: Tài chính took Kế hoạch và Đầu tư, Nội vụ
# took Lao động, Nông nghiệp và Môi trường took Tài nguyên, Xây dựng took Giao thông, Khoa học và
# Công nghệ took Thông tin và Truyền thông. `{of}` becomes e.g. "thành phố Hải Phòng" or "tỉnh Cao
# Bằng". Sizes are rough guesses from which bodies handle high-volume procedures (identity cards, land,
# driving licences).
# suffix, size, the suffix of the department it belongs to ("-": none), name.
_DEPARTMENT_TABLE = """
S01     0.4   -    Văn phòng Ủy ban nhân dân {of}
S02     2.5   -    Sở Nội vụ
S03     4.0   -    Sở Tư pháp
S04     4.0   -    Sở Tài chính
S05     2.0   -    Sở Công Thương
S06     1.5   -    Sở Nông nghiệp và Môi trường
S06.01  7.0   S06  Văn phòng Đăng ký đất đai
S07     6.0   -    Sở Xây dựng
S08     0.6   -    Sở Khoa học và Công nghệ
S09     1.5   -    Sở Giáo dục và Đào tạo
S10     3.0   -    Sở Y tế
S11     1.0   -    Sở Văn hóa, Thể thao và Du lịch
S12     0.2   -    Thanh tra {of}
S13     1.0   -    Ban Quản lý các khu công nghiệp
S14     10.0  -    Công an {of}
S15     3.0   -    Bảo hiểm xã hội {of}
S16     3.0   -    Thuế {of}
"""


def _department(row: str) -> Department:
    suffix, size, parent, name = row.split(maxsplit=3)
    return Department(suffix, name, float(size), None if parent == "-" else parent)


DEPARTMENTS: tuple[Department, ...] = tuple(
    _department(row) for row in _DEPARTMENT_TABLE.strip().splitlines())


def resolve_province(value: int | str) -> Province:
    """A province by official code (31, "31") or codename ("hai_phong"); ValueError if unknown."""
    text = str(value).strip()
    for province in Province.iter_all():
        if (text.isdigit() and int(province.code) == int(text)) or province.codename == text:
            return province
    raise ValueError(f"unknown province {value!r}: give an official code such as 31 or a codename "
                     "such as hai_phong (see --list-provinces)")


def provinces() -> list[Province]:
    """All 34 provinces, by official code."""
    return sorted(Province.iter_all(), key=lambda p: int(p.code))


def province_code(province: Province) -> str:
    return f"{int(province.code):02d}"


def province_units(province: int | str = DEFAULT_PROVINCE) -> list[Unit]:
    """The province's unit tree, parents before children: province, departments, communes/wards."""
    prov = resolve_province(province)
    root = province_code(prov)
    if prov.division_type is VietNamDivisionType.THANH_PHO_TRUNG_UONG:
        of = "thành phố " + prov.name.removeprefix("Thành phố ")
    else:
        of = "tỉnh " + prov.name
    units = [Unit(root, prov.name, PROVINCE, None)]
    for dept in DEPARTMENTS:
        parent = f"{root}.{dept.parent_suffix}" if dept.parent_suffix else root
        level = OFFICE if dept.parent_suffix else DEPARTMENT
        units.append(Unit(f"{root}.{dept.suffix}", dept.name.format(of=of), level, parent))
    # Sorted by code so that the list, and every seeded feed over it, is the same on every machine.
    for ward in sorted(Ward.iter_by_province(prov.code), key=lambda w: int(w.code)):
        units.append(Unit(f"{int(ward.code):05d}", ward.name, _WARD_LEVELS[ward.division_type], root))
    return units


def deployment_units(scope: Sequence[int | str] | None = None) -> list[Unit]:
    """The units of a deployment, parents first: one province's tree as `province_units` gives it, or
    for several (None: all 34) the national root `VN` with each province's tree under it."""
    chosen = [resolve_province(p) for p in scope] if scope is not None else provinces()
    if len({p.code for p in chosen}) == 1:
        return province_units(chosen[0].codename)
    units = [Unit(NATIONAL_ROOT, NATIONAL_NAME, COUNTRY, None)]
    for prov in sorted({p.code: p for p in chosen}.values(), key=lambda p: int(p.code)):
        tree = province_units(prov.codename)
        units.append(replace(tree[0], parent_code=NATIONAL_ROOT))
        units += tree[1:]
    return units


def department_sizes(province: int | str = DEFAULT_PROVINCE) -> dict[str, float]:
    """Relative filing volume of each department's unit code (a ward is about 1)."""
    root = province_code(resolve_province(province))
    return {f"{root}.{dept.suffix}": dept.size for dept in DEPARTMENTS}
