"""PAdES baseline B-B signatures with pyHanko, one incremental update per signature (DESIGN §7).

This first adapter signs with keys from the :class:`~signing.pki.DevelopmentPki` (PKCS#12). Signatures are
invisible unless the target field was created with a box; the Decree 30 appearances (signature image,
red seal, agency name and time) come with a later issue, as do PKCS#11 and remote (CSC) signing.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.stamp import BaseStampStyle as StampStyle
from pyhanko.stamp import TextStampStyle

from dossiers.errors import InvalidInput, MotcuaError
from dossiers.ports import SignatureRequest
from signing._async import run_sync
from signing.keys import KeyProvider, Pkcs12Keys, bytes_reserved_for
from signing.pki import DevelopmentPki

DIGEST_ALGORITHM = "sha256"
CERTIFICATION_PERMISSIONS = MDPPerm.FILL_FORMS  # DocMDP P=2: form filling and further signatures allowed

Box = tuple[int, int, int, int]

# A placeholder appearance for fields created with a box. pyHanko's built-in fonts cannot show Vietnamese, so the
# name is written without diacritics until the Decree 30 appearance (embedded Noto font, images) replaces this.
PLACEHOLDER_STAMP = TextStampStyle(
    stamp_text="Signed by / Ky boi: %(signer_ascii)s\nTime / Thoi gian: %(ts)s",
    timestamp_format="%Y-%m-%d %H:%M:%S %z",
    background=None,
    border_width=1,
)


def ascii_fold(text: str) -> str:
    """``"Phạm Văn Hùng"`` → ``"Pham Van Hung"``: drop diacritics (and map đ/Đ) for fonts without Vietnamese."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return folded.encode("ascii", "replace").decode("ascii")


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    """Convert a ``cryptography`` certificate to the ``asn1crypto`` one pyHanko works with."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _open(pdf: bytes) -> IncrementalPdfFileWriter:
    """Open ``pdf`` for an incremental update, or raise :class:`InvalidInput` when it is not a usable PDF."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        encrypted = writer.prev.encrypted
        writer.root  # noqa: B018 - resolve the catalog now, so a broken file fails here
    except (PdfError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
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


def _sig_fields(writer: IncrementalPdfFileWriter) -> dict[str, bool]:
    """Signature field names in the document, mapped to whether each already holds a signature."""
    return {name: value is not None for name, value, _ in fields.enumerate_sig_fields(writer)}


def create_signature_fields(
    pdf: bytes,
    names: Sequence[str],
    *,
    boxes: Mapping[str, tuple[int, Box]] | None = None,
) -> bytes:
    """Add empty signature fields named ``names`` in one incremental update.

    Decree 30's order of work creates every signature field before the first signature, so the later
    signatures only fill existing fields. A field is invisible unless ``boxes`` maps its name to
    ``(page index, (x1, y1, x2, y2))`` in PDF points. Existing field names are refused.
    """
    if not names:
        return pdf
    if len(set(names)) != len(names):
        raise InvalidInput("Tên ô chữ ký bị trùng.", "Signature field names repeat.", names=list(names))
    writer = _open(pdf)
    existing = _sig_fields(writer)
    for name in names:
        _check_field_name(name)
        if name in existing:
            raise InvalidInput(
                f"Ô chữ ký '{name}' đã có trong tài liệu.",
                f"The document already has a signature field '{name}'.",
                field=name,
            )
        page, box = (boxes or {}).get(name, (0, None))
        fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name=name, on_page=page, box=box))
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def _check_field_name(name: str) -> None:
    if not name or "." in name or len(name) > 127:
        raise InvalidInput(
            f"Tên ô chữ ký '{name}' không hợp lệ (không rỗng, không chứa dấu chấm).",
            f"Invalid signature field name '{name}' (must be non-empty and contain no dots).",
            field=name,
        )


StyleFor = Callable[[SignatureRequest], StampStyle | None]


class PadesSigner:
    """:class:`~dossiers.ports.Signer` adapter for the server's own keys (agency seals): PAdES B-B
    (ETSI.CAdES.detached, SHA-256) with a PKCS#12 file or a PKCS#11 token behind a :class:`KeyProvider`.
    A person's key is refused here: personal signatures go through :mod:`signing.two_step`."""

    def __init__(
        self,
        pki: DevelopmentPki,
        *,
        keys: KeyProvider | None = None,
        styles: StyleFor | None = None,
        timestamper_url: str | None = None,
    ) -> None:
        self.pki = pki
        self.keys: KeyProvider = keys or Pkcs12Keys(pki)
        self.styles = styles
        self.timestamper_url = timestamper_url  # with a TSA the server's signatures are PAdES B-T

    def sign(self, pdf: bytes, request: SignatureRequest) -> bytes:
        """Return ``pdf`` with one more signature in field ``request.field_name`` (created invisible if absent).

        ``request.certify`` makes it a certification signature (DocMDP P=2); it must be the first signature.
        Raises :class:`~dossiers.errors.NotFound` for an unknown key id and
        :class:`~dossiers.errors.InvalidInput` for a damaged PDF, a filled field or a forbidden certification.
        """
        _check_field_name(request.field_name)
        signer = self.keys.signer_for(request.signer)  # Forbidden for person keys, NotFound when unknown
        chain = self.keys.chain_for(request.signer)
        writer = _open(pdf)
        existing = _sig_fields(writer)
        if existing.get(request.field_name):
            raise InvalidInput(
                f"Ô chữ ký '{request.field_name}' đã được ký; không thể ký đè.",
                f"Signature field '{request.field_name}' is already signed and cannot be signed again.",
                field=request.field_name,
            )
        if request.certify and any(existing.values()):
            raise InvalidInput(
                "Chữ ký chứng nhận (certify) phải là chữ ký đầu tiên của tài liệu.",
                "A certification signature must be the first signature in the document.",
                field=request.field_name,
            )
        meta = signers.PdfSignatureMetadata(
            field_name=request.field_name,
            md_algorithm=DIGEST_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
            reason=request.reason or None,
            location=request.location or None,
            certify=request.certify,
            docmdp_permissions=CERTIFICATION_PERMISSIONS,
        )
        style = self.styles(request) if self.styles is not None else None
        if self.timestamper_url:
            from signing.ltv import sign_pades

            return sign_pades(
                pdf,
                signer,
                request.field_name,
                level="B-T",
                timestamper_url=self.timestamper_url,
                certify=request.certify,
                reason=request.reason or None,
                location=request.location or None,
                stamp_style=style,
            )
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            stamp_style=style or PLACEHOLDER_STAMP,
            new_field_spec=fields.SigFieldSpec(request.field_name),
        )
        common_names = chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        signer_name = str(common_names[0].value) if common_names else request.signer
        out = io.BytesIO()
        try:
            text_params = {"signer_ascii": ascii_fold(signer_name)}
            run_sync(
                lambda: pdf_signer.async_sign_pdf(
                    writer, output=out, appearance_text_params=text_params, bytes_reserved=bytes_reserved_for(chain)
                )
            )
        except MotcuaError:
            raise
        except SigningError as exc:
            raise InvalidInput(
                f"Không thể ký ô '{request.field_name}': {exc}",
                f"Cannot sign field '{request.field_name}': {exc}",
                field=request.field_name,
            ) from exc
        except (PdfError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                "Tệp PDF có cấu trúc không ký được.",
                f"The PDF cannot be signed: {exc}",
                field=request.field_name,
            ) from exc
        return out.getvalue()
