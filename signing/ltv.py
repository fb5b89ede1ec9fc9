"""PAdES baseline levels with pyHanko (DESIGN §7): B-B, B-T, B-LT and B-LTA.

* **B-B** — a CAdES-detached signature (``ETSI.CAdES.detached``, SHA-256), nothing else;
* **B-T** — B-B plus an RFC 3161 *signature timestamp* (unsigned attribute over the signature value) from the TSA
  at ``timestamper_url``: it proves the signature existed at that time;
* **B-LT** — B-T plus the validation data (certificates, OCSP responses, CRLs for the signer's chain and the TSA's)
  in the document security store (DSS), so the signature can be validated later without the network;
* **B-LTA** — B-LT plus a *document timestamp* (``ETSI.RFC3161``) over the whole file including the DSS; renewing
  it before the TSA certificate or the hash algorithm weakens keeps the evidence alive
  (:func:`add_archival_timestamp`).

Optionally (``content_timestamp=True``) a *content timestamp* is taken before signing and embedded as a signed
attribute: it proves the signature was made *after* that time, which lets a validator conclude TOTAL-FAILED/REVOKED
(rather than INDETERMINATE/REVOKED_NO_POE) for a signer whose certificate was revoked before.

Before anything is written the signer's certificate is checked: expired or not yet valid (always, locally), and,
when a validation context is available (always for B-LT/B-LTA), that it chains to the trust roots and is not
revoked, fetching OCSP/CRL from the URLs in the certificates. Errors: :class:`~dossiers.errors.InvalidInput` for a
bad PDF, an unusable certificate (expired, revoked, untrusted) or a filled field; :class:`~dossiers.errors.Unavailable`
when the TSA or a revocation service cannot be reached. The input bytes are never modified; on error nothing is
returned.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, get_args

import aiohttp
from asn1crypto import x509 as asn1_x509
from asn1crypto.crl import CertificateList
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko.stamp import BaseStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

from dossiers.errors import InvalidInput, MotcuaError, Unavailable
from signing._async import run_sync
from signing.certs import TrustRoot, subject_text, to_asn1
from signing.pdf import (
    CERTIFICATION_PERMISSIONS,
    DIGEST_ALGORITHM,
    check_field_name,
    open_for_signature,
    open_for_update,
    signature_fields,
)

T = TypeVar("T")

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
LEVELS: tuple[str, ...] = get_args(Level)
TIMESTAMP_LEVELS = frozenset({"B-T", "B-LT", "B-LTA"})
LTV_LEVELS = frozenset({"B-LT", "B-LTA"})

TSA_TIMEOUT_SECONDS = 10
DOCUMENT_TIMESTAMP_FIELD = "DocTimeStamp"  # prefix; a counter keeps names unique


def validation_context_for_signing(
    trust_roots: Iterable[TrustRoot], *, other_certs: Iterable[TrustRoot] = (), allow_fetching: bool = True
) -> ValidationContext:
    """A validation context for B-LT/B-LTA signing: only ``trust_roots`` are anchors (never the OS store), revocation
    information is required for every certificate and fetched from the OCSP/CRL URLs in the certificates."""
    return ValidationContext(
        trust_roots=[to_asn1(cert) for cert in trust_roots],
        other_certs=[to_asn1(cert) for cert in other_certs],
        allow_fetching=allow_fetching,
        revocation_mode="require",
    )


@dataclass(frozen=True)
class Evidence:
    """What every signature the server makes carries beyond B-B, chosen in this one place from what is configured
    (issue 19 point 1): the chain and its revocation data in the DSS always (B-B + revocation data is the floor,
    so a file can be validated with nothing but itself and the trust root); with a TSA the signature timestamp
    too (B-LT), and a document timestamp when a seal closes a document somebody already signed (an issued result
    or a letter the head signed: B-LTA).

    Revocation data comes from ``local_crls`` first (the development PKI's own CRLs: no network needed), then from
    the CRL/OCSP addresses in the certificates (``allow_fetching``). Anchors for collecting it: ``trust_roots``
    (the configured roots, which must include the TSA's) and the self-signed top of the signer's own chain — the
    server's own key is not judged here, only documented."""

    timestamper_url: str | None = None
    trust_roots: tuple[TrustRoot, ...] = ()
    local_crls: Callable[[], Iterable[bytes]] = field(default=lambda: ())
    allow_fetching: bool = True

    def level(self, *, closes_signed_document: bool) -> Level:
        if not self.timestamper_url:
            return "B-B"
        return "B-LTA" if closes_signed_document else "B-LT"

    def context(self, chain: Sequence[TrustRoot]) -> ValidationContext:
        """A fresh validation context (it collects what it finds: one per signature) for the signer's ``chain``."""
        certs = [to_asn1(cert) for cert in chain]
        anchors = [to_asn1(cert) for cert in self.trust_roots] + [c for c in certs if c.self_signed != "no"]
        return ValidationContext(
            trust_roots=anchors,
            other_certs=certs,
            crls=[CertificateList.load(data) for data in self.local_crls()],
            allow_fetching=self.allow_fetching,
            # every address a certificate declares must answer; a chain that declares none has nothing to embed
            revocation_mode="hard-fail",
        )


def add_revocation_data(pdf: bytes, field_name: str, validation_context: ValidationContext) -> bytes:
    """Append the chain and revocation data of the signature in ``field_name`` (and of its timestamp) to the DSS,
    with its VRI entry, in one incremental update (permitted after a DocMDP P=2 certification)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        [signature] = [s for s in reader.embedded_signatures if s.field_name == field_name]
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("Tệp PDF đã ký không đọc được.", f"The signed PDF cannot be read: {exc}") from exc
    out = io.BytesIO()
    try:
        run_sync(
            lambda: _releasing(
                async_add_validation_info(signature, validation_context, output=out, force_write=True),
                validation_context,
            )
        )
    except MotcuaError:
        raise
    except (SigningError, PathValidationError, PathBuildingError, OSError, aiohttp.ClientError) as exc:
        raise _signing_error(exc, field_name, None) from exc
    return out.getvalue()


def timestamper_for(
    url: str, *, timeout: int = TSA_TIMEOUT_SECONDS, headers: dict[str, str] | None = None
) -> TimeStamper:
    """An RFC 3161 client for ``url`` (HTTP POST ``application/timestamp-query``)."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(
            f"Địa chỉ dịch vụ cấp dấu thời gian không hợp lệ: {url!r}.",
            f"Invalid time-stamping service URL: {url!r}.",
        )
    return HTTPTimeStamper(url, timeout=timeout, headers=headers)


def sign_pades(
    pdf: bytes,
    signer: signers.Signer,
    field_name: str,
    *,
    level: Level = "B-B",
    timestamper_url: str | None = None,
    timestamper: TimeStamper | None = None,
    validation_context: ValidationContext | None = None,
    trust_roots: Iterable[TrustRoot] | None = None,
    certify: bool = False,
    docmdp_permissions: MDPPerm = CERTIFICATION_PERMISSIONS,
    reason: str | None = None,
    location: str | None = None,
    content_timestamp: bool = False,
    signer_key_usage: Iterable[str] = ("non_repudiation",),
    timestamp_field_name: str | None = None,
    stamp_style: BaseStampStyle | None = None,
    appearance_text_params: dict[str, str] | None = None,
    new_field_spec: fields.SigFieldSpec | None = None,
    now: dt.datetime | None = None,
    revocation_data: bool = False,
    bytes_reserved: int | None = None,
) -> bytes:
    """Return ``pdf`` with one more PAdES signature at ``level`` in field ``field_name`` (created invisible if absent).

    ``signer`` is any pyHanko :class:`~pyhanko.sign.signers.Signer` (PKCS#12 ``SimpleSigner``, PKCS#11, CSC, …)
    whose ``signing_cert`` is set and whose ``cert_registry`` holds the issuing CA certificates. B-T and above need
    a TSA (``timestamper_url``, or a ready ``timestamper``); B-LT and B-LTA need ``validation_context`` (see
    :func:`validation_context_for_signing`), or ``trust_roots`` to make a fresh one (a validation context collects
    OCSP responses and CRLs as it goes: use a new one per signature). ``certify`` makes it a certification signature
    (DocMDP, ``docmdp_permissions``; P=2 by default) and must be the document's first signature. ``now`` is only for
    the local validity check of the signer's certificate (tests); pyHanko's own checks use the real time.
    ``stamp_style``, ``appearance_text_params`` and ``new_field_spec`` go to pyHanko's ``PdfSigner`` unchanged (the
    visible appearance; by default an existing field keeps its box and a new field is invisible).
    ``revocation_data`` embeds the chain and revocation data (DSS) below B-LT too (B-B or B-T plus revocation
    data; it needs a validation context like B-LT). ``bytes_reserved`` sizes ``/Contents`` (pyHanko measures a
    dry run otherwise).
    """
    if level not in LEVELS:
        raise InvalidInput(
            f"Mức chữ ký PAdES không hợp lệ: {level!r} (B-B, B-T, B-LT, B-LTA).",
            f"Unknown PAdES level {level!r} (expected one of {', '.join(LEVELS)}).",
        )
    check_field_name(field_name)
    if level in TIMESTAMP_LEVELS or content_timestamp:
        if timestamper is None and not timestamper_url:
            raise InvalidInput(
                f"Chữ ký mức {level} cần dịch vụ cấp dấu thời gian (TSA) nhưng chưa được cấu hình.",
                f"A {level} signature needs a time-stamping service (TSA), but none is configured.",
            )
        timestamper = timestamper or timestamper_for(str(timestamper_url))
    else:
        timestamper = None
    if validation_context is None and trust_roots is not None:
        validation_context = validation_context_for_signing(trust_roots)
    if content_timestamp and level == "B-B":
        raise InvalidInput(
            "Dấu thời gian nội dung cần chữ ký mức B-T trở lên.",
            "A content timestamp needs level B-T or higher (the same TSA also timestamps the signature).",
        )
    embed = level in LTV_LEVELS or revocation_data
    if embed and validation_context is None:
        raise InvalidInput(
            f"Chữ ký mức {level} cần cấu hình chứng thư gốc tin cậy để lấy thông tin thu hồi (OCSP/CRL).",
            f"A {level} signature needs a validation context (trust roots) to collect revocation data (OCSP/CRL).",
        )
    cert = signer.signing_cert
    if cert is None:
        raise InvalidInput("Khóa ký không kèm chứng thư số.", "The signer has no certificate.")
    _check_validity_period(cert, now or dt.datetime.now(dt.UTC))

    writer, existing = open_for_signature(pdf, field_name, certify=certify)
    if level == "B-LTA" and timestamp_field_name is None:
        timestamp_field_name = _unique_name(DOCUMENT_TIMESTAMP_FIELD, existing)

    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=DIGEST_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        reason=reason or None,
        location=location or None,
        certify=certify,
        docmdp_permissions=docmdp_permissions,
        embed_validation_info=embed,
        use_pades_lta=level == "B-LTA",
        timestamp_field_name=timestamp_field_name,
        validation_context=validation_context,
        signer_key_usage=set(signer_key_usage),
        cades_signed_attr_spec=CAdESSignedAttrSpec(timestamp_content=True) if content_timestamp else None,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=signer,
        timestamper=timestamper,
        stamp_style=stamp_style,
        new_field_spec=new_field_spec or fields.SigFieldSpec(field_name),
    )
    out = io.BytesIO()
    try:
        run_sync(
            lambda: _releasing(
                pdf_signer.async_sign_pdf(
                    writer, output=out, appearance_text_params=appearance_text_params, bytes_reserved=bytes_reserved
                ),
                validation_context,
            )
        )
    except MotcuaError:
        raise
    except (SigningError, TimestampRequestError, PathValidationError, PathBuildingError) as exc:
        raise _signing_error(exc, field_name, timestamper) from exc
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            "Tệp PDF có cấu trúc không ký được.", f"The PDF cannot be signed: {exc}", field=field_name
        ) from exc
    return out.getvalue()


