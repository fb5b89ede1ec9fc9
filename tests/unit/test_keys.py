"""Server-side key providers (signing/keys.py): the agency-only rule, the PKCS#12 cache, configuration.

The PKCS#11 provider against a real token is in tests/integration/test_pkcs11.py (SoftHSM2); here it is only
checked up to the point where it would touch a module.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from pathlib import Path

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
from signing.keys import (
    KeyProvider,
    LoadedKeySigner,
    Pkcs11Keys,
    Pkcs12Keys,
    TokenUnavailable,
    bytes_reserved_for,
    issuer_chain,
    load_key_provider,
    server_agency_code,
)
from signing.pki import DevelopmentPki
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


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure(
        [(COMMUNE, "Ủy ban nhân dân xã Demo 1"), (OTHER, "Ủy ban nhân dân xã Demo 2")],
        [(LEADER, "Phạm Văn Hùng", COMMUNE)],
        NOW,
    )
    return pki


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


def test_pkcs12_keys_refuse_person_keys_without_reading_them(pki: DevelopmentPki) -> None:
    keys = Pkcs12Keys(pki)
    assert pki.has_key(f"person:{LEADER}")
    with pytest.raises(Forbidden):
        keys.signer_for(f"person:{LEADER}")
    with pytest.raises(Forbidden):
        keys.chain_for(f"person:{LEADER}")
    with pytest.raises(NotFound):
        keys.signer_for("agency:999.99.99.H99")
    assert keys.loads == 0


# ---------------------------------------------------------------------- PKCS#12 keys


def test_pkcs12_keys_sign_and_cache(pki: DevelopmentPki) -> None:
    keys = Pkcs12Keys(pki)
    assert isinstance(keys, KeyProvider)
    key_id = f"agency:{COMMUNE}"
    signer = keys.signer_for(key_id)
    assert keys.signer_for(key_id) is signer
    assert keys.chain_for(key_id) == pki.chain_for(key_id)
    assert keys.loads == 1

    signed = _sign(_pdf(), signer)
    other = f"agency:{OTHER}"
    cosigned = _sign(signed, keys.signer_for(other), field="Seal2", reserved=bytes_reserved_for(keys.chain_for(other)))
    report = PadesValidator(pki.trust_roots()).validate(cosigned)
    assert report.indication == "TOTAL-PASSED", report
    assert [check.field_name for check in report.signatures] == ["Seal", "Seal2"]
    assert keys.loads == 2


def test_pkcs12_keys_load_each_key_once_across_threads(pki: DevelopmentPki) -> None:
    keys = Pkcs12Keys(pki)
    barrier = threading.Barrier(8)
    got: list[signers.Signer] = []

    def work() -> None:
        barrier.wait(timeout=30)
        got.append(keys.signer_for(f"agency:{COMMUNE}"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(got) == 8
    assert len({id(signer) for signer in got}) == 1
    assert keys.loads == 1


def test_pkcs12_keys_reload_a_reissued_key(tmp_path: Path) -> None:
    pki = DevelopmentPki(tmp_path / "pki")
    pki.ensure([(COMMUNE, "Ủy ban nhân dân xã Demo 1")], [], NOW)
    keys = Pkcs12Keys(pki)
    key_id = f"agency:{COMMUNE}"
    before = keys.chain_for(key_id)[0]
    pki.issue(key_id, "Ủy ban nhân dân xã Demo 1", not_before=NOW, not_after=NOW + dt.timedelta(days=30), replace=True)
    after = keys.chain_for(key_id)[0]
    assert after.serial_number != before.serial_number
    assert keys.loads == 2
    signed = _sign(_pdf(), keys.signer_for(key_id))
    assert PadesValidator(pki.trust_roots()).validate(signed).indication == "TOTAL-PASSED"
    keys.forget()
    keys.signer_for(key_id)
    assert keys.loads == 3


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


def test_issuer_chain_orders_issuers(pki: DevelopmentPki) -> None:
    leaf, agency_ca, root = pki.chain_for(f"agency:{COMMUNE}")
    other = pki.certificate(f"agency:{OTHER}")
    assert issuer_chain(leaf, [root, other, leaf, agency_ca]) == [agency_ca, root]
    assert issuer_chain(leaf, [root]) == []


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


def test_pkcs11_module_that_cannot_be_loaded_is_unavailable() -> None:
    pytest.importorskip("pkcs11")
    with (
        Pkcs11Keys("/nonexistent/libpkcs11.so", "motcua", "1234", LABELS) as keys,
        pytest.raises(TokenUnavailable) as raised,
    ):
        keys.signer_for(f"agency:{COMMUNE}")
    assert "/nonexistent/libpkcs11.so" in raised.value.message_en
    assert raised.value.kind == "unavailable"


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


# ---------------------------------------------------------------------- choosing a provider

FULL = {
    "MOTCUA_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
    "MOTCUA_PKCS11_TOKEN": "motcua",
    "MOTCUA_PKCS11_PIN": "1234",
    "MOTCUA_PKCS11_KEYS": '{"000.00.31.H99": "seal"}',
}


def test_load_key_provider_defaults_to_the_pkcs12_files(pki: DevelopmentPki) -> None:
    assert isinstance(load_key_provider({}, pki=pki), Pkcs12Keys)
    assert isinstance(load_key_provider({name: "" for name in FULL}, pki=pki), Pkcs12Keys)  # empty = unset
    with pytest.raises(InvalidInput):
        load_key_provider({})


def test_load_key_provider_picks_pkcs11(pki: DevelopmentPki) -> None:
    provider = load_key_provider(FULL, pki=pki)
    assert isinstance(provider, Pkcs11Keys)
    assert provider.key_labels == {COMMUNE: "seal"}
    assert provider.token_label == "motcua"
    explicit = load_key_provider(FULL, token="other", keys={OTHER: "seal-2"})
    assert isinstance(explicit, Pkcs11Keys)
    assert (explicit.token_label, explicit.key_labels) == ("other", {OTHER: "seal-2"})


def test_load_key_provider_refuses_a_partial_pkcs11_configuration(pki: DevelopmentPki) -> None:
    partial = {"MOTCUA_PKCS11_MODULE": FULL["MOTCUA_PKCS11_MODULE"]}
    with pytest.raises(InvalidInput) as raised:
        load_key_provider(partial, pki=pki)
    assert raised.value.details["missing"] == ["MOTCUA_PKCS11_TOKEN", "MOTCUA_PKCS11_PIN", "MOTCUA_PKCS11_KEYS"]
    for keys in ("{not json", '["seal"]', '{"000.00.31.H99": ""}'):
        with pytest.raises(InvalidInput):
            load_key_provider({**FULL, "MOTCUA_PKCS11_KEYS": keys}, pki=pki)
