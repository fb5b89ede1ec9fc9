"""The bounds on what people type (``dossiers.text_rules``): lengths, refused characters, NFC, numbers and dates
of the application form — each refusal an ``InvalidInput`` naming the field."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest

from dossiers.errors import InvalidInput
from dossiers.form_schema import parse
from dossiers.model import FormField, Procedure
from dossiers.text_rules import (
    COMMENT_MAX,
    FORM_INTEGER_MAX,
    FORM_TEXT_MAX,
    LIST_ITEMS_MAX,
    NAME_MAX,
    check_form,
    clean_applicant_name,
    clean_comment,
    clean_id_number,
    clean_phone,
    clean_text,
    form_value,
)
from services.catalogue import BUILT_IN

HOUSEHOLD = json.loads((BUILT_IN / "1.001612.json").read_text(encoding="utf-8"))
FORM, _ = parse(json.loads((BUILT_IN.parent / HOUSEHOLD["form"]).read_text(encoding="utf-8")), HOUSEHOLD["form"])
assert FORM is not None
FIELDS = FORM.fields
PROC = Procedure(
    "1.001612", "Đăng ký thành lập hộ kinh doanh", "household", 3, True, (), (), form_fields=FIELDS, form=FORM
)
DETAILS: dict[str, Any] = {
    "business_name": "Tạp hóa Bình An",
    "business_address": "Thôn Đông, xã Hòa An",
    "business_lines": ["Bán lẻ lương thực, thực phẩm"],
    "capital_vnd": 100000000,
    "owner_birth_date": "1985-04-12",
    "owner_address": "Thôn Đông, xã Hòa An",
}


def field(key: str) -> FormField:
    return next(f for f in FIELDS if f.key == key)


def refused(call: Any, *args: Any, **kwargs: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------- names


def test_a_name_at_the_limit_is_kept_and_one_character_more_is_refused_naming_the_field() -> None:
    name = "Nguyễn " + "A" * (NAME_MAX - 7)
    assert clean_applicant_name(name) == name
    error = refused(clean_applicant_name, name + "A")
    assert error.details["field"] == "applicant_name"
    assert error.message_vi == f"Họ tên người nộp hồ sơ quá dài (tối đa {NAME_MAX} ký tự)."
    assert str(NAME_MAX) in error.message_en


def test_a_megabyte_name_is_refused_as_too_long() -> None:
    error = refused(clean_applicant_name, "A" * 1_000_000)
    assert error.details == {"field": "applicant_name", "limit": NAME_MAX}


def test_names_are_nfc_normalised_and_their_spaces_collapsed() -> None:
    decomposed = unicodedata.normalize("NFD", "  Nguyễn   Thị  Hòa ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert clean_applicant_name(decomposed) == unicodedata.normalize("NFC", "Nguyễn Thị Hòa")


def test_a_name_written_with_combining_marks_counts_its_letters_after_nfc() -> None:
    """120 Vietnamese letters typed with combining marks are more than 120 code points before NFC."""
    name = unicodedata.normalize("NFD", "ễ" * NAME_MAX)
    assert len(name) > NAME_MAX
    assert clean_applicant_name(name) == "ễ" * NAME_MAX


@pytest.mark.parametrize(
    "char", ["\u202e", "\u202a", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]
)
def test_bidirectional_controls_are_refused_in_names(char: str) -> None:
    error = refused(clean_applicant_name, f"Nguyễn{char}An")
    assert error.details["field"] == "applicant_name"
    assert error.details["character"] == f"U+{ord(char):04X}"
    assert "hướng văn bản" in error.message_vi


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\n", "\t", "\u2028"])
def test_control_characters_and_line_breaks_are_refused_in_names(char: str) -> None:
    error = refused(clean_applicant_name, f"Nguyễn{char}An")
    assert error.details["field"] == "applicant_name"


@pytest.mark.parametrize("char", ["\u200b", "\u200d", "\u00ad", "\ufeff", "\ue000"])
def test_invisible_format_characters_are_refused_in_names(char: str) -> None:
    refused(clean_applicant_name, f"Nguyễn{char}An")


def test_a_lone_surrogate_is_refused() -> None:
    refused(clean_applicant_name, "Nguyễn\ud800An")
    refused(clean_comment, "ý kiến \udfff")


def test_an_empty_name_is_refused_and_a_non_text_one_too() -> None:
    assert refused(clean_applicant_name, "   ").message_vi == "Cần nhập họ tên người nộp hồ sơ."
    assert refused(clean_applicant_name, 42).details["field"] == "applicant_name"


# ---------------------------------------------------------------- numbers on the applicant


@pytest.mark.parametrize("number", ["001090012345", "123456789", " 001090012345 "])
def test_id_numbers_of_twelve_or_nine_ascii_digits_are_accepted(number: str) -> None:
    assert clean_id_number(number) == number.strip()


@pytest.mark.parametrize("number", ["00109001234", "0010900123456", "٠٠١٠٩٠٠١٢٣٤٥", "00109001234²", "12345678x", ""])
def test_other_id_numbers_are_refused_naming_the_field(number: str) -> None:
    assert refused(clean_id_number, number).details["field"] == "applicant_id_number"


def test_phones_drop_separators_and_keep_the_plus() -> None:
    assert clean_phone("0912 345 678") == "0912345678"
    assert clean_phone("+84 (912) 345-678") == "+84912345678"
    assert clean_phone("  ") is None
    assert clean_phone(None) is None


@pytest.mark.parametrize("phone", ["12345", "0912345678901", "09123x5678", "٠٩١٢٣٤٥٦٧٨", "+" + "9" * 100_000])
def test_bad_phones_are_refused_naming_the_field(phone: str) -> None:
    assert refused(clean_phone, phone).details["field"] == "applicant_phone"


# ---------------------------------------------------------------- comments and reasons


def test_a_comment_keeps_its_lines_and_tabs_but_refuses_other_controls() -> None:
    assert clean_comment("Thiếu giấy tờ:\r\n\t- bản sao CCCD  \n") == "Thiếu giấy tờ:\n\t- bản sao CCCD"
    error = refused(clean_comment, "Thiếu\x1b[31m giấy tờ")
    assert error.details == {"field": "comment", "character": "U+001B"}
    assert refused(clean_comment, "Từ chối \u202egnol").details["character"] == "U+202E"


def test_a_comment_over_its_limit_is_refused() -> None:
    assert clean_comment("x" * COMMENT_MAX) == "x" * COMMENT_MAX
    error = refused(clean_comment, "x" * (COMMENT_MAX + 1), field="reason", label_vi="Lý do", label_en="The reason")
    assert error.details == {"field": "reason", "limit": COMMENT_MAX}
    assert error.message_vi == f"Lý do quá dài (tối đa {COMMENT_MAX} ký tự)."


def test_an_empty_optional_text_is_empty() -> None:
    assert clean_text(None, field="x", label_vi="X", label_en="X", max_length=5) == ""
    assert clean_comment("  \n ") == ""


# ---------------------------------------------------------------- the application form


def test_a_good_form_passes_unchanged() -> None:
    assert check_form(PROC, DETAILS) == DETAILS


@pytest.mark.parametrize(
    "value", [10**400, 10**15 + 1, -1, 1e400, float("nan"), float("inf"), 1.5, True, "1" * 20, "²", "١٢", "1e9", None]
)
def test_capital_outside_the_bounds_or_not_a_whole_number_is_refused(value: Any) -> None:
    details = DETAILS | {"capital_vnd": value}
    error = refused(check_form, PROC, details)
    assert error.details.get("field") == "details.capital_vnd" or error.details.get("missing") == ["capital_vnd"]


def test_capital_at_the_bounds_is_accepted() -> None:
    assert form_value(field("capital_vnd"), FORM_INTEGER_MAX) == FORM_INTEGER_MAX
    assert form_value(field("capital_vnd"), "0") == 0
    assert form_value(field("capital_vnd"), 5e8) == 500_000_000


def test_the_message_names_the_form_item_in_vietnamese() -> None:
    error = refused(check_form, PROC, DETAILS | {"capital_vnd": 10**400})
    assert error.message_vi == "Mục “Vốn kinh doanh (đồng)” phải là số nguyên từ 0 đến 1.000.000.000.000.000."


@pytest.mark.parametrize("value", ["1799-12-31", "2200-01-01", "12/04/1985", "1985-02-30", "19850412", 19850412, ""])
def test_dates_must_be_iso_days_in_a_sane_range(value: Any) -> None:
    error = refused(check_form, PROC, DETAILS | {"owner_birth_date": value})
    assert error.details.get("field") == "details.owner_birth_date" or error.details.get("missing")


def test_text_items_are_bounded_single_lines() -> None:
    assert form_value(field("business_name"), "x" * FORM_TEXT_MAX) == "x" * FORM_TEXT_MAX
    assert refused(form_value, field("business_name"), "x" * (FORM_TEXT_MAX + 1)).details["limit"] == FORM_TEXT_MAX
    assert refused(form_value, field("business_name"), "Tạp hóa\nBình An").details["field"] == "details.business_name"
    assert refused(form_value, field("business_name"), {"a": 1}).details["field"] == "details.business_name"
    assert refused(form_value, field("business_name"), float("nan")).details["field"] == "details.business_name"


def test_lists_are_bounded_in_items_and_item_length() -> None:
    lines = field("business_lines")
    assert form_value(lines, ["a", " ", "b"]) == ["a", "b"]
    assert refused(form_value, lines, ["a"] * (LIST_ITEMS_MAX + 1)).details["limit"] == LIST_ITEMS_MAX
    assert refused(form_value, lines, ["x" * (FORM_TEXT_MAX + 1)]).details["field"] == "details.business_lines"
    assert refused(form_value, lines, [["nested"]]).details["field"] == "details.business_lines"
    assert refused(form_value, lines, "not a list").details["field"] == "details.business_lines"


def test_unknown_keys_are_refused_and_named_briefly() -> None:
    error = refused(check_form, PROC, DETAILS | {"x" * 10_000: 1})
    assert error.details["field"] == "details"
    assert all(len(k) <= 40 for k in error.details["unknown"])
    assert len(error.message_en) < 200


def test_a_required_item_left_blank_is_missing() -> None:
    error = refused(check_form, PROC, DETAILS | {"business_lines": [" "]})
    assert error.details["missing"] == ["business_lines"]