def add_archival_timestamp(
    pdf: bytes,
    *,
    timestamper_url: str | None = None,
    timestamper: TimeStamper | None = None,
    validation_context: ValidationContext,
    timestamp_field_name: str | None = None,
) -> bytes:
    """Extend the B-LTA evidence: add the validation data of the last document timestamp to the DSS and a new
    document timestamp over everything (run before the last TSA certificate expires or its algorithms weaken)."""
    if timestamper is None:
        if not timestamper_url:
            raise InvalidInput(
                "Chưa cấu hình dịch vụ cấp dấu thời gian (TSA).", "No time-stamping service (TSA) is configured."
            )
        timestamper = timestamper_for(timestamper_url)
    writer = open_for_update(pdf)
    name = timestamp_field_name or _unique_name(DOCUMENT_TIMESTAMP_FIELD, signature_fields(writer))
    out = io.BytesIO()
    stamper = PdfTimeStamper(timestamper, field_name=name)
    try:
        run_sync(
            lambda: _releasing(
                stamper.async_update_archival_timestamp_chain(
                    writer.prev, validation_context, output=out, default_md_algorithm=DIGEST_ALGORITHM
                ),
                validation_context,
            )
        )
    except (SigningError, TimestampRequestError, PathValidationError, PathBuildingError) as exc:
        raise _signing_error(exc, name, timestamper) from exc
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("Không thể thêm dấu thời gian lưu trữ.", f"Cannot add an archival timestamp: {exc}") from exc
    return out.getvalue()


