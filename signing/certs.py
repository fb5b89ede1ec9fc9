"""Certificates, one way each: ``cryptography`` ↔ ``asn1crypto`` (pyHanko works with the latter), DER and PEM,
names, issuer chains, and the checks a signer's certificate must pass before anything is signed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TypeAlias

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from dossiers.errors import InvalidInput

TrustRoot: TypeAlias = x509.Certificate | asn1_x509.Certificate | bytes

_ATTRIBUTE_NAMES = {NameOID.SERIAL_NUMBER: "serialNumber"}


# ---------------------------------------------------------------------- conversions


def to_asn1(cert: TrustRoot) -> asn1_x509.Certificate:
    """The ``asn1crypto`` certificate pyHanko works with, from a ``cryptography`` or ``asn1crypto`` certificate or
    from PEM/DER bytes."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, bytes):
        if not cert.lstrip().startswith(b"-----BEGIN"):
            return asn1_x509.Certificate.load(cert)
        cert = x509.load_pem_x509_certificate(cert)
    return asn1_x509.Certificate.load(der(cert))


def to_crypto(cert: asn1_x509.Certificate | bytes) -> x509.Certificate:
    """The ``cryptography`` certificate of an ``asn1crypto`` one (or of DER bytes); :class:`ValueError` when it is
    malformed."""
    return x509.load_der_x509_certificate(cert if isinstance(cert, bytes) else cert.dump())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def load_certificate(data: asn1_x509.Certificate | bytes) -> x509.Certificate:
    """:func:`to_crypto` for a certificate that came with a request: :class:`InvalidInput` when it is malformed."""
    try:
        return to_crypto(data)
    except ValueError as exc:
        raise InvalidInput("Chứng thư số không đọc được.", f"The certificate cannot be read: {exc}") from exc


# ---------------------------------------------------------------------- names


def subject_of(cert: x509.Certificate) -> str:
    """The subject as an RFC 4514 string that keeps Vietnamese letters: ``CN=Phạm Văn Hùng,UID=…,O=…,C=VN``."""
    return cert.subject.rfc4514_string(_ATTRIBUTE_NAMES)


def subject_text(cert: asn1_x509.Certificate) -> str:
    """:func:`subject_of` an ``asn1crypto`` certificate (pyHanko's), also when ``cryptography`` cannot read it."""
    try:
        return subject_of(to_crypto(cert))
    except ValueError:
        return str(cert.subject.human_friendly)


def common_name(cert: x509.Certificate, fallback: str = "") -> str:
    """The subject's common name, or ``fallback`` when it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else fallback


# ---------------------------------------------------------------------- chains


def issuer_chain(leaf: x509.Certificate, candidates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """The issuers of ``leaf`` found among ``candidates``, nearest first, up to a self-signed root."""
    pool = [cert for cert in candidates if cert != leaf]
    chain: list[x509.Certificate] = []
    current = leaf
    while current.issuer != current.subject and len(chain) < 8:
        issuer = next((cert for cert in pool if cert not in chain and _issued_by(current, cert)), None)
        if issuer is None:
            break
        chain.append(issuer)
        current = issuer
    return chain


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# ---------------------------------------------------------------------- a signer's certificate


def check_key_type(cert: x509.Certificate) -> None:
    """:class:`InvalidInput` unless the certificate's key is RSA or ECDSA (what a signer's device signs with)."""
    if not isinstance(cert.public_key(), rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise InvalidInput(
            "Chỉ hỗ trợ chứng thư số có khóa RSA hoặc ECDSA.",
            "Only certificates with RSA or ECDSA keys are supported.",
        )


def check_validity(cert: x509.Certificate, now: dt.datetime | None) -> None:
    """:class:`InvalidInput` when the signer's certificate is not valid at ``now`` (default: the current time)."""
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        raise InvalidInput("Thời điểm phải có múi giờ.", "The time must be timezone-aware.")
    subject = cert.subject.rfc4514_string()
    if now < cert.not_valid_before_utc:
        raise InvalidInput(
            f"Chứng thư số của người ký chưa có hiệu lực (từ {cert.not_valid_before_utc.isoformat()}).",
            f"The signer's certificate is not valid yet (valid from {cert.not_valid_before_utc.isoformat()}).",
            subject=subject,
            reason="certificate_not_yet_valid",
        )
    if now > cert.not_valid_after_utc:
        raise InvalidInput(
            f"Chứng thư số của người ký đã hết hạn (ngày {cert.not_valid_after_utc.isoformat()}).",
            f"The signer's certificate has expired (on {cert.not_valid_after_utc.isoformat()}).",
            subject=subject,
            reason="certificate_expired",
        )
