"""Dossier codes ``<unit code>-YYMMDD-NNNN`` (Circular 01/2018/TT-VPCP, Art. 19)."""

from __future__ import annotations

import datetime as dt

import pytest

from dossiers.codes import MAX_SERIAL_PER_DAY, format_dossier_code, normalize_dossier_code, parse_dossier_code


def test_format_pads_the_serial_and_writes_the_receipt_date_as_yymmdd() -> None:
    assert format_dossier_code("000.00.17.H56", dt.date(2026, 2, 13), 7) == "000.00.17.H56-260213-0007"
    assert format_dossier_code("H56", dt.date(2025, 12, 1), 1234) == "H56-251201-1234"


@pytest.mark.parametrize("serial", [1, MAX_SERIAL_PER_DAY])
def test_format_accepts_the_serial_range_bounds(serial: int) -> None:
    code = format_dossier_code("H56", dt.date(2026, 1, 5), serial)
    assert code.endswith(f"-{serial:04d}")
    assert parse_dossier_code(code)[2] == serial


@pytest.mark.parametrize("serial", [0, -1, MAX_SERIAL_PER_DAY + 1, 100_000])
def test_format_rejects_serials_out_of_range(serial: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        format_dossier_code("H56", dt.date(2026, 1, 5), serial)


def test_max_serial_is_four_digits() -> None:
    assert MAX_SERIAL_PER_DAY == 9999


def test_parse_returns_unit_date_and_serial() -> None:
    assert parse_dossier_code("000.00.17.H56-260213-0042") == ("000.00.17.H56", dt.date(2026, 2, 13), 42)


@pytest.mark.parametrize(
    ("unit", "day", "serial"),
    [
        ("H56", dt.date(2026, 2, 13), 1),
        ("000.00.17.H56", dt.date(2000, 1, 1), 9999),
        ("G12.34", dt.date(2068, 12, 31), 500),
    ],
)
def test_parse_inverts_format(unit: str, day: dt.date, serial: int) -> None:
    assert parse_dossier_code(format_dossier_code(unit, day, serial)) == (unit, day, serial)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "H56-260213-042",  # serial must have four digits
        "H56-260213-00042",
        "H56-2602131-0042",  # date must have six digits
        "h56-260213-0042",  # unit codes are upper case
        "H 56-260213-0042",
        "-260213-0042",  # unit code missing
        "A" * 31 + "-260213-0042",  # unit code longer than 30 characters
        " H56-260213-0042",
        "H56_260213_0042",
    ],
)
def test_parse_rejects_malformed_codes(code: str) -> None:
    with pytest.raises(ValueError, match="not a dossier code"):
        parse_dossier_code(code)


def test_parse_rejects_a_trailing_newline() -> None:
    with pytest.raises(ValueError, match="not a dossier code"):
        parse_dossier_code("H56-260213-0042\n")


@pytest.mark.parametrize("code", ["H56-260230-0001", "H56-251301-0001", "H56-260100-0001"])
def test_parse_rejects_impossible_dates(code: str) -> None:
    with pytest.raises(ValueError):
        parse_dossier_code(code)


def test_a_code_typed_from_a_receipt_forgives_case_and_spaces() -> None:
    assert normalize_dossier_code(" 000.00.31.h99 - 260302 - 0001 ") == "000.00.31.H99-260302-0001"
    assert normalize_dossier_code("000.00.31.H99-260302-0001") == "000.00.31.H99-260302-0001"
    assert normalize_dossier_code("\t\n") == ""
