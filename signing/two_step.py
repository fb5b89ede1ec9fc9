"""Personal signatures in two steps: the person's key never enters the server (DESIGN §7, issue 4 points 1 and 7).

1. :func:`prepare` (server) fills the signature field with a placeholder through pyHanko's interrupted signing
   (``PdfSigner.async_digest_doc_for_signing`` with an ``ExternalSigner``), computes the ``/ByteRange`` digest and
   the CMS signed attributes for the signer's certificate (PAdES: content type, message digest, ESS
   signing-certificate-v2; the signing time is the signature dictionary's ``/M``), and returns a
   :class:`PreparedSignature`.
2. The signer's device (:class:`signing.device.DeviceClient`, a USB token) signs
   :attr:`PreparedSignature.data_to_sign`, or a token that signs precomputed hashes signs
   :attr:`PreparedSignature.digest_to_sign`; both give the same raw signature value.
3. :func:`finish` (server, possibly another process after a restart) checks the value against the certificate's
   public key **first**, then wraps it in the CMS (``ExternalSigner.async_sign_prescribed_attributes``) and
   writes it into the reserved ``/Contents`` (``PdfTBSDocument.async_finish_signing``).

The server keeps no state between the steps: :meth:`PreparedSignature.to_bytes` is an ASCII JSON document that can
sit in a database row and :meth:`PreparedSignature.from_bytes` reads it back::

    {"format": "motcua.prepared-signature", "version": 1,
     "field_name": "LanhDao", "md_algorithm": "sha256", "signature_mechanism": "sha256_ecdsa",
     "document_digest": "<base64>", "reserved_region": [start, end],
     "signed_attributes": "<base64 DER>", "signer_certificate": "<base64 DER>", "chain": ["<base64 DER>", …],
     "prepared_pdf": "<base64>"}

``prepared_pdf`` is the whole document with the placeholder (``/Contents <00…>``), so the row is about 4/3 of the
PDF's size. ``finish`` re-checks that the stored digest is the digest of the stored PDF's byte range and that the
signed attributes carry it, so a damaged or mixed-up row fails cleanly instead of producing a broken signature.

What the device signs (ECDSA or RSA PKCS#1 v1.5, SHA-256 by default): the DER encoding of the signed attributes
(a ``SET OF Attribute``); the signature is over their hash, so a hash-only token gets ``digest_to_sign =
SHA-256(data_to_sign)``. An ECDSA value may come back as DER (``ECDSA-Sig-Value``, what CMS stores) or as raw
``r‖s`` (PKCS#11 ``CKM_ECDSA``, WebCrypto); ``finish`` accepts both and embeds DER.

Remote signing through a CSC API service (the key stays in the service) is :mod:`signing.keys.csc`. Given the
installation's :class:`signing.ltv.Evidence`, :func:`finish` adds the signature timestamp when a TSA is configured
(:func:`prepare` with ``timestamp_room`` reserves the space for it) and then the chain and revocation data in the
DSS: B-B + revocation data without a TSA, B-LT with one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.stamp import BaseStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from dossiers.errors import InvalidInput, MotcuaError, Unavailable
from dossiers.ports import SignatureRequest
from signing.certs import check_key_type, check_validity, load_certificate, to_asn1
from signing.device import hash_algorithm
from signing.ltv import Evidence, add_revocation_data, timestamper_for
from signing.pdf import (
    PLACEHOLDER_STAMP,
    bytes_reserved_for,
    open_for_signature,
    placeholder_text,
    run_signing,
    signature_metadata,
)

STATE_FORMAT = "motcua.prepared-signature"
STATE_VERSION = 1
SUPPORTED_DIGESTS = ("sha256", "sha384", "sha512")

# Room for the raw signature value while pyHanko sizes the /Contents placeholder (it adds 50% on top):
# ECDSA P-521 DER is at most 139 bytes, RSA is the modulus length.
MIN_PLACEHOLDER_SIGNATURE = 512
# Room for the signature timestamp finish() adds with a TSA: the token, its TSA certificates and their chain.
TIMESTAMP_ROOM = 8192

MISMATCH_VI = "Chữ ký số từ thiết bị không khớp với bản tóm lược."
MISMATCH_EN = "The device's signature value does not match the digest."


@dataclass(frozen=True)
class PreparedSignature:
    """Everything :func:`finish` needs, serializable with :meth:`to_bytes`; see the module docstring."""

    field_name: str
    md_algorithm: str
    signature_mechanism: str  # asn1crypto name: sha256_ecdsa, sha256_rsa, …
    document_digest: bytes  # digest of the prepared PDF's /ByteRange
    reserved_region_start: int  # offset of '<' of the /Contents placeholder
    reserved_region_end: int  # offset just after its '>'
    signed_attributes: bytes = field(repr=False)  # DER SET OF Attribute
    signer_certificate: bytes = field(repr=False)  # DER
    chain: tuple[bytes, ...] = field(repr=False)  # DER issuers to embed in the CMS, nearest first
    prepared_pdf: bytes = field(repr=False)

    @property
    def data_to_sign(self) -> bytes:
        """What a device that hashes and signs receives: the DER signed attributes."""
        return self.signed_attributes

    @property
    def digest_to_sign(self) -> bytes:
        """What a hash-only token (or a CSC ``signHash`` call) receives: the digest of :attr:`data_to_sign`."""
        return hashlib.new(self.md_algorithm, self.signed_attributes).digest()

    @property
    def signer_certificate_sha256(self) -> str:
        """Hex SHA-256 of the signer's DER certificate: lets a device check that the request is for its key."""
        return hashlib.sha256(self.signer_certificate).hexdigest()

    @property
    def byte_range_digest(self) -> PreparedByteRangeDigest:
        return PreparedByteRangeDigest(self.document_digest, self.reserved_region_start, self.reserved_region_end)

    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.signer_certificate)

    def to_bytes(self) -> bytes:
        """An ASCII JSON document (non-ASCII text escaped); binary fields in base64."""
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "field_name": self.field_name,
            "md_algorithm": self.md_algorithm,
            "signature_mechanism": self.signature_mechanism,
            "document_digest": _b64(self.document_digest),
            "reserved_region": [self.reserved_region_start, self.reserved_region_end],
            "signed_attributes": _b64(self.signed_attributes),
            "signer_certificate": _b64(self.signer_certificate),
            "chain": [_b64(cert) for cert in self.chain],
            "prepared_pdf": _b64(self.prepared_pdf),
        }
        return json.dumps(state, ensure_ascii=True, separators=(",", ":")).encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes) -> PreparedSignature:
        """Read :meth:`to_bytes` output; :class:`InvalidInput` when it is damaged or of another format."""
        try:
            state = json.loads(data)
            if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
                raise ValueError("not a prepared-signature document")
            if state.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported version {state.get('version')!r}")
            start, end = state["reserved_region"]
            prepared = cls(
                field_name=_str(state["field_name"]),
                md_algorithm=_str(state["md_algorithm"]),
                signature_mechanism=_str(state["signature_mechanism"]),
                document_digest=_unb64(state["document_digest"]),
                reserved_region_start=_int(start),
                reserved_region_end=_int(end),
                signed_attributes=_unb64(state["signed_attributes"]),
                signer_certificate=_unb64(state["signer_certificate"]),
                chain=tuple(_unb64(cert) for cert in state["chain"]),
                prepared_pdf=_unb64(state["prepared_pdf"]),
            )
            if prepared.md_algorithm not in SUPPORTED_DIGESTS:
                raise ValueError(f"unsupported digest {prepared.md_algorithm!r}")
            x509.load_der_x509_certificate(prepared.signer_certificate)
            cms.CMSAttributes.load(prepared.signed_attributes).native  # noqa: B018 - parse it fully now
        except MotcuaError:
            raise
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                "Trạng thái chữ ký đã chuẩn bị bị hỏng hoặc không đúng định dạng.",
                f"The saved prepared-signature state is damaged or of another format: {exc}",
            ) from exc
        return prepared