# ---------------------------------------------------------------------- helpers


async def _releasing(coro: Awaitable[T], validation_context: ValidationContext | None) -> T:
    """Await ``coro``, then close the HTTP session the validation context opened for OCSP/CRL fetching."""
    try:
        return await coro
    finally:
        if validation_context is not None:
            await validation_context.aclose()  # type: ignore[no-untyped-call]


def _unique_name(prefix: str, existing: Iterable[str]) -> str:
    taken = set(existing)
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def _check_validity_period(cert: asn1_x509.Certificate, now: dt.datetime) -> None:
    subject = subject_text(cert)
    not_after = cert.not_valid_after
    not_before = cert.not_valid_before
    if now > not_after:
        raise InvalidInput(
            f"Chứng thư số của người ký đã hết hạn từ {not_after.isoformat()} ({subject}).",
            f"The signer's certificate expired on {not_after.isoformat()} ({subject}).",
            reason="certificate_expired",
            not_after=not_after.isoformat(),
        )
    if now < not_before:
        raise InvalidInput(
            f"Chứng thư số của người ký chưa có hiệu lực (từ {not_before.isoformat()}; {subject}).",
            f"The signer's certificate is not valid before {not_before.isoformat()} ({subject}).",
            reason="certificate_not_yet_valid",
            not_before=not_before.isoformat(),
        )


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
        # pyHanko sometimes passes the underlying error as a second argument instead of chaining it
    for item in list(chain):
        chain.extend(arg for arg in item.args if isinstance(arg, BaseException) and arg not in chain)
    return chain


