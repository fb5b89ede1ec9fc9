"""Folding what people type and what a dossier is found by (dossiers/search_text.py): both sides lower case, without
diacritics, đ as d; a query understood as words (a name) and, when it has digits, as fragments (a code with spaces or
in lower case, an ID number or phone with separators)."""

from __future__ import annotations

import unicodedata

import pytest

from dossiers.errors import InvalidInput
from dossiers.search_text import (
    QUERY_MAX,
    SEARCH_TEXT_MAX,
    SearchTerms,
    dossier_search_text,
    fold,
    phone_forms,
    search_terms,
)


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Nguyễn Văn A", "nguyen van a"),
        ("NGUYỄN  VĂN   A ", "nguyen van a"),
        ("Đặng Thị Đào", "dang thi dao"),
        ("đường", "duong"),
        ("Huỳnh Ngọc Ánh", "huynh ngoc anh"),
        (unicodedata.normalize("NFD", "Trần Thị Ưng"), "tran thi ung"),  # typed with combining marks
        ("000.00.31.H99-260302-0001", "000.00.31.h99-260302-0001"),
        ("", ""),
    ],
)
def test_fold_drops_case_diacritics_and_extra_spaces(typed: str, folded: str) -> None:
    assert fold(typed) == folded


def test_a_name_with_or_without_diacritics_folds_to_the_same_text() -> None:
    assert fold("Nguyễn Văn A") == fold("nguyen van a") == fold("NGUYEN VAN A")
    assert fold("Đào") != fold("Dao Dao")


@pytest.mark.parametrize(
    ("phone", "forms"),
    [
        ("+84912345678", ["84912345678", "0912345678"]),
        ("0912345678", ["0912345678", "84912345678"]),
        ("84912345678", ["84912345678", "0912345678"]),
        ("024 3825 1234", ["02438251234", "842438251234"]),
        (None, []),
        ("", []),
    ],
)
def test_a_phone_is_kept_in_the_forms_people_type_it(phone: str | None, forms: list[str]) -> None:
    assert phone_forms(phone) == forms


def test_the_dossier_search_text_holds_name_id_phone_and_code_between_spaces() -> None:
    text = dossier_search_text("000.00.31.H99-260302-0001", "Nguyễn Văn A", "001090012345", "+84912345678")
    assert text == " nguyen van a 001090012345 84912345678 0912345678 000.00.31.h99-260302-0001 "
    assert dossier_search_text("C-1", "Lê B", "001090012345", None) == " le b 001090012345 c-1 "
    assert len(dossier_search_text("C-1", "A" * 1000, "001090012345", None)) == SEARCH_TEXT_MAX


def test_a_name_query_is_words_only() -> None:
    assert search_terms("Nguyễn  VĂN a") == SearchTerms(("nguyen", "van", "a"), ())
    assert search_terms("van van") == SearchTerms(("van",), ())  # a repeated word counts once
    assert search_terms("").empty and search_terms(None).empty and search_terms("   ").empty


def test_a_code_typed_in_lower_case_with_spaces_becomes_one_fragment() -> None:
    terms = search_terms(" 000.00.31.h99 - 260302 - 0001 ")
    assert "000.00.31.h99-260302-0001" in terms.fragments
    assert search_terms("260302-0001").fragments[0] == "260302-0001"


def test_a_phone_typed_with_separators_is_also_its_digits() -> None:
    assert search_terms("0912 345 678").fragments == ("0912345678",)
    assert search_terms("+84 912.345.678").fragments == ("+84912.345.678", "84912345678")
    assert search_terms("(024) 3825-1234").fragments == ("(024)3825-1234", "02438251234")


def test_short_digit_queries_are_words_not_fragments() -> None:
    """ "12" would be part of nearly every ID number: it only matches at the start of a word."""
    assert search_terms("12") == SearchTerms(("12",), ())


def test_a_query_too_long_or_with_control_characters_is_refused() -> None:
    search_terms("a" * QUERY_MAX)
    with pytest.raises(InvalidInput) as too_long:
        search_terms("a" * (QUERY_MAX + 1))
    assert too_long.value.message_vi.startswith("Nội dung tìm kiếm quá dài")
    for bad in ("nguyen\x00", "a\u202eb", "x\u200by"):
        with pytest.raises(InvalidInput):
            search_terms(bad)
