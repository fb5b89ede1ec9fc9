"""Detached CMS (CAdES) signatures over arbitrary bytes: exchange manifests, acknowledgments and audit checkpoints.

A PDF carries its signatures inside; an envelope manifest or an audit checkpoint is plain bytes, so the agency
signs it with a *detached* CMS ``SignedData`` (CAdES-B, the signer's certificate included; with a TSA, CAdES-T:
an RFC 3161 signature timestamp over the signature value, which proves the statement existed at that time
even for someone who later holds the key). :func:`verify_detached` checks the signature, the certificate chain
against the given roots at the signing time, the timestamp when present, and returns who signed — the caller
decides whether that signer may say what it signed (a partner agency, the agency's own seal).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from cryptography import x509
from pyhanko.sign import signers
from pyhanko.sign.validation import generic_cms
from pyhanko_certvalidator import ValidationContext

from signing._async import run_sync
from signing.certs import common_name, to_asn1, to_crypto
from signing.ltv import timestamper_for


class CmsInvalid(ValueError):
    """The bytes are not a detached CMS signature we can read, or it does not hold."""


@dataclass(frozen=True)
class CmsReport:
    """What a valid detached signature says: who signed (certificate), when (the signing-time attribute, and the
    TSA's time when timestamped), and the signer certificate's chain as embedded."""

    signer_subject: str
    signer_common_name: str
    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime | None
    timestamp_time: dt.datetime | None
    timestamp_valid: bool


def agency_code_of(cert: x509.Certificate) -> str | None:
    """The unit code an agency seal's certificate names (subject serialNumber, as the development PKI issues
    them): who may sign for an agency is decided on it when no certificate is pinned."""
    found = cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    return str(found[0].value) if found else None


def sign_detached(data: bytes, signer: signers.Signer, *, timestamper_url: str | None = None) -> bytes:
    """DER of a CMS ``ContentInfo`` signing ``data`` (detached, SHA-256, CAdES signed attributes)."""
    stamper = timestamper_for(timestamper_url) if timestamper_url else None

    async def sign() -> cms.ContentInfo:
        return await signer.async_sign_general_data(data, "sha256", detached=True, use_cades=True, timestamper=stamper)

    return bytes(run_sync(sign).dump())


def verify_detached(
    data: bytes,
    signature: bytes,
    trust_roots: list[x509.Certificate],
    *,
    at: dt.datetime | None = None,
    crls: list[bytes] | None = None,
) -> CmsReport:
    """Check ``signature`` over ``data``; :class:`CmsInvalid` with the reason when it does not hold.

    ``at`` is the time the chain must be valid at (default: the timestamp's time, else the signing time, else
    now): an expired certificate fails unless a timestamp shows the signature was made while it was valid."""
    try:
        info = cms.ContentInfo.load(signature)
        signed_data = info["content"]
        if info["content_type"].native != "signed_data":
            raise CmsInvalid("not a CMS SignedData")
        signed_data.native  # noqa: B018 - parse eagerly so a malformed structure fails here
    except CmsInvalid:
        raise
    except Exception as exc:  # asn1crypto raises ValueError/TypeError/KeyError on malformed DER
        raise CmsInvalid(f"not a readable CMS signature ({type(exc).__name__})") from exc

    roots = [to_asn1(c) for c in trust_roots]

    def context(moment: dt.datetime | None) -> ValidationContext:
        return ValidationContext(
            trust_roots=roots,
            allow_fetching=False,
            revocation_mode="soft-fail",
            crls=list(crls or []),
            moment=moment,
            best_signature_time=moment,
        )

    # first pass without a chain requirement on time: learn the signing and timestamp times
    async def check(moment: dt.datetime | None) -> Any:
        return await generic_cms.async_validate_detached_cms(
            data, signed_data, signer_validation_context=context(moment), ts_validation_context=context(None)
        )

    try:
        status = run_sync(lambda: check(at))
    except Exception as exc:
        raise CmsInvalid(f"the signature could not be validated ({type(exc).__name__}: {exc})") from exc
    ts = status.timestamp_validity
    ts_time = ts.timestamp if ts is not None else None
    ts_ok = bool(ts is not None and ts.intact and ts.valid and ts.trusted)
    if at is None and ts_ok and ts_time is not None:
        try:
            status = run_sync(lambda: check(ts_time))
        except Exception as exc:
            raise CmsInvalid(f"the signature could not be validated ({type(exc).__name__}: {exc})") from exc
    if not status.intact:
        raise CmsInvalid("the signed bytes were changed after signing (digest mismatch)")
    if not status.valid:
        raise CmsInvalid("the signature value does not verify with the signer's certificate")
    if not status.trusted:
        reason = str(getattr(status, "trust_problem_indic", "") or "")
        if "NO_CERTIFICATE_CHAIN_FOUND" in reason:
            raise CmsInvalid("the signer's certificate was not issued by a trusted authority (unknown issuer)")
        if "OUT_OF_BOUNDS" in reason or "EXPIRED" in reason or "NOT_YET_VALID" in reason:
            raise CmsInvalid("the signer's certificate was expired or not yet valid at the signing time")
        if "REVOKED" in reason:
            raise CmsInvalid("the signer's certificate is revoked")
        raise CmsInvalid(f"the signer's certificate is not trusted ({reason or 'unknown reason'})")
    try:
        cert = to_crypto(status.signing_cert)
        certs = tuple(to_crypto(c.chosen) for c in signed_data["certificates"] if c.name == "certificate")
    except ValueError as exc:  # a malformed certificate embedded next to the signer's
        raise CmsInvalid(f"the signature carries a malformed certificate ({exc})") from exc
    return CmsReport(
        signer_subject=cert.subject.rfc4514_string(),
        signer_common_name=common_name(cert),
        signer_certificate=cert,
        certificates=certs,
        signing_time=status.signer_reported_dt,
        timestamp_time=ts_time,
        timestamp_valid=ts_ok,
    )
