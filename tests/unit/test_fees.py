"""Fees the province sets (issue 18, point 7): the per-agency fee table, the fee a dossier pays, and the warning
``procedures validate`` gives when an agency offering such a procedure has no configured amount."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from dossiers.catalogue import FeeAuthority, check_entry, parse_entry
from dossiers.fees import FeeTable, check_fee_table, fee_for
from dossiers.model import Agency, AgencyLevel, AgencyStructure
from services.catalogue import BUILT_IN, fee_warnings, read_catalogue
from services.fees import dossier_fee
from tests.unit.test_catalogue import HOUSEHOLD, entry_data

COMMUNE_A, COMMUNE_B = "000.31.01.H99", "000.31.02.H99"
JULY = dt.date(2025, 7, 1)


def table(*rows: dict[str, Any]) -> FeeTable:
    parsed, problems = check_fee_table({"fees": list(rows)})
    assert problems == []
    return parsed


def row(
    amount: int, agencies: list[str], valid_from: str = "2025-07-01", procedure: str = "1.001612"
) -> dict[str, Any]:
    return {
        "procedure": procedure,
        "agencies": agencies,
        "amount_vnd": amount,
        "valid_from": valid_from,
        "source": "Nghị quyết số 01/2025/NQ-HĐND (thử)",
    }


def entry(**changes: Any) -> Any:
    """The shipped household business entry, without its application form (not what these tests are about)."""
    data = entry_data(**changes)
    data.pop("form", None)
    return parse_entry(data)


def household() -> Any:
    return entry()


def test_the_shipped_catalogue_marks_the_fees_provinces_set() -> None:
    rows, problems = read_catalogue([BUILT_IN])
    assert problems == []
    by_code = {e.code: e for _, _, e in rows}
    for code in ("1.001612", "1.009994", "1.013978"):  # lệ phí set by the People's Council (TT 85/2019)
        version = by_code[code].version_at(dt.date(2026, 3, 2))
        assert version is not None
        assert (version.fee_set_by, version.fee_vnd) == (FeeAuthority.PROVINCE, 0), code
    copy_fee = by_code["2.000815"].version_at(dt.date(2026, 3, 2))
    assert copy_fee is not None and (copy_fee.fee_set_by, copy_fee.fee_vnd) == (FeeAuthority.NATIONAL, 2000)
    assert "1.012756" not in by_code  # the code of land the State allocates for management, not this procedure


def test_a_province_fee_ships_as_zero() -> None:
    version = dict(copy.deepcopy(HOUSEHOLD["versions"][1]), fee_vnd=50000, fee_set_by="province")
    _, problems = check_entry(entry_data(versions=[version]))
    assert any(
        p.startswith("$.versions[0].fee_vnd: phải ghi 0 khi lệ phí do Hội đồng nhân dân cấp tỉnh quyết định")
        and p.endswith("/ must be 0 when the province sets the fee: the amount is each agency's value in fees.json")
        for p in problems
    ), problems
    version["fee_set_by"] = "commune"
    _, problems = check_entry(entry_data(versions=[version]))
    assert any(
        p.startswith('$.versions[0].fee_set_by: giá trị "commune" không dùng được; chọn một trong: national, province')
        for p in problems
    ), problems


def test_an_agency_row_beats_every_agency_and_the_latest_resolution_applies() -> None:
    fees = table(
        row(100000, ["*"]),
        row(50000, [COMMUNE_A]),
        row(120000, ["*"], valid_from="2026-01-01"),
    )
    assert fees.amount("1.001612", COMMUNE_A, dt.date(2026, 3, 2)) == 50000
    assert fees.amount("1.001612", COMMUNE_B, dt.date(2025, 12, 31)) == 100000
    assert fees.amount("1.001612", COMMUNE_B, dt.date(2026, 1, 1)) == 120000
    assert fees.amount("1.001612", COMMUNE_B, dt.date(2025, 6, 30)) is None  # before any resolution
    assert fees.amount("1.009994", COMMUNE_A, dt.date(2026, 3, 2)) is None


def test_the_fee_a_dossier_pays() -> None:
    fees = table(row(100000, [COMMUNE_A]))
    province_fee = household().at(dt.date(2026, 3, 2))
    assert province_fee.fee_set_by == "province" and province_fee.fee_vnd == 0
    assert fee_for(province_fee, COMMUNE_A, dt.date(2026, 3, 2), fees) == 100000
    assert fee_for(province_fee, COMMUNE_B, dt.date(2026, 3, 2), fees) == 0  # not configured: 0, and warned
    national = dict(copy.deepcopy(HOUSEHOLD["versions"][1]), fee_vnd=2000)
    national.pop("fee_set_by")
    procedure = entry(versions=[national]).at(dt.date(2026, 3, 2))
    assert fee_for(procedure, COMMUNE_A, dt.date(2026, 3, 2), fees) == 2000  # the table never overrides it


@dataclass
class Row:
    procedure_code: str
    agency_code: str
    received_at: dt.datetime
    rule_version: str = "2025-07-01"


class Desk:
    """What the fee rule reads of the desk: the dossier's procedure and the fee table."""

    def __init__(self, fees: FeeTable) -> None:
        self.fees = fees

    def procedure_of(self, r: Row) -> Any:
        return household().under(r.rule_version)