# ---------------------------------------------------------------------- step 1: prepare


def prepare(
    pdf: bytes,
    signer_chain: Sequence[x509.Certificate],
    request: SignatureRequest,
    *,
    appearance: BaseStampStyle | None = None,
    md_algorithm: str = "sha256",
    now: dt.datetime | None = None,
    timestamp_room: bool = False,
) -> PreparedSignature:
    """Reserve the signature in field ``request.field_name`` (created invisible if absent) for ``signer_chain[0]``.

    ``signer_chain`` is the signer's certificate followed by its issuers (embedded in the CMS). ``request.certify``
    makes it the certification signature (DocMDP P=2, form filling and further signatures allowed); it must then
    be the document's first signature. ``now`` (default: the current time) is when the certificate must be valid.
    ``timestamp_room`` reserves space for the signature timestamp :func:`finish` adds when a TSA is configured.

    Raises :class:`~dossiers.errors.InvalidInput` for a PDF that is not one, is damaged or encrypted, a field that
    is already signed, a certification that is not first, a certificate that is expired or not yet valid, a key
    type other than RSA/ECDSA and a digest other than SHA-256/384/512.
    """
    md = supported_digest(md_algorithm)
    if not signer_chain:
        raise InvalidInput("Cần chứng thư số của người ký.", "The signer's certificate is needed.")
    signer_cert = signer_chain[0]
    check_key_type(signer_cert)
    check_validity(signer_cert, now)
    writer, _ = open_for_signature(pdf, request.field_name, certify=request.certify)

    asn1_cert = to_asn1(signer_cert)
    chain = [to_asn1(cert) for cert in signer_chain[1:]]
    external = signers.ExternalSigner(
        signing_cert=asn1_cert,
        cert_registry=SimpleCertificateStore.from_certs(chain),
        signature_value=_placeholder_size(signer_cert),
    )
    mechanism = external.get_signature_mechanism_for_digest(md)
    pdf_signer = signers.PdfSigner(
        signature_metadata(request, md),
        signer=external,
        stamp_style=appearance or PLACEHOLDER_STAMP,
        new_field_spec=fields.SigFieldSpec(request.field_name),
    )
    text_params = placeholder_text(signer_cert, request.signer)

    async def digest() -> tuple[PreparedByteRangeDigest, cms.CMSAttributes, bytes]:
        byte_range, tbs, output = await pdf_signer.async_digest_doc_for_signing(
            writer,
            appearance_text_params=text_params,
            bytes_reserved=bytes_reserved_for(signer_chain, extra=TIMESTAMP_ROOM) if timestamp_room else None,
        )
        if tbs.md_algorithm != md:  # e.g. a seed value dictionary in the field asked for another digest
            raise SigningError(f"the field requires digest {tbs.md_algorithm}, not {md}")
        if tbs.post_sign_instructions is not None:  # a DSS update or document timestamp would need live objects
            raise SigningError("post-signing steps (DSS, document timestamp) are not supported in two-step signing")
        attrs = await external.signed_attrs(byte_range.document_digest, md, use_pades=True)
        output.seek(0)
        return byte_range, attrs, output.read()

    byte_range, attrs, prepared_pdf = run_signing(digest, request.field_name)
    return PreparedSignature(
        field_name=request.field_name,
        md_algorithm=md,
        signature_mechanism=str(mechanism["algorithm"].native),
        document_digest=byte_range.document_digest,
        reserved_region_start=byte_range.reserved_region_start,
        reserved_region_end=byte_range.reserved_region_end,
        signed_attributes=attrs.dump(),
        signer_certificate=asn1_cert.dump(),
        chain=tuple(cert.dump() for cert in chain),
        prepared_pdf=prepared_pdf,
    )


