"""Checks on uploaded files before anything is stored: declared type, real type, and a PDF that parses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from dossiers.errors import InvalidInput

ALLOWED_TYPES = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}


@dataclass(frozen=True)
class Upload:
    """One file of a dossier: which required paper it is, its name and a seekable stream."""

    paper_key: str
    filename: str
    content_type: str
    stream: BinaryIO


def _detected_type(head: bytes) -> str | None:
    for content_type, magic in ALLOWED_TYPES.items():
        if head.startswith(magic):
            return content_type
    return None


def check_upload(upload: Upload) -> None:
    """Raise ``InvalidInput`` naming the file when its type is not allowed, does not match its content,
    or it is a PDF that does not parse (corrupt, truncated, encrypted)."""
    name = upload.filename
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if declared not in ALLOWED_TYPES:
        raise InvalidInput(
            f"Tệp '{name}' có định dạng {declared or 'không rõ'} không được chấp nhận (chỉ PDF, JPEG, PNG).",
            f"File '{name}' has type {declared or 'unknown'}, which is not accepted (PDF, JPEG, PNG only).",
            filename=name,
        )
    upload.stream.seek(0)
    head = upload.stream.read(16)
    upload.stream.seek(0)
    if not head:
        raise InvalidInput(f"Tệp '{name}' rỗng.", f"File '{name}' is empty.", filename=name)
    actual = _detected_type(head)
    if actual != declared:
        raise InvalidInput(
            f"Nội dung tệp '{name}' không phải {declared}.",
            f"The content of '{name}' is not {declared} (looks like {actual or 'something else'}).",
            filename=name,
        )
    if declared == "application/pdf":
        _check_pdf(upload)
    upload.stream.seek(0)


def _check_pdf(upload: Upload) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    name = upload.filename
    try:
        reader = PdfFileReader(upload.stream, strict=True)
        if reader.encrypted:
            raise InvalidInput(
                f"Tệp PDF '{name}' được mã hóa, không thể xử lý.",
                f"PDF '{name}' is encrypted and cannot be processed.",
                filename=name,
            )
        pages = int(reader.root["/Pages"]["/Count"])
        if pages < 1:
            raise ValueError("no pages")
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means a broken or hostile file
        raise InvalidInput(
            f"Tệp PDF '{name}' bị hỏng hoặc không đọc được.",
            f"PDF '{name}' is corrupt or unreadable: {type(exc).__name__}: {str(exc)[:200]}",
            filename=name,
        ) from None
    finally:
        upload.stream.seek(0)
