"""Agency seals from the development PKI's encrypted PKCS#12 files (:class:`~signing.pki.DevelopmentPki`).

:class:`Pkcs12Keys` decrypts each key once (PBKDF2, the largest cost of a signature when done per document),
parses it and keeps it in memory (thread-safe cache, reloaded when the file changes). Signing goes through
:class:`LoadedKeySigner`, which keeps the parsed ``cryptography`` key: pyHanko's ``SimpleSigner`` re-parses the DER
private key for every raw signature (for RSA that includes the key's consistency check, ≈ 30 ms) and signs twice
per document, because its size-estimating dry run signs for real.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from pyhanko.sign import signers
from pyhanko.sign.general import SigningError
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from dossiers.errors import InvalidInput
from signing.api import PrivateKey, server_agency_code
from signing.certs import to_asn1
from signing.pki import DevelopmentPki, open_pkcs12


class LoadedKeySigner(signers.Signer):
    """A pyHanko :class:`~pyhanko.sign.signers.Signer` over an already parsed ``cryptography`` private key.

    Unlike ``SimpleSigner`` it never re-parses the key, and its dry run (pyHanko's size estimate before the
    real signature) returns placeholder bytes of the largest possible size instead of signing. Immutable after
    construction, so one instance can serve concurrent signatures."""

    def __init__(
        self,
        private_key: PrivateKey,
        certificate: x509.Certificate,
        issuers: Iterable[x509.Certificate] = (),
        *,
        prefer_pss: bool = False,
        embed_roots: bool = True,
    ) -> None:
        if not isinstance(private_key, PrivateKey):
            raise InvalidInput(
                "Loại khóa ký không được hỗ trợ.", f"Unsupported signing key type {type(private_key).__name__}."
            )
        if _public_der(private_key.public_key()) != _public_der(certificate.public_key()):
            raise InvalidInput(
                "Khóa bí mật không khớp với chứng thư số.", "The private key does not match the certificate."
            )
        registry = SimpleCertificateStore()
        registry.register_multiple([to_asn1(cert) for cert in issuers])
        super().__init__(
            prefer_pss=prefer_pss,
            embed_roots=embed_roots,
            signing_cert=to_asn1(certificate),
            cert_registry=registry,
        )
        self._key = private_key
        self._max_size = _max_signature_size(private_key)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._max_size)
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        algorithm = mechanism.signature_algo
        key = self._key
        if algorithm == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algorithm == "rsassa_pss" and isinstance(key, rsa.RSAPrivateKey):
            pss, hash_algorithm = process_pss_params(mechanism["parameters"])
            return key.sign(data, pss, hash_algorithm)
        if algorithm == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if algorithm in ("ed25519", "ed448") and isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
            return key.sign(data)
        raise SigningError(f"Signature mechanism {algorithm} does not fit a {type(key).__name__}.")


def _public_der(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _max_signature_size(key: PrivateKey) -> int:
    """An upper bound of the encoded raw signature, used for pyHanko's dry run."""
    if isinstance(key, rsa.RSAPrivateKey):
        return (key.key_size + 7) // 8
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # DER SEQUENCE { INTEGER r, INTEGER s }: each integer at most the order's length plus a sign byte,
        # with up to 3 bytes of tag and length; the sequence header at most 4 bytes.
        return 2 * ((key.curve.key_size + 7) // 8 + 1 + 3) + 4
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return 64
    return 114  # Ed448


@dataclass(frozen=True)
class _Loaded:
    signer: LoadedKeySigner
    chain: tuple[x509.Certificate, ...]  # leaf first
    stamp: tuple[int, int, int]  # (inode, size, mtime_ns) of the PKCS#12 file it came from


class Pkcs12Keys:
    """:class:`~signing.api.KeyProvider` over a :class:`~signing.pki.DevelopmentPki`: agency seals from PKCS#12 files.

    Each key is decrypted once and cached; a file replaced on disk (a re-issued certificate) is loaded again."""

    def __init__(self, pki: DevelopmentPki, *, prefer_pss: bool = False) -> None:
        self.pki = pki
        self.prefer_pss = prefer_pss
        self._cache: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a key was decrypted (tests and the benchmark read it)

    def signer_for(self, key_id: str) -> signers.Signer:
        return self._get(key_id).signer

    def chain_for(self, key_id: str) -> list[x509.Certificate]:
        return list(self._get(key_id).chain)

    def close(self) -> None:
        """Drop every decrypted key from memory (as :meth:`signing.keys.pkcs11.Pkcs11Keys.close` closes its session)."""
        self.forget()

    def forget(self, key_id: str | None = None) -> None:
        """Drop one cached key (or all of them)."""
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    def _stamp(self, key_id: str) -> tuple[int, int, int] | None:
        try:
            info = self.pki.pkcs12_path(key_id).stat()
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _get(self, key_id: str) -> _Loaded:
        server_agency_code(key_id)
        stamp = self._stamp(key_id)
        cached = self._cache.get(key_id)  # a dict read is atomic; the lock only serialises loading
        if cached is not None and cached.stamp == stamp:
            return cached
        with self._lock:
            cached = self._cache.get(key_id)
            if cached is not None and cached.stamp == stamp:
                return cached
            self._cache.pop(key_id, None)
            loaded = self._load(key_id, stamp)
            self._cache[key_id] = loaded
            return loaded

    def _load(self, key_id: str, stamp: tuple[int, int, int] | None) -> _Loaded:
        material = self.pki.key_material(key_id)  # NotFound / InvalidInput with a clear message
        key, _, _ = open_pkcs12(material.pkcs12_data, material.passphrase, key_id)
        if not isinstance(key, PrivateKey):
            raise InvalidInput(
                f"Tệp khóa '{key_id}' không chứa khóa bí mật dùng được.",
                f"Key file '{key_id}' holds no usable private key.",
                key_id=key_id,
            )
        signer = LoadedKeySigner(key, material.certificate, material.chain, prefer_pss=self.prefer_pss)
        self.loads += 1
        # a file that appeared between the stat and the read is stamped now (a later change still reloads it)
        final_stamp = stamp or self._stamp(key_id) or (0, 0, 0)
        return _Loaded(signer, (material.certificate, *material.chain), final_stamp)
