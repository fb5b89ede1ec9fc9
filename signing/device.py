"""The signer's side of two-step signing: a small client on the official's PC that holds the only copy of the key.

The server never sees this key (DESIGN §7). It sends the device the bytes to sign — the DER-encoded CMS signed
attributes from :func:`signing.two_step.prepare` (``PreparedSignature.data_to_sign``) — and gets back the raw
signature value, which :func:`signing.two_step.finish` checks and embeds. A USB token or smart card that can only
sign a precomputed hash gets ``PreparedSignature.digest_to_sign`` instead; :meth:`DeviceClient.sign_digest` shows
that variant. Both give the same signature value.

Signature values: ECDSA keys give a DER ``ECDSA-Sig-Value`` (what CMS wants); RSA keys give RSASSA-PKCS1-v1_5.
This module depends only on ``cryptography`` (and the error types), so it can ship on its own.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs12

from dossiers.errors import InvalidInput

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """``"sha256"`` → ``hashes.SHA256()``; :class:`InvalidInput` for a digest the project does not sign with."""
    try:
        return HASHES[name.lower()]()
    except (KeyError, AttributeError):
        raise InvalidInput(
            f"Thuật toán băm '{name}' không được hỗ trợ (dùng sha256, sha384 hoặc sha512).",
            f"Digest algorithm '{name}' is not supported (use sha256, sha384 or sha512).",
            algorithm=str(name),
        ) from None


class DeviceClient:
    """Signs with a key from a PKCS#12 file that only this client can open.

    ``passphrase`` opens the file; a wrong one (or a damaged file) raises :class:`InvalidInput` that says so.
    Only RSA and ECDSA keys are supported.
    """

    def __init__(self, pkcs12_bytes: bytes, passphrase: str | bytes) -> None:
        secret = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(pkcs12_bytes, secret)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(
                "Không mở được tệp khóa của thiết bị ký: sai mật khẩu (passphrase) hoặc tệp hỏng.",
                "Could not open the signing device's key file: wrong passphrase or damaged file.",
                reason="wrong_passphrase",
            ) from exc
        if key is None or cert is None:
            raise InvalidInput(
                "Tệp khóa của thiết bị ký không chứa khóa bí mật và chứng thư số.",
                "The signing device's key file does not hold both a private key and a certificate.",
            )
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise InvalidInput(
                "Thiết bị ký chỉ hỗ trợ khóa RSA hoặc ECDSA.",
                f"The signing device supports RSA and ECDSA keys only, not {type(key).__name__}.",
            )
        self._key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = key
        self._chain = _order_chain(cert, list(extra))

    def certificate_chain(self) -> list[x509.Certificate]:
        """The signer's certificate first, then its issuers as far as the file has them (nearest first)."""
        return list(self._chain)

    @property
    def certificate(self) -> x509.Certificate:
        return self._chain[0]

    def sign(self, data_to_sign: bytes, algorithm: str = "sha256") -> bytes:
        """The raw signature value over ``data_to_sign`` (hashed here with ``algorithm``)."""
        digest = hash_algorithm(algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data_to_sign, ec.ECDSA(digest))
        return self._key.sign(data_to_sign, padding.PKCS1v15(), digest)

    def sign_digest(self, digest_to_sign: bytes, algorithm: str = "sha256") -> bytes:
        """The same signature value, for a device that receives the precomputed hash of the data to sign."""
        digest = hash_algorithm(algorithm)
        if len(digest_to_sign) != digest.digest_size:
            raise InvalidInput(
                f"Bản tóm lược phải dài {digest.digest_size} byte cho {algorithm}.",
                f"The digest must be {digest.digest_size} bytes long for {algorithm}.",
                length=len(digest_to_sign),
            )
        prehashed = Prehashed(digest)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(digest_to_sign, ec.ECDSA(prehashed))
        return self._key.sign(digest_to_sign, padding.PKCS1v15(), prehashed)


def _order_chain(leaf: x509.Certificate, others: list[x509.Certificate]) -> list[x509.Certificate]:
    """``leaf`` followed by its issuers in order (by name), then any certificates that fit nowhere."""
    chain = [leaf]
    remaining = list(others)
    while remaining:
        current = chain[-1]
        if current.issuer == current.subject:
            break
        issuer = next((cert for cert in remaining if cert.subject == current.issuer), None)
        if issuer is None:
            break
        chain.append(issuer)
        remaining.remove(issuer)
    return chain + remaining