# ---------------------------------------------------------------------- step 2 is the device's: signing.device


# ---------------------------------------------------------------------- step 3: finish


def finish(
    prepared: PreparedSignature,
    signature_value: bytes,
    *,
    now: dt.datetime | None = None,
    evidence: Evidence | None = None,
) -> bytes:
    """Embed the device's ``signature_value`` and return the signed PDF.

    With ``evidence`` the signature gets its signature timestamp (a TSA configured and room reserved by
    :func:`prepare`; a state prepared without room stays without it) and the chain and revocation data in the DSS
    (an incremental update). :class:`~dossiers.errors.Unavailable` when the TSA or a revocation service does not
    answer: nothing is returned, the signer may sign again.

    The value is checked against the signer certificate's public key over the signed attributes before anything
    is written; a value that does not match (another key, another document, truncated, garbage) raises
    :class:`~dossiers.errors.InvalidInput`. So do a certificate that is no longer valid at ``now`` and a prepared
    state whose PDF, digest and signed attributes do not belong together.
    """
    md = supported_digest(prepared.md_algorithm)
    cert = load_certificate(prepared.signer_certificate)
    value = verify_signature_value(cert, prepared.signed_attributes, signature_value, md)
    check_validity(cert, now)
    _check_consistency(prepared)

    signed_attrs = cms.CMSAttributes.load(prepared.signed_attributes)
    external = signers.ExternalSigner(
        signing_cert=to_asn1(prepared.signer_certificate),
        cert_registry=SimpleCertificateStore.from_certs([to_asn1(c) for c in prepared.chain]),
        signature_value=value,
        signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": prepared.signature_mechanism}),
    )

    tsa_url = evidence.timestamper_url if evidence is not None else None
    timestamper = timestamper_for(tsa_url) if tsa_url else None
    room = (prepared.reserved_region_end - prepared.reserved_region_start - 2) // 2  # DER bytes in /Contents

    async def embed() -> bytes:
        signature_cms: cms.ContentInfo | None = None
        if timestamper is not None:
            try:
                stamped = await external.async_sign_prescribed_attributes(md, signed_attrs, timestamper=timestamper)
            except TimestampRequestError as exc:
                raise Unavailable(
                    f"Không kết nối được dịch vụ cấp dấu thời gian (TSA) {tsa_url}; chưa ký.",
                    f"The time-stamping service (TSA) {tsa_url} cannot be reached; nothing was signed.",
                    service="tsa",
                    url=tsa_url,
                ) from exc
            if len(stamped.dump()) <= room:
                signature_cms = stamped
        if signature_cms is None:
            signature_cms = await external.async_sign_prescribed_attributes(md, signed_attrs)
        output = io.BytesIO(prepared.prepared_pdf)
        await PdfTBSDocument.async_finish_signing(output, prepared.byte_range_digest, signature_cms)
        return output.getvalue()

    signed = run_signing(embed, prepared.field_name)
    if evidence is None:
        return signed
    chain = [load_certificate(prepared.signer_certificate), *(load_certificate(c) for c in prepared.chain)]
    return add_revocation_data(signed, prepared.field_name, evidence.context(chain))


