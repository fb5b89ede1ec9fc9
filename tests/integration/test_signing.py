"""PAdES signing and validation (signing/): a development PKI in tmp_path, real pyHanko signatures."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data

from dossiers.errors import InvalidInput, NotFound
from dossiers.ports import SignatureRequest
from signing import DevelopmentPki, PadesSigner, PadesValidator, create_signature_fields, format_report, report_to_dict
from signing.ltv import sign_pades
from signing.pdf import ascii_fold
from tests.conftest import DeviceKeys
from tests.unit.test_signing import sample_pdf

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER = "lanhdao.xa1"
LEADER_NAME = "Phạm Văn Hùng"
CLERK = "vanthu.xa1"
NOW = dt.datetime.now(dt.UTC)

AGENCIES = [(COMMUNE, COMMUNE_NAME), ("000.00.32.H99", "Ủy ban nhân dân xã Demo 2")]
OFFICIALS = [(LEADER, LEADER_NAME, COMMUNE), (CLERK, "Hoàng Thị Mai", COMMUNE)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure(AGENCIES, OFFICIALS, NOW)
    return pki


@pytest.fixture(scope="module")
def signer(pki: DevelopmentPki) -> PadesSigner:
    return PadesSigner(pki, keys=DeviceKeys(pki))  # person keys too: these tests sign in one call


def test_the_server_signer_refuses_a_persons_key(pki: DevelopmentPki) -> None:
    from dossiers.errors import Forbidden

    with pytest.raises(Forbidden, match="a person's key never enters the server"):
        PadesSigner(pki).sign(sample_pdf(), SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt"))
    # the agency seal does sign on the server
    pdf = PadesSigner(pki).sign(sample_pdf(), SignatureRequest(f"agency:{COMMUNE}", "Seal", "Đóng dấu"))
    assert PadesValidator(pki.trust_roots()).validate(pdf).passed


@pytest.fixture(scope="module")
def validator(pki: DevelopmentPki) -> PadesValidator:
    return PadesValidator(pki.trust_roots())


@pytest.fixture(scope="module")
def decree30_pdf(signer: PadesSigner) -> bytes:
    """Decree 30 order: fields first, the leader certifies (P=2), then the agency seal."""
    pdf = create_signature_fields(sample_pdf(), ["LanhDao", "ConDau"])
    pdf = signer.sign(pdf, SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt", "Xã Demo 1", certify=True))
    return signer.sign(pdf, SignatureRequest(f"agency:{COMMUNE}", "ConDau", "Đóng dấu cơ quan"))


# ---------------------------------------------------------------------- PKI


def test_pki_layout_subjects_and_validity(pki: DevelopmentPki) -> None:
    root = pki.root_dir
    assert (root / "ca" / "root.pem").exists() and (root / "ca" / "agency-ca.pem").exists()
    # each leaf: its encrypted key file and its published (public) certificate
    assert {p.name for p in (root / "agency").iterdir()} == {
        f"{code}.{ext}" for code, _ in AGENCIES for ext in ("p12", "pem")
    }
    assert {p.name for p in (root / "person").iterdir()} == {
        f"{user}.{ext}" for user, _, _ in OFFICIALS for ext in ("p12", "pem")
    }
    for user, _, _ in OFFICIALS:
        public = pki.public_chain(f"person:{user}")
        assert public[0] == pki.certificate(f"person:{user}")
        assert [c.subject for c in public[1:]] == [c.subject for c in pki.chain_for(f"person:{user}")[1:]]
        assert b"PRIVATE KEY" not in (root / "person" / f"{user}.pem").read_bytes()
    assert pki.key_ids() == [f"agency:{code}" for code, _ in AGENCIES] + [f"person:{LEADER}", f"person:{CLERK}"]

    agency, agency_ca, root_cert = pki.chain_for(f"agency:{COMMUNE}")
    assert agency.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == COMMUNE_NAME
    assert agency.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == COMMUNE_NAME
    assert agency.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == COMMUNE
    assert agency_ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Motcua Development Agency CA"
    assert root_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Motcua Development Root CA"
    assert pki.trust_roots() == [root_cert]
    agency.verify_directly_issued_by(agency_ca)
    agency_ca.verify_directly_issued_by(root_cert)

    person = pki.certificate(f"person:{LEADER}")
    assert person.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == LEADER_NAME
    assert person.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == LEADER
    assert person.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == COMMUNE_NAME

    for leaf in (agency, person):
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.EMAIL_PROTECTION in list(eku)
        lifetime = leaf.not_valid_after_utc - NOW
        assert dt.timedelta(days=5 * 365 - 1) < lifetime <= dt.timedelta(days=5 * 365)
    assert root_cert.not_valid_after_utc - NOW > dt.timedelta(days=20 * 365 - 1)
    assert agency_ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_private_keys_are_encrypted_and_private(pki: DevelopmentPki) -> None:
    p12_files = sorted(pki.root_dir.rglob("*.p12"))
    assert len(p12_files) == 2 + len(AGENCIES) + len(OFFICIALS)  # root and agency CA keys too
    for path in p12_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        data = path.read_bytes()
        for wrong in (None, b"wrong passphrase"):
            with pytest.raises(ValueError):
                pkcs12.load_key_and_certificates(data, wrong)
        assert b"PRIVATE KEY" not in data
    assert not list(pki.root_dir.rglob("*key*.pem"))
    with pytest.raises(InvalidInput):
        DevelopmentPki(pki.root_dir, passphrase="wrong passphrase").key_material(f"person:{LEADER}")


def test_ensure_is_idempotent_and_only_adds_what_is_missing(tmp_path: Path) -> None:
    pki = DevelopmentPki(tmp_path / "pki", passphrase="another secret")
    pki.ensure(AGENCIES[:1], OFFICIALS[:1], NOW)
    before = {key_id: pki.certificate(key_id).serial_number for key_id in pki.key_ids()}
    root_before = pki.trust_roots()[0].serial_number
    pki.ensure(AGENCIES, OFFICIALS, NOW + dt.timedelta(days=30))
    after = {key_id: pki.certificate(key_id).serial_number for key_id in pki.key_ids()}
    assert pki.trust_roots()[0].serial_number == root_before
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"agency:000.00.32.H99", f"person:{CLERK}"}
    # the clerk's agency is known from the existing agency certificate, not only from the arguments
    pki.ensure([], [("new.official", "Đỗ Văn Đức", COMMUNE)], NOW)
    org = pki.certificate("person:new.official").subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert org[0].value == COMMUNE_NAME


def test_ensure_refuses_bad_names_and_unknown_agencies(tmp_path: Path) -> None:
    pki = DevelopmentPki(tmp_path)
    with pytest.raises(InvalidInput):
        pki.ensure([("../escape", "X")], [], NOW)
    with pytest.raises(InvalidInput):
        pki.ensure([], [("a/b", "X", COMMUNE)], NOW)
    with pytest.raises(InvalidInput):
        pki.ensure([], [("someone", "X", "999.99.99.H99")], NOW)
    with pytest.raises(InvalidInput):
        pki.ensure([], [], dt.datetime(2026, 1, 1))  # naive time


@pytest.mark.parametrize("key_id", ["person:nobody", "agency:111.00.00.H99", "someone", "person:../ca/root", ""])
def test_unknown_key_ids_are_not_found(pki: DevelopmentPki, signer: PadesSigner, key_id: str) -> None:
    assert not pki.has_key(key_id)
    with pytest.raises(NotFound) as caught:
        signer.sign(sample_pdf(), SignatureRequest(key_id, "Sig", "test"))
    assert caught.value.message_vi and caught.value.message_en


# ---------------------------------------------------------------------- signing and validation


def test_one_signature_passes(signer: PadesSigner, validator: PadesValidator) -> None:
    original = sample_pdf()
    pdf = signer.sign(original, SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt", "Xã Demo 1"))
    report = validator.validate(pdf)
    assert report.indication == "TOTAL-PASSED" and report.sub_indication is None and report.passed
    (check,) = report.signatures
    assert check.field_name == "LanhDao"
    assert f"CN={LEADER_NAME}" in check.signer_subject and f"UID={LEADER}" in check.signer_subject
    assert check.signing_time is not None and abs(check.signing_time - dt.datetime.now(dt.UTC)) < dt.timedelta(
        minutes=5
    )
    # the chain and revocation data (DSS) follow in a revision of their own: the only change after signing
    assert check.intact and check.valid and check.trusted and not check.covers_whole_document
    assert check.modification_level == "LTA_UPDATES" and check.problems == () and check.passed

    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0].sig_object
    assert sig["/SubFilter"] == "/ETSI.CAdES.detached"
    assert sig["/Reason"] == "Phê duyệt" and sig["/Location"] == "Xã Demo 1"
    assert pdf.startswith(original)  # an incremental update: the original bytes are untouched


def test_decree30_order_two_signatures(decree30_pdf: bytes, validator: PadesValidator) -> None:
    report = validator.validate(decree30_pdf)
    assert report.indication == "TOTAL-PASSED", format_report(report)
    leader, seal = report.signatures
    assert (leader.field_name, seal.field_name) == ("LanhDao", "ConDau")
    assert leader.intact and leader.valid and leader.trusted and not leader.covers_whole_document
    assert leader.modification_level in ("LTA_UPDATES", "FORM_FILLING")
    assert seal.intact and seal.valid and seal.trusted and not seal.covers_whole_document
    assert seal.modification_level == "LTA_UPDATES"  # only its chain and revocation data follow
    assert COMMUNE_NAME in seal.signer_subject and f"serialNumber={COMMUNE}" in seal.signer_subject
    certification = read_certification_data(PdfFileReader(io.BytesIO(decree30_pdf)))
    assert certification is not None and certification.permission == MDPPerm.FILL_FORMS


def test_signature_field_is_created_when_missing(signer: PadesSigner, validator: PadesValidator) -> None:
    pdf = signer.sign(sample_pdf(), SignatureRequest(f"agency:{COMMUNE}", "DauMoi", "Đóng dấu", certify=True))
    pdf = signer.sign(pdf, SignatureRequest(f"person:{CLERK}", "VanThu", "Vào sổ"))
    report = validator.validate(pdf)
    assert report.passed, format_report(report)
    assert [check.field_name for check in report.signatures] == ["DauMoi", "VanThu"]


def test_visible_field_gets_a_placeholder_appearance(signer: PadesSigner, validator: PadesValidator) -> None:
    pdf = create_signature_fields(sample_pdf(), ["LanhDao"], boxes={"LanhDao": (0, (300, 100, 520, 160))})
    pdf = signer.sign(pdf, SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt", certify=True))
    assert validator.validate(pdf).passed
    assert b"Pham Van Hung" in pdf
    assert ascii_fold("Đỗ Thị Ánh Tuyết") == "Do Thi Anh Tuyet"


def test_filled_field_and_late_certification_are_refused(decree30_pdf: bytes, signer: PadesSigner) -> None:
    with pytest.raises(InvalidInput) as caught:
        signer.sign(decree30_pdf, SignatureRequest(f"agency:{COMMUNE}", "ConDau", "again"))
    assert "ConDau" in caught.value.message_vi and "already signed" in caught.value.message_en
    with pytest.raises(InvalidInput):
        signer.sign(decree30_pdf, SignatureRequest(f"person:{CLERK}", "Other", "x", certify=True))


@pytest.mark.parametrize("data", [b"", b"not a pdf at all", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"])
def test_files_that_are_not_pdfs_are_refused(data: bytes, signer: PadesSigner, validator: PadesValidator) -> None:
    with pytest.raises(InvalidInput):
        signer.sign(data, SignatureRequest(f"person:{LEADER}", "Sig", "x"))
    with pytest.raises(InvalidInput):
        create_signature_fields(data, ["Sig"])
    with pytest.raises(InvalidInput):
        validator.validate(data)


def test_pdf_without_signatures_is_indeterminate(validator: PadesValidator) -> None:
    report = validator.validate(create_signature_fields(sample_pdf(), ["Empty"]))
    assert (report.indication, report.sub_indication, report.signatures) == ("INDETERMINATE", "NO_SIGNATURE", ())
    assert not report.passed


def test_tampered_signed_bytes_fail(signer: PadesSigner, validator: PadesValidator) -> None:
    pdf = signer.sign(sample_pdf(), SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt"))
    start = pdf.index(b"(Giay chung nhan")
    tampered = pdf[: start + 1] + b"H" + pdf[start + 2 :]  # same length, inside the first signed range
    report = validator.validate(tampered)
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "HASH_FAILURE")
    (check,) = report.signatures
    assert not check.intact and not check.passed


def test_tampering_under_two_signatures_fails_both(decree30_pdf: bytes, validator: PadesValidator) -> None:
    start = decree30_pdf.index(b"(Giay chung nhan")
    tampered = decree30_pdf[: start + 1] + b"X" + decree30_pdf[start + 2 :]
    report = validator.validate(tampered)
    assert report.indication == "TOTAL-FAILED" and report.sub_indication == "HASH_FAILURE"
    assert [check.intact for check in report.signatures] == [False, False]


def test_added_page_after_certification_is_not_allowed(decree30_pdf: bytes, validator: PadesValidator) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(decree30_pdf))
    content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (added) Tj ET"))
    writer.insert_page(PageObject(contents=content, media_box=[0, 0, 595, 842]))
    out = io.BytesIO()
    writer.write(out)
    report = validator.validate(out.getvalue())
    assert (report.indication, report.sub_indication) == ("TOTAL-FAILED", "NOT_ALLOWED_MODIFICATIONS")
    assert all(check.intact and check.valid and check.trusted for check in report.signatures)
    assert all(not check.passed for check in report.signatures)


def test_foreign_root_is_untrusted(tmp_path: Path, pki: DevelopmentPki, validator: PadesValidator) -> None:
    foreign = DevelopmentPki(tmp_path / "foreign")
    foreign.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, LEADER_NAME, COMMUNE)], NOW)
    pdf = PadesSigner(foreign, keys=DeviceKeys(foreign)).sign(
        sample_pdf(), SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt")
    )
    report = validator.validate(pdf)
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    (check,) = report.signatures
    assert check.intact and check.valid and not check.trusted and not check.passed
    # trusting both roots makes it pass; trusting none never falls back to the operating system's store
    assert PadesValidator(pki.trust_roots() + foreign.trust_roots()).validate(pdf).passed
    assert PadesValidator([]).validate(pdf).sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def test_expired_certificate_does_not_pass(tmp_path: Path) -> None:
    pki = DevelopmentPki(tmp_path / "pki")
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [], NOW - dt.timedelta(days=3 * 365))
    pki.issue(
        "person:retired",
        "Lê Văn Cũ",
        organization=COMMUNE_NAME,
        not_before=NOW - dt.timedelta(days=2 * 365),
        not_after=NOW - dt.timedelta(days=1),
    )
    with pytest.raises(InvalidInput) as refused:  # the server does not sign with an expired certificate
        PadesSigner(pki, keys=DeviceKeys(pki)).sign(
            sample_pdf(), SignatureRequest("person:retired", "LanhDao", "Duyệt")
        )
    assert refused.value.details["reason"] == "certificate_expired"
    # a signature made while the certificate was valid (B-B, as a signer's own software would make it)
    pdf = sign_pades(
        sample_pdf(), DeviceKeys(pki).signer_for("person:retired"), "LanhDao", now=NOW - dt.timedelta(days=30)
    )
    report = PadesValidator(pki.trust_roots()).validate(pdf)
    assert report.indication == "INDETERMINATE" and not report.passed
    (check,) = report.signatures
    assert check.intact and check.valid and not check.trusted
    assert report.sub_indication in ("OUT_OF_BOUNDS_NO_POE", "EXPIRED")
    # validated at a moment inside the validity period, the same signature passes
    earlier = PadesValidator(pki.trust_roots(), moment=NOW - dt.timedelta(days=30)).validate(pdf)
    assert earlier.passed, format_report(earlier)


def test_reports_as_json_and_text(decree30_pdf: bytes, validator: PadesValidator) -> None:
    report = validator.validate(decree30_pdf)
    data = json.loads(json.dumps(report_to_dict(report), ensure_ascii=False))
    assert data["indication"] == "TOTAL-PASSED" and data["passed"] is True
    assert data["revocation_checking"] == "none"
    assert [s["field_name"] for s in data["signatures"]] == ["LanhDao", "ConDau"]
    assert data["signatures"][0]["signing_time"].endswith("+07:00")
    assert LEADER_NAME in data["signatures"][0]["signer_subject"]

    text = format_report(report)
    assert "Kết quả / Result: TOTAL-PASSED" in text
    assert text.count("Chữ ký ") == 2 and "“LanhDao”" in text and "“ConDau”" in text
    assert LEADER_NAME in text and COMMUNE_NAME in text
    assert "revocation (CRL/OCSP) not checked" in text

    failed = validator.validate(decree30_pdf.replace(b"(Giay chung nhan", b"(Giay chung nhaX"))
    failed_text = format_report(failed)
    assert "TOTAL-FAILED" in failed_text and "HASH_FAILURE" in failed_text and "Vấn đề / Problem" in failed_text


def test_signing_and_validating_inside_an_event_loop(signer: PadesSigner, validator: PadesValidator) -> None:
    async def inside_loop() -> bool:
        pdf = signer.sign(sample_pdf(), SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt"))
        return validator.validate(pdf).passed

    assert asyncio.run(inside_loop())
