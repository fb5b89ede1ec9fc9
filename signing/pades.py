"""PAdES signatures by the server's own keys (agency seals), one incremental update per signature (DESIGN §7).

:class:`PadesSigner` signs with a :class:`~signing.api.KeyProvider` (PKCS#12 files or a PKCS#11 token) at the level
:class:`signing.ltv.Evidence` chooses from what is configured: B-B with the chain and revocation data embedded (no
TSA), B-LT with a TSA, B-LTA when the seal closes a document a person already signed (results, letters).
Signatures are invisible unless the target field was created with a box; the Decree 30 appearances come from
:mod:`signing.appearance` through ``styles``.
:func:`create_signature_fields` adds empty signature fields before the first signature.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

from pyhanko.sign import fields
from pyhanko.stamp import BaseStampStyle as StampStyle

from dossiers.errors import InvalidInput
from dossiers.ports import SignatureRequest
from signing.api import KeyProvider
from signing.certs import TrustRoot
from signing.keys.pkcs12 import Pkcs12Keys
from signing.ltv import Evidence, sign_pades
from signing.pdf import (
    PLACEHOLDER_STAMP,
    bytes_reserved_for,
    check_field_name,
    open_for_signature,
    open_for_update,
    placeholder_text,
    signature_fields,
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
    """:class:`~dossiers.ports.Signer` adapter for the server's own keys (agency seals): PAdES (ETSI.CAdES.detached,
    SHA-256) with a PKCS#12 file or a PKCS#11 token behind a :class:`KeyProvider`, at the level :meth:`evidence`
    chooses. A person's key is refused here: personal signatures go through :mod:`signing.two_step`.

    ``trust_roots``: the configured roots (the TSA's among them), anchors for collecting revocation data beside the
    development PKI's root; the development PKI's CRLs are used without the network."""

    def __init__(
        self,
        pki: DevelopmentPki,
        *,
        keys: KeyProvider | None = None,
        styles: StyleFor | None = None,
        timestamper_url: str | None = None,
        trust_roots: Sequence[TrustRoot] = (),
    ) -> None:
        self.pki = pki
        self.keys: KeyProvider = keys or Pkcs12Keys(pki)
        self.styles = styles
        self.timestamper_url = timestamper_url
        self.trust_roots = tuple(trust_roots)

    def restyled(self, styles: StyleFor | None) -> PadesSigner:
        """The same signer (keys, time-stamping, trust) drawing other appearances (copies, certified copies)."""
        return PadesSigner(
            self.pki, keys=self.keys, styles=styles, timestamper_url=self.timestamper_url, trust_roots=self.trust_roots
        )

    def evidence(self) -> Evidence:
        """What this installation's signatures embed (see :class:`signing.ltv.Evidence`); CRLs are read afresh."""
        return Evidence(
            timestamper_url=self.timestamper_url,
            trust_roots=(*self.trust_roots, *self.pki.trust_roots()),
            local_crls=self.pki.crls,
        )

    def sign(self, pdf: bytes, request: SignatureRequest) -> bytes:
        """Return ``pdf`` with one more signature in field ``request.field_name`` (created invisible if absent).

        ``request.certify`` makes it a certification signature (DocMDP P=2); it must be the first signature.
        Raises :class:`~dossiers.errors.NotFound` for an unknown key id,
        :class:`~dossiers.errors.InvalidInput` for a damaged PDF, a filled field or a forbidden certification and
        :class:`~dossiers.errors.Unavailable` when the TSA or a revocation service does not answer.
        """
        check_field_name(request.field_name)
        signer = self.keys.signer_for(request.signer)  # Forbidden for person keys, NotFound when unknown
        chain = self.keys.chain_for(request.signer)
        _, existing = open_for_signature(pdf, request.field_name, certify=request.certify)
        evidence = self.evidence()
        level = evidence.level(closes_signed_document=any(existing.values()))
        style = self.styles(request) if self.styles is not None else None
        return sign_pades(
            pdf,
            signer,
            request.field_name,
            level=level,
            timestamper_url=self.timestamper_url,
            validation_context=evidence.context(chain),
            revocation_data=True,
            certify=request.certify,
            reason=request.reason or None,
            location=request.location or None,
            signer_key_usage=("digital_signature",),
            stamp_style=style or PLACEHOLDER_STAMP,
            appearance_text_params=placeholder_text(chain[0], request.signer),
            # B-B: sized from the chain (no dry run); with a TSA pyHanko measures the token once
            bytes_reserved=None if self.timestamper_url else bytes_reserved_for(chain),
        )
