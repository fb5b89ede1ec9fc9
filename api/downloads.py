"""The ``Content-Disposition`` of every download: the Vietnamese name (RFC 6266 ``filename*=UTF-8''…``) with a
plain-ASCII ``filename=`` beside it for the clients that do not read the first — diacritics dropped, never an
internal name (``Mẫu 01 - Giấy tiếp nhận….pdf`` → ``Mau 01 - Giay tiep nhan….pdf``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._() -]+")
MAX_LENGTH = 150

# what a downloaded file of a generated paper is called (the citizen's own files keep the name they had)
DOCUMENT_FILE_NAMES: Mapping[str, str] = {
    "receipt": "Mẫu 01 - Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "supplement_request": "Mẫu 02 - Phiếu yêu cầu bổ sung hồ sơ",
    "refusal": "Mẫu 03 - Phiếu từ chối giải quyết hồ sơ",
    # Mẫu 04 in both sets, named differently (2018: phiếu xin lỗi và hẹn lại ngày trả kết quả; 2025: văn bản xin lỗi
    # và đề nghị gia hạn thời gian giải quyết): a name true of both
    "apology": "Mẫu 04 - Văn bản xin lỗi vì giải quyết quá hạn",
    "result": "Kết quả giải quyết",
    "result_draft": "Kết quả đã ký - chờ vào số",
    "scan_copy": "Bản sao điện tử",
    "inspection_record": "Biên bản kiểm tra hiện trạng",
    "tax_notice": "Thông báo nộp tiền",
}
OWN_FILES = frozenset({"upload", "supplement", "scan"})


def ascii_name(filename: str) -> str:
    """``filename`` without diacritics (``đ`` → ``d``), anything else outside a safe set replaced by ``_``."""
    bare = unicodedata.normalize("NFD", filename.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in bare if not unicodedata.combining(c))
    cleaned = _UNSAFE.sub("_", bare).strip(" ._") or "tai-lieu"
    if len(cleaned) <= MAX_LENGTH:
        return cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    return stem[: MAX_LENGTH - len(suffix) - 1] + dot + suffix if dot and len(suffix) <= 8 else cleaned[:MAX_LENGTH]


def content_disposition(filename: str, *, inline: bool = False) -> str:
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name(filename)}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_name(code: str, kind: str, filename: str) -> str:
    """The name a downloaded document gets: the citizen's own files keep theirs, a paper the system made is
    named by what it is (``Mẫu 01 - Giấy tiếp nhận hồ sơ và hẹn trả kết quả - <code>.pdf``)."""
    if kind in OWN_FILES or kind not in DOCUMENT_FILE_NAMES or not filename:
        return filename or "tai-lieu"
    label = DOCUMENT_FILE_NAMES[kind]
    suffix = Path(filename).suffix.lower() or ".pdf"
    return f"{label} - {code}{suffix}"


def unsigned_name(code: str, kind: str) -> str:
    """The prepared PDF a leader reads before signing it."""
    return f"{DOCUMENT_FILE_NAMES.get(kind, 'Văn bản')} - chưa ký - {code}.pdf"