# A certificate in the chain that cannot sign: (pyHanko's error, reason, Vietnamese, English), checked in this order.
_CERTIFICATE_PROBLEMS: tuple[tuple[type[Exception], str, str, str], ...] = (
    (
        RevokedError,
        "certificate_revoked",
        "Chứng thư số của người ký (hoặc CA cấp) đã bị thu hồi",
        "The signer's certificate (or an issuing CA) is revoked",
    ),
    (
        ExpiredError,
        "certificate_expired",
        "Chứng thư số trong chuỗi đã hết hạn",
        "A certificate in the signer's chain has expired",
    ),
    (
        NotYetValidError,
        "certificate_not_yet_valid",
        "Chứng thư số trong chuỗi chưa có hiệu lực",
        "A certificate in the signer's chain is not yet valid",
    ),
)


def _signing_error(exc: BaseException, field_name: str, timestamper: TimeStamper | None) -> MotcuaError:
    causes = _causes(exc)
    url = getattr(timestamper, "url", "")
    if any(isinstance(c, TimestampRequestError) for c in causes):
        return Unavailable(
            f"Không kết nối được dịch vụ cấp dấu thời gian (TSA) {url}; chưa ký.",
            f"The time-stamping service (TSA) {url} cannot be reached; nothing was signed.",
            service="tsa",
            url=url,
        )
    for cause in causes:
        for error, reason, text_vi, text_en in _CERTIFICATE_PROBLEMS:
            if isinstance(cause, error):
                return InvalidInput(f"{text_vi}: {cause}", f"{text_en}: {cause}", reason=reason, field=field_name)
    if any(isinstance(c, aiohttp.ClientError | OSError | TimeoutError) for c in causes) or any(
        isinstance(c, InsufficientRevinfoError) for c in causes
    ):
        return Unavailable(
            f"Không lấy được thông tin thu hồi (OCSP/CRL) của chứng thư số; chưa ký: {exc}",
            f"Revocation information (OCSP/CRL) for the certificates could not be obtained; nothing was signed: {exc}",
            service="revocation",
        )
    for cause in causes:
        if isinstance(cause, PathBuildingError):
            if timestamper is not None:  # the TSA's chain is checked too: its root must be configured
                return InvalidInput(
                    "Chứng thư số của người ký hoặc của dịch vụ cấp dấu thời gian (TSA) không thuộc chứng thư gốc tin "
                    "cậy nào (MOTCUA_TRUST_ROOTS phải có cả chứng thư gốc của TSA).",
                    f"The signer's or the TSA's certificate does not chain to a configured trust root (the TSA's root "
                    f"must be among MOTCUA_TRUST_ROOTS): {cause}",
                    reason="certificate_untrusted",
                    field=field_name,
                )
            return InvalidInput(
                "Chứng thư số của người ký không thuộc chứng thư gốc tin cậy nào.",
                f"The signer's certificate does not chain to a configured trust root: {cause}",
                reason="certificate_untrusted",
                field=field_name,
            )
        if isinstance(cause, PathValidationError):
            return InvalidInput(
                f"Chứng thư số của người ký không hợp lệ: {cause}",
                f"The signer's certificate is not valid: {cause}",
                reason="certificate_invalid",
                field=field_name,
            )
    return InvalidInput(
        f"Không thể ký ô '{field_name}': {exc}", f"Cannot sign field '{field_name}': {exc}", field=field_name
    )
