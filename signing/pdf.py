"""The PDF side of every signature the project makes, shared by :mod:`signing.pades` (agency seals),
:mod:`signing.ltv` (B-T to B-LTA), :mod:`signing.two_step` and :mod:`signing.keys.csc` (personal signatures) and
:mod:`signing.fields` (Decree 30 form fields): opening a document for an incremental update, the signature
fields it has, the checks before a field is signed, the signature's metadata and the placeholder appearance,
the room reserved for the signature container, and running pyHanko with its errors told as ours; and the CMS
containers a signed PDF carries (:func:`embedded_signed_data`).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from asn1crypto import cms
from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.stamp import TextStampStyle

from dossiers.errors import InvalidInput, MotcuaError
from dossiers.ports import SignatureRequest
from signing._async import run_sync
from signing.certs import common_name, der

T = TypeVar("T")

DIGEST_ALGORITHM = "sha256"
CERTIFICATION_PERMISSIONS = MDPPerm.FILL_FORMS  # DocMDP P=2: form filling and further signatures allowed

# A placeholder appearance for fields created with a box. pyHanko's built-in fonts cannot show Vietnamese, so the
# name is written without diacritics; the Decree 30 appearances (signing.appearance) replace it where they apply.
PLACEHOLDER_STAMP = TextStampStyle(
    stamp_text="Signed by / Ky boi: %(signer_ascii)s\nTime / Thoi gian: %(ts)s",
    timestamp_format="%Y-%m-%d %H:%M:%S %z",
    background=None,
    border_width=1,
)

_PDF_ERRORS = (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError)


def ascii_fold(text: str) -> str:
    """``"Phạm Văn Hùng"`` → ``"Pham Van Hung"``: drop diacritics (and map đ/Đ) for fonts without Vietnamese."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return folded.encode("ascii", "replace").decode("ascii")


def placeholder_text(cert: x509.Certificate, fallback: str) -> dict[str, str]:
    """The text parameters of :data:`PLACEHOLDER_STAMP` for a signature by ``cert``."""
    return {"signer_ascii": ascii_fold(common_name(cert, fallback))}


def check_field_name(name: str) -> None:
    if not name or "." in name or len(name) > 127:
        raise InvalidInput(
            f"Tên ô chữ ký '{name}' không hợp lệ (không rỗng, không chứa dấu chấm).",
            f"Invalid signature field name '{name}' (must be non-empty and contain no dots).",
            field=name,
        )


def open_for_update(pdf: bytes) -> IncrementalPdfFileWriter:
    """Open ``pdf`` for an incremental update, or raise :class:`InvalidInput` when it is not a usable PDF."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        encrypted = writer.prev.encrypted
        writer.root  # noqa: B018 - resolve the catalog now, so a broken file fails here
    except _PDF_ERRORS as exc:
        raise InvalidInput(
            "Tệp không phải là PDF hợp lệ hoặc bị hỏng.",
            f"The file is not a valid PDF or is damaged: {exc}",
        ) from exc
    if encrypted:
        raise InvalidInput(
            "Không hỗ trợ ký tệp PDF được mã hóa.",
            "Encrypted PDF files cannot be signed.",
        )
    return writer


def signature_fields(writer: IncrementalPdfFileWriter) -> dict[str, bool]:
    """Signature field names in the document, mapped to whether each already holds a signature."""
    return {name: value is not None for name, value, _ in fields.enumerate_sig_fields(writer)}


def open_for_signature(
    pdf: bytes, field_name: str, *, certify: bool
) -> tuple[IncrementalPdfFileWriter, dict[str, bool]]:
    """Open ``pdf`` to sign field ``field_name`` (a certification signature when ``certify``) and return the writer
    with the document's signature fields (:func:`signature_fields`).

    :class:`InvalidInput` for a bad field name, a file that is not a PDF, is damaged or encrypted, a field that
    is already signed, and a certification that would not be the document's first signature."""
    check_field_name(field_name)
    if not isinstance(pdf, bytes | bytearray) or b"%PDF-" not in pdf[:1024]:
        raise InvalidInput(
            "Tệp không phải là PDF (thiếu phần đầu %PDF-).",
            "The file is not a PDF (no %PDF- header).",
        )
    writer = open_for_update(bytes(pdf))
    try:
        existing = signature_fields(writer)
    except _PDF_ERRORS as exc:
        raise InvalidInput(
            "Tệp PDF bị hỏng (không đọc được các ô biểu mẫu).",
            f"The PDF is damaged (its form fields cannot be read): {exc}",
        ) from exc
    if existing.get(field_name):
        raise InvalidInput(
            f"Ô chữ ký '{field_name}' đã được ký; không thể ký đè.",
            f"Signature field '{field_name}' is already signed and cannot be signed again.",
            field=field_name,
        )
    if certify and any(existing.values()):
        raise InvalidInput(
            "Chữ ký chứng nhận (certify) phải là chữ ký đầu tiên của tài liệu.",
            "A certification signature must be the first signature in the document.",
            field=field_name,
        )
    return writer, existing


def signature_metadata(request: SignatureRequest, md_algorithm: str = DIGEST_ALGORITHM) -> signers.PdfSignatureMetadata:
    """PAdES B-B (``ETSI.CAdES.detached``) in field ``request.field_name``; a certification signature allows form
    filling and further signatures (DocMDP P=2)."""
    return signers.PdfSignatureMetadata(
        field_name=request.field_name,
        md_algorithm=md_algorithm,
        subfilter=SigSeedSubFilter.PADES,
        reason=request.reason or None,
        location=request.location or None,
        certify=request.certify,
        docmdp_permissions=CERTIFICATION_PERMISSIONS,
    )


def bytes_reserved_for(chain: Iterable[x509.Certificate], *, extra: int = 0) -> int:
    """A ``bytes_reserved`` for ``PdfSigner.sign_pdf`` that fits a B-B signature by a signer with ``chain``.

    Without it pyHanko builds the whole CMS container twice per document (once, with a dry-run signature, only
    to measure it) — about half the time of an invisible signature. The CMS holds the chain's certificates,
    the signed attributes, the signer info and a signature value (at most 512 bytes, RSA-4096); 4 KiB covers
    everything but the certificates with a wide margin. ``extra`` adds room for what pyHanko would otherwise
    size itself (a timestamp token for B-T: its TSA certificates plus about 2 KiB). The result counts hex
    digits, as ``bytes_reserved`` does, and is even."""
    certificates = sum(len(der(cert)) for cert in chain)
    return 2 * (certificates + 4096 + max(0, extra))


def run_signing(factory: Callable[[], Coroutine[Any, Any, T]], field_name: str) -> T:
    """Run a pyHanko signing coroutine; its errors become :class:`InvalidInput` naming ``field_name``."""
    try:
        return run_sync(factory)
    except MotcuaError:
        raise
    except SigningError as exc:
        raise InvalidInput(
            f"Không thể ký ô '{field_name}': {exc}",
            f"Cannot sign field '{field_name}': {exc}",
            field=field_name,
        ) from exc
    except _PDF_ERRORS as exc:
        raise InvalidInput(
            "Tệp PDF có cấu trúc không ký được.",
            f"The PDF cannot be signed: {exc}",
            field=field_name,
        ) from exc


def embedded_signed_data(pdf: bytes) -> list[cms.SignedData]:
    """The CMS ``SignedData`` of every signature and document timestamp embedded in ``pdf``; none from a file that
    cannot be read (it simply contributes no certificate)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        return [sig.signed_data for sig in reader.embedded_signatures]
    except Exception:  # noqa: BLE001 - an unreadable PDF simply contributes no certificate
        return []
