"""Finding a dossier by what people type: a code (lower case and spaces forgiven, or a part of it), the applicant's
name with or without Vietnamese diacritics, the ID number or the phone number.

Both sides are folded the same way (:func:`fold`): the dossier row keeps one folded ``search_text`` (name, ID
number, phone in its usual forms, code), written with the row, and a query becomes :class:`SearchTerms` that the
repository turns into ``LIKE`` conditions on that column.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dossiers.codes import normalize_dossier_code
from dossiers.errors import InvalidInput

SEARCH_TEXT_MAX = 400
"""The ``search_text`` column: a folded name (at most 255), ID number, three forms of the phone, the code (60)."""
QUERY_MAX = 100
"""What a search box takes: longer than any code, name, ID number or phone."""
FRAGMENT_MIN = 3
"""A code, ID or phone fragment matches anywhere in the text from this many characters on (shorter ones would
match nearly every dossier)."""

_PHONE_SEPARATORS = re.compile(r"[\s.\-()+]")
_DIGITS = re.compile(r"[0-9]+")


def fold(text: str) -> str:
    """Lower case without Vietnamese diacritics, white space collapsed: ``"Đăng  ký"`` → ``"dang ky"`` (NFD,
    combining marks dropped; ``đ`` is a letter of its own, not a ``d`` with a mark, so it is replaced first)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFC", bare).casefold().split())


def phone_forms(phone: str | None) -> list[str]:
    """The digits of a phone number as people type it: ``+84912345678`` is also ``84912345678`` and
    ``0912345678``, and ``0912345678`` is also ``84912345678``."""
    digits = _PHONE_SEPARATORS.sub("", phone or "")
    if not digits:
        return []
    forms = [digits]
    if digits.startswith("84") and len(digits) >= 11:
        forms.append("0" + digits[2:])
    elif digits.startswith("0"):
        forms.append("84" + digits[1:])
    return forms


def dossier_search_text(code: str, name: str, id_number: str, phone: str | None) -> str:
    """What the dossier row stores to be found by: every part folded, one space between words and around the
    whole (a word of the query is matched at a word's start as ``"% word"``)."""
    parts = [fold(name), fold(id_number), *phone_forms(phone), fold(code)]
    text = " ".join(p for p in parts if p)
    return f" {text} "[:SEARCH_TEXT_MAX]


@dataclass(frozen=True)
class SearchTerms:
    """A query, understood two ways: its ``words`` (each must start a word of the search text: a name typed in
    part, ``"nguyen van a"``) or — when it holds a digit — ``fragments`` found anywhere (a code typed with spaces
    or in lower case, its last digits, an ID number or phone typed with separators)."""

    words: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.words and not self.fragments


def search_terms(query: str | None) -> SearchTerms:
    """The terms of what was typed in a search box (empty: every dossier the person may see)."""
    text = (query or "").strip()
    if len(text) > QUERY_MAX:
        raise InvalidInput(
            f"Nội dung tìm kiếm quá dài (tối đa {QUERY_MAX} ký tự).",
            f"The search text is too long (at most {QUERY_MAX} characters).",
            field="q",
        )
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise InvalidInput(
            "Nội dung tìm kiếm có ký tự không hợp lệ.",
            "The search text has characters that are not allowed.",
            field="q",
        )
    words = tuple(dict.fromkeys(fold(text).split()))
    fragments: list[str] = []
    if _DIGITS.search(text):
        compact = fold(normalize_dossier_code(text))
        if len(compact) >= FRAGMENT_MIN:
            fragments.append(compact)
        digits = _PHONE_SEPARATORS.sub("", text)
        if _DIGITS.fullmatch(digits) and len(digits) >= FRAGMENT_MIN and digits != compact:
            fragments.append(digits)
    return SearchTerms(words, tuple(fragments))