def test_the_fee_service_reads_the_receiving_agency_value_on_the_day_received() -> None:
    desk = Desk(table(row(100000, [COMMUNE_A]), row(150000, [COMMUNE_A], valid_from="2026-01-01")))
    # 31/12/2025 17:30 UTC is already 1 January 2026 in Vietnam
    late = Row("1.001612", COMMUNE_A, dt.datetime(2025, 12, 31, 17, 30, tzinfo=dt.UTC))
    early = Row("1.001612", COMMUNE_A, dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC))
    assert dossier_fee(desk, late) == 150000  # type: ignore[arg-type]
    assert dossier_fee(desk, early) == 100000  # type: ignore[arg-type]
    assert dossier_fee(desk, Row("1.001612", COMMUNE_B, early.received_at)) == 0  # type: ignore[arg-type]


def test_fee_table_problems_name_their_row() -> None:
    data = {
        "fees": [
            {"procedure": "1.001612", "agencies": [], "amount_vnd": -5, "valid_from": "2025-13-01", "colour": 1},
            row(1000, ["*"]) | {"source": " "},
        ]
    }
    fees, problems = check_fee_table(data)
    text = "\n".join(problems)
    for expected in (
        'fees.json: $.fees[0].agencies: phải liệt kê mã các cơ quan áp dụng (hoặc "*" cho mọi cơ quan)',
        "fees.json: $.fees[0].amount_vnd: phải là số đồng, số nguyên từ 0 trở lên, đang ghi -5 / "
        "must be a whole number of đồng ≥ 0, got -5",
        "fees.json: $.fees[0].valid_from: phải là một ngày viết theo dạng năm-tháng-ngày (ví dụ 2025-07-01), đang ghi "
        '"2025-13-01"',
        "fees.json: $.fees[0].colour: mục này không có trong mẫu bảng lệ phí",
        "fees.json: $.fees[1].source: phải ghi nghị quyết của Hội đồng nhân dân cấp tỉnh quy định mức thu",
    ):
        assert expected in text, text
    assert fees.rows == ()
    assert check_fee_table([1, 2])[1] == [
        'fees.json: bảng lệ phí phải có dạng {"fees": [...]} / must be an object {"fees": [...]}'
    ]


def structures() -> list[AgencyStructure]:
    province = Agency("000.00.00.H99", "Ủy ban nhân dân tỉnh Thử", AgencyLevel.PROVINCE, None)
    a = Agency(COMMUNE_A, "Ủy ban nhân dân xã An", AgencyLevel.COMMUNE, province.code)
    b = Agency(COMMUNE_B, "Ủy ban nhân dân xã Bình", AgencyLevel.COMMUNE, province.code)
    district = Agency("000.15.00.H99", "Ủy ban nhân dân huyện Cũ", AgencyLevel.DISTRICT, province.code)
    return [
        AgencyStructure("three-tier", dt.date(2018, 1, 1), JULY, 3, (province, district)),
        AgencyStructure("two-tier", JULY, None, 2, (province, a, b)),
    ]


def test_validate_warns_for_each_agency_without_a_configured_province_fee() -> None:
    fees = table(row(0, [COMMUNE_A]))  # a configured exemption is configured
    warnings = [str(w) for w in fee_warnings([household()], structures(), fees, dt.date(2026, 3, 2))]
    assert len(warnings) == 1, warnings
    [warning] = warnings
    assert warning.startswith("thủ tục 1.001612: cảnh báo: cơ quan 000.31.02.H99 (Ủy ban nhân dân xã Bình)")
    assert "chưa cấu hình lệ phí do Hội đồng nhân dân cấp tỉnh quyết định" in warning
    assert warning.index("cảnh báo") < warning.index("warning")  # Vietnamese first
    # the ended district version and the three-tier structure are history: not re-checked
    assert "000.15.00.H99" not in warning


@pytest.mark.parametrize("agencies", [[COMMUNE_A, COMMUNE_B], ["*"]])
def test_no_warning_once_every_agency_has_its_fee(agencies: list[str]) -> None:
    fees = table(row(100000, agencies))
    assert fee_warnings([household()], structures(), fees, dt.date(2026, 3, 2)) == []


def test_a_national_fee_is_never_warned_about() -> None:
    national = [dict(copy.deepcopy(v), fee_vnd=0) for v in HOUSEHOLD["versions"]]
    for v in national:
        v.pop("fee_set_by")
    assert fee_warnings([entry(versions=national)], structures(), FeeTable(), dt.date(2026, 3, 2)) == []
