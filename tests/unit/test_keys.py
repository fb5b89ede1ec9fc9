"""Server-side key providers (signing.api, signing.keys): the agency-only rule, the in-memory signer, PKCS#11 settings.

The PKCS#12 cache over a development PKI on disk and choosing a provider are in tests/integration/test_keys.py, the
PKCS#11 provider against a real token in tests/integration/test_pkcs11.py (SoftHSM2); here it is only checked up to
the point where it would touch a module.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from dossiers.errors import Forbidden, InvalidInput, NotFound
from signing.api import server_agency_code
from signing.keys.pkcs11 import Pkcs11Keys
from signing.keys.pkcs12 import LoadedKeySigner
from signing.pdf import bytes_reserved_for
from signing.validate import PadesValidator

COMMUNE = "000.00.31.H99"
OTHER = "000.00.32.H99"
LEADER = "lanhdao.xa1"
NOW = dt.datetime.now(dt.UTC)


def _pdf() -> bytes:
    writer = PdfFileWriter(stream_xrefs=False)
    content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (keys) Tj ET"))
    writer.insert_page(PageObject(contents=content, media_box=[0, 0, 595, 842]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _sign(pdf: bytes, signer: signers.Signer, field: str = "Seal", reserved: int | None = None) -> bytes:
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out, bytes_reserved=reserved
    )
    return out.getvalue()


# ---------------------------------------------------------------------- the agency-only rule


def test_only_agency_keys_are_server_keys() -> None:
    assert server_agency_code(f"agency:{COMMUNE}") == COMMUNE
    with pytest.raises(Forbidden) as raised:
        server_agency_code(f"person:{LEADER}")
    assert "a person's key never enters the server" in raised.value.message_en
    assert "personal signatures are made on the signer's device" in raised.value.message_en
    assert "khóa của cá nhân không bao giờ được đưa lên máy chủ" in raised.value.message_vi
    for bad in ("", "agency:", "agency:../x", "root", "person"):
        with pytest.raises(NotFound):
            server_agency_code(bad)


# ---------------------------------------------------------------------- the in-memory signer


def _self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Motcua key test")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(minutes=5))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


class CountingSigner(LoadedKeySigner):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.raw_signatures: list[int] = []

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        signature = super().sign_raw(data, digest_algorithm)
        self.raw_signatures.append(len(signature))
        return signature


@pytest.mark.parametrize(
    ("make_key", "prefer_pss"),
    [
        (lambda: rsa.generate_private_key(65537, 2048), False),
        (lambda: rsa.generate_private_key(65537, 2048), True),
        (lambda: rsa.generate_private_key(65537, 4096), False),
        (lambda: ec.generate_private_key(ec.SECP256R1()), False),
        (lambda: ec.generate_private_key(ec.SECP521R1()), False),
    ],
    ids=["rsa2048", "rsa2048-pss", "rsa4096", "p256", "p521"],
)
def test_loaded_key_signer_signs_once_per_document(make_key: object, prefer_pss: bool) -> None:
    key = make_key()  # type: ignore[operator]
    cert = _self_signed(key)
    signer = CountingSigner(key, cert, prefer_pss=prefer_pss)
    signed = _sign(_pdf(), signer)
    assert len(signer.raw_signatures) == 1  # the dry run did not sign
    reserved = _sign(signed, signer, field="Seal2", reserved=bytes_reserved_for([cert]))
    assert len(signer.raw_signatures) == 2
    report = PadesValidator([cert]).validate(reserved)
    assert [(check.intact, check.valid) for check in report.signatures] == [(True, True)] * 2, report


def test_loaded_key_signer_refuses_a_key_that_does_not_match() -> None:
    cert = _self_signed(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(InvalidInput):
        LoadedKeySigner(ec.generate_private_key(ec.SECP256R1()), cert)


# ---------------------------------------------------------------------- PKCS#11 up to the module

LABELS = {COMMUNE: "seal"}


def test_pkcs11_keys_refuse_before_touching_the_module() -> None:
    keys = Pkcs11Keys("/nonexistent/libpkcs11.so", "motcua", "secret-pin", LABELS)
    with pytest.raises(Forbidden):
        keys.signer_for(f"person:{LEADER}")
    with pytest.raises(NotFound) as raised:
        keys.signer_for(f"agency:{OTHER}")
    assert "MOTCUA_PKCS11_KEYS" in raised.value.message_en
    assert "secret-pin" not in repr(keys)
    assert keys.sessions_opened == 0


@pytest.mark.parametrize(
    "labels",
    [{}, {"bad code!": "seal"}, {COMMUNE: ""}, {COMMUNE: 3}, ["seal"]],
    ids=["empty", "bad-code", "empty-label", "not-text", "not-a-mapping"],
)
def test_pkcs11_key_labels_are_checked(labels: object) -> None:
    with pytest.raises(InvalidInput):
        Pkcs11Keys("/usr/lib/softhsm/libsofthsm2.so", "motcua", "1234", labels)  # type: ignore[arg-type]


def test_pkcs11_needs_module_token_and_pin() -> None:
    with pytest.raises(InvalidInput) as raised:
        Pkcs11Keys("", "motcua", "", LABELS)
    assert raised.value.details["missing"] == ["MOTCUA_PKCS11_MODULE", "MOTCUA_PKCS11_PIN"]
