"""Two-step personal signatures (signing/two_step.py, signing/device.py) with a device whose key and chain live in
memory; with the development PKI on disk, the server restart and the bad inputs: tests/integration/test_two_step.py."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from dossiers.ports import SignatureRequest
from signing import PadesValidator
from signing.device import DeviceClient
from signing.two_step import finish, prepare
from tests.unit.test_signing import sample_pdf

LEADER = "lanhdao.xa1"
NOW = dt.datetime.now(dt.UTC)

LEADER_SIGNS = SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt", "Xã Demo 1")


def test_rsa_device() -> None:
    root_key, root, leaf_key, leaf = rsa_chain(NOW)
    p12 = pkcs12.serialize_key_and_certificates(
        b"rsa", leaf_key, leaf, [root], serialization.BestAvailableEncryption(b"pin-1234")
    )
    device = DeviceClient(p12, "pin-1234")
    assert device.certificate_chain() == [leaf, root]
    prepared = prepare(sample_pdf(), device.certificate_chain(), LEADER_SIGNS)
    assert prepared.signature_mechanism == "sha256_rsa"
    assert device.sign(prepared.data_to_sign) == device.sign_digest(prepared.digest_to_sign)  # PKCS#1 v1.5
    signed = finish(prepared, device.sign(prepared.data_to_sign))
    assert PadesValidator([root]).validate(signed).indication == "TOTAL-PASSED"


# ---------------------------------------------------------------------- helpers


def rsa_chain(now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate, rsa.RSAPrivateKey, x509.Certificate]:
    """A throw-away RSA root and signer (the development PKI is ECDSA only)."""

    def name(common: str) -> x509.Name:
        return x509.Name(
            [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"), x509.NameAttribute(NameOID.COMMON_NAME, common)]
        )

    def build(subject: str, issuer: str, key: rsa.RSAPrivateKey, signing_key: rsa.RSAPrivateKey, ca: bool):  # type: ignore[no-untyped-def]
        usage = x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=not ca,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(signing_key, hashes.SHA256())
        )

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = build("RSA Test Root", "RSA Test Root", root_key, root_key, True)
    leaf = build("Lê Văn RSA", "RSA Test Root", leaf_key, root_key, False)
    return root_key, root, leaf_key, leaf