def verify_signature_value(cert: x509.Certificate, data: bytes, signature_value: bytes, md_algorithm: str) -> bytes:
    """Check ``signature_value`` over ``data`` with ``cert``'s key; return it as CMS stores it (ECDSA: DER).

    :class:`InvalidInput` ("the device's signature value does not match the digest") when it does not verify.
    """
    if not isinstance(signature_value, bytes | bytearray) or not signature_value:
        raise InvalidInput(MISMATCH_VI, MISMATCH_EN + " (empty value)", reason="signature_mismatch")
    signature_value = bytes(signature_value)
    digest = hash_algorithm(md_algorithm)
    key = cert.public_key()
    candidates = [signature_value]
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        if len(signature_value) == 2 * size:  # raw r‖s from PKCS#11 or WebCrypto
            r = int.from_bytes(signature_value[:size], "big")
            s = int.from_bytes(signature_value[size:], "big")
            candidates.insert(0, encode_dss_signature(r, s))
    for candidate in candidates:
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(candidate, data, ec.ECDSA(digest))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(candidate, data, padding.PKCS1v15(), digest)
            else:
                break
            return candidate
        except (InvalidSignature, ValueError):
            continue
    raise InvalidInput(MISMATCH_VI, MISMATCH_EN, reason="signature_mismatch")


# ---------------------------------------------------------------------- helpers


def supported_digest(md_algorithm: str) -> str:
    """The lower-case name of ``md_algorithm``; :class:`InvalidInput` unless it is SHA-256, SHA-384 or SHA-512."""
    md = str(md_algorithm).lower()
    hash_algorithm(md)  # InvalidInput for anything else
    return md


def _check_consistency(prepared: PreparedSignature) -> None:
    """The stored PDF, byte-range digest and signed attributes must belong together."""
    pdf = prepared.prepared_pdf
    start, end = prepared.reserved_region_start, prepared.reserved_region_end
    problem = None
    if not (0 < start < end <= len(pdf)) or pdf[start : start + 1] != b"<" or pdf[end - 1 : end] != b">":
        problem = "the reserved /Contents region is not where the state says"
    elif hashlib.new(prepared.md_algorithm, pdf[:start] + pdf[end:]).digest() != prepared.document_digest:
        problem = "the prepared PDF does not match its byte-range digest"
    else:
        attrs = {attr["type"].native: attr["values"] for attr in cms.CMSAttributes.load(prepared.signed_attributes)}
        message_digest = attrs.get("message_digest")
        if message_digest is None or message_digest[0].native != prepared.document_digest:
            problem = "the signed attributes do not carry the document digest"
    if problem is not None:
        raise InvalidInput(
            "Trạng thái chữ ký đã chuẩn bị không nhất quán; hãy chuẩn bị lại.",
            f"The prepared-signature state is inconsistent ({problem}); prepare the signature again.",
            field=prepared.field_name,
        )


def _placeholder_size(cert: x509.Certificate) -> int:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return max(MIN_PLACEHOLDER_SIGNATURE, (key.key_size + 7) // 8)
    return MIN_PLACEHOLDER_SIGNATURE


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from exc


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer")
    return value


__all__ = [
    "PreparedSignature",
    "finish",
    "prepare",
    "supported_digest",
    "verify_signature_value",
]
