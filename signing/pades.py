"""PAdES signatures by the server's own keys (agency seals), one incremental update per signature (DESIGN §7).

:class:`PadesSigner` signs with a :class:`~signing.api.KeyProvider` (PKCS#12 files or a PKCS#11 token): PAdES B-B,
or B-T through :mod:`signing.ltv` when a TSA is configured. Signatures are invisible unless the target field was
created with a box; the Decree 30 appearances come from :mod:`signing.appearance` through ``styles``.
:func:`create_signature_fields` adds empty signature fields before the first signature.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

from pyhanko.sign import fields, signers
from pyhanko.stamp import BaseStampStyle as StampStyle

from dossiers.errors import InvalidInput
from dossiers.ports import SignatureRequest
from signing.api import KeyProvider
from signing.keys.pkcs12 import Pkcs12Keys
from signing.ltv import sign_pades
from signing.pdf import (
    PLACEHOLDER_STAMP,
    bytes_reserved_for,
    check_field_name,
    open_for_signature,
    open_for_update,
    placeholder_text,
    run_signing,
    signature_fields,
    signature_metadata,
)
from signing.pki import DevelopmentPki

Box = tuple[int, int, int, int]


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
    writer = open_for_update(pdf)
    existing = signature_fields(writer)
    for name in names:
        check_field_name(name)
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
        check_field_name(request.field_name)
        signer = self.keys.signer_for(request.signer)  # Forbidden for person keys, NotFound when unknown
        chain = self.keys.chain_for(request.signer)
        writer, _ = open_for_signature(pdf, request.field_name, certify=request.certify)
        style = self.styles(request) if self.styles is not None else None
        if self.timestamper_url:
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
            signature_metadata(request),
            signer=signer,
            stamp_style=style or PLACEHOLDER_STAMP,
            new_field_spec=fields.SigFieldSpec(request.field_name),
        )
        out = io.BytesIO()
        text_params = placeholder_text(chain[0], request.signer)
        run_signing(
            lambda: pdf_signer.async_sign_pdf(
                writer, output=out, appearance_text_params=text_params, bytes_reserved=bytes_reserved_for(chain)
            ),
            request.field_name,
        )
        return out.getvalue()
