"""Checks on uploaded files before anything is stored: declared type, real type, and content that opens.

Every way a file enters (intake and supplement through the API and the pages, a scan to digitise, the verify
upload) builds an :class:`Upload` and calls :func:`check_upload`:

- the name is reduced to a safe base name (:func:`dossiers.filenames.safe_filename`) when the ``Upload`` is made;
- a PDF must parse (pyHanko's strict reader), not be encrypted, have a sane page tree (no loop, no page twice,
  not absurdly deep, ``/Count`` telling the truth) and carry no active content (read by
  :func:`documents.inspection.inspect_pdf`);
- an image is decoded whole with Pillow, within :data:`MAX_IMAGE_PIXELS`: a PNG or JPEG header followed by
  garbage, a truncated image or a decompression bomb is refused.

PDFs with active content are **refused, not neutralised**: a citizen's paper is kept as it arrived (it may be
sealed as a copy or be evidence), and quietly rewriting it would change what was filed. The citizen is asked to
export the paper again as a plain PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from documents.inspection import inspect_pdf
from dossiers.errors import InvalidInput
from dossiers.filenames import safe_filename

ALLOWED_TYPES = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}

MAX_IMAGE_PIXELS = 50_000_000
"""An A4 page scanned in colour at 600 dpi is 35 million pixels; decoding 50 million takes ~150 MB."""


@dataclass(frozen=True)
class Upload:
    """One file of a dossier: which required paper it is, its name and a seekable stream.

    ``filename`` is the client's name reduced to a safe base name (:func:`~dossiers.filenames.safe_filename`)
    on construction, so every way in names the file the same safe way (refusals included); ``stored_filename``
    is the name kept with the document once :func:`check_upload` passed: the same, ending with an extension of
    its (verified) type."""

    paper_key: str
    filename: str
    content_type: str
    stream: BinaryIO

    def __post_init__(self) -> None:
        object.__setattr__(self, "filename", safe_filename(self.filename))

    @property
    def stored_filename(self) -> str:
        return safe_filename(self.filename, self.content_type)


def _detected_type(head: bytes) -> str | None:
    for content_type, magic in ALLOWED_TYPES.items():
        if head.startswith(magic):
            return content_type
    return None


def check_upload(upload: Upload, *, allow_active_content: bool = False) -> list[str]:
    """Raise ``InvalidInput`` naming the file when its type is not allowed, does not match its content, or the
    content does not open (see the module). Returns the PDF's active content
    (:func:`documents.inspection.active_content`): always empty unless ``allow_active_content`` (the verify upload,
    which stores nothing and only reports it)."""
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
    found: list[str] = []
    if declared == "application/pdf":
        found = _check_pdf(upload, allow_active_content)
    else:
        _check_image(upload, declared)
    upload.stream.seek(0)
    return found


def _check_pdf(upload: Upload, allow_active_content: bool) -> list[str]:
    name = upload.filename
    try:
        facts = inspect_pdf(upload.stream, name)
        if facts.encrypted:
            raise InvalidInput(
                f"Tệp PDF '{name}' được mã hóa, không thể xử lý.",
                f"PDF '{name}' is encrypted and cannot be processed.",
                filename=name,
            )
        found = facts.active_content
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
    if found and not allow_active_content:
        listed = ", ".join(found)
        raise InvalidInput(
            f"Tệp PDF '{name}' chứa nội dung chủ động ({listed}): không nhận tệp PDF có mã lệnh, hành động tự "
            "chạy, gửi dữ liệu đi hay tệp đính kèm. Hãy in hoặc xuất lại giấy tờ thành tệp PDF thông thường.",
            f"PDF '{name}' contains active content ({listed}): PDFs with scripts, actions that launch, submit or "
            "open remote documents, embedded files or rich media are refused. Export the paper again as a plain PDF.",
            filename=name,
            active_content=found,
        )
    return found


def _check_image(upload: Upload, declared: str) -> None:
    """Decode the whole image (Pillow): the header must announce at most :data:`MAX_IMAGE_PIXELS` pixels and
    every byte of pixel data must decode (PNG chunk checksums included)."""
    from PIL import Image

    name = upload.filename
    image_format = {"image/jpeg": "JPEG", "image/png": "PNG"}[declared]
    too_many = InvalidInput(
        f"Ảnh '{name}' quá lớn (quá {MAX_IMAGE_PIXELS // 1_000_000} triệu điểm ảnh).",
        f"Image '{name}' has too many pixels (more than {MAX_IMAGE_PIXELS:,}).",
        filename=name,
    )
    try:
        upload.stream.seek(0)
        with Image.open(upload.stream, formats=[image_format]) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise too_many
            image.verify()
        upload.stream.seek(0)
        with Image.open(upload.stream, formats=[image_format]) as image:
            image.load()
    except InvalidInput:
        raise
    except Image.DecompressionBombError:
        raise too_many from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a broken or disguised file
        raise InvalidInput(
            f"Tệp ảnh '{name}' bị hỏng hoặc không đọc được.",
            f"Image '{name}' is corrupt or unreadable: {type(exc).__name__}: {str(exc)[:200]}",
            filename=name,
        ) from None
    finally:
        upload.stream.seek(0)
