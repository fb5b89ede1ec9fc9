"""Two-step personal signatures (signing/two_step.py, signing/device.py): the key stays on the signer's device.

The server prepares (placeholder + signed attributes), the device signs, the server checks and embeds; the state
between the steps is bytes that survive a restart. Real pyHanko signatures, checked with PadesValidator.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import read_certification_data

from dossiers.errors import InvalidInput
from dossiers.ports import SignatureRequest
from signing import DEVELOPMENT_PASSPHRASE, DevelopmentPki, PadesSigner, PadesValidator, create_signature_fields
from signing.device import DeviceClient
from signing.two_step import PreparedSignature, finish, prepare, verify_signature_value
from tests.unit.test_signing import sample_pdf
from tests.unit.test_two_step import LEADER, LEADER_SIGNS, NOW

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER_NAME = "Phạm Văn Hùng"
CLERK = "vanthu.xa1"
ROOT = Path(__file__).resolve().parents[2]

LEADER_CERTIFIES = SignatureRequest(f"person:{LEADER}", "LanhDao", "Phê duyệt", "Xã Demo 1", certify=True)
SEAL = SignatureRequest(f"agency:{COMMUNE}", "DauMoi", "Đóng dấu", "Xã Demo 1")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, LEADER_NAME, COMMUNE), (CLERK, "Hoàng Thị Mai", COMMUNE)], NOW)
    return pki


def device_for(pki: DevelopmentPki, username: str) -> DeviceClient:
    """The official's device: only it opens the PKCS#12 file (the server side below never touches it)."""
    path = pki.pkcs12_path(f"person:{username}")
    return DeviceClient(path.read_bytes(), DEVELOPMENT_PASSPHRASE)


@pytest.fixture(scope="module")
def leader_device(pki: DevelopmentPki) -> DeviceClient:
    return device_for(pki, LEADER)


@pytest.fixture(scope="module")
def form_pdf() -> bytes:
    """Decree 30 order: every signature field exists before the first signature."""
    return create_signature_fields(sample_pdf(), ["LanhDao", "DauMoi"])


@pytest.fixture(scope="module")
def validator(pki: DevelopmentPki) -> PadesValidator:
    return PadesValidator(pki.trust_roots())


def two_step(pdf: bytes, device: DeviceClient, request: SignatureRequest = LEADER_SIGNS) -> bytes:
    prepared = prepare(pdf, device.certificate_chain(), request)
    return finish(prepared, device.sign(prepared.data_to_sign, prepared.md_algorithm))


# ---------------------------------------------------------------------- the happy paths


def test_prepare_device_sign_finish_validates(
    form_pdf: bytes, leader_device: DeviceClient, validator: PadesValidator
) -> None:
    signed = two_step(form_pdf, leader_device)
    report = validator.validate(signed)
    assert report.indication == "TOTAL-PASSED", report
    (check,) = report.signatures
    assert check.field_name == "LanhDao"
    assert LEADER_NAME in check.signer_subject
    assert check.intact and check.valid and check.trusted and check.covers_whole_document


def test_certification_then_server_side_agency_seal(
    form_pdf: bytes, leader_device: DeviceClient, pki: DevelopmentPki, validator: PadesValidator
) -> None:
    certified = two_step(form_pdf, leader_device, LEADER_CERTIFIES)
    certification = read_certification_data(PdfFileReader(io.BytesIO(certified)))
    assert certification is not None and certification.permission == MDPPerm.FILL_FORMS

    sealed = PadesSigner(pki).sign(certified, SEAL)
    assert sealed.startswith(certified)  # an incremental update
    report = validator.validate(sealed)
    assert report.indication == "TOTAL-PASSED", report
    assert [check.field_name for check in report.signatures] == ["LanhDao", "DauMoi"]
    assert all(check.intact and check.valid and check.trusted for check in report.signatures)


def test_a_new_invisible_field_is_created_when_missing(leader_device: DeviceClient, validator: PadesValidator) -> None:
    signed = two_step(sample_pdf(), leader_device, SignatureRequest(f"person:{LEADER}", "MoiTao", "Ký"))
    report = validator.validate(signed)
    assert report.passed and report.signatures[0].field_name == "MoiTao"


def test_state_survives_a_server_restart(
    form_pdf: bytes, leader_device: DeviceClient, validator: PadesValidator, tmp_path: Path
) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_CERTIFIES)
    row = prepared.to_bytes()
    state = json.loads(row)  # plain JSON, base64 for binary: it fits a database row
    assert state["format"] == "motcua.prepared-signature" and state["field_name"] == "LanhDao"
    assert PreparedSignature.from_bytes(row) == prepared
    assert row.decode("ascii")  # fits a text column as is, also with a Vietnamese field name
    assert replace(prepared, field_name="Lãnh đạo").to_bytes().decode("ascii")
    assert PreparedSignature.from_bytes(replace(prepared, field_name="Lãnh đạo").to_bytes()).field_name == "Lãnh đạo"
    assert prepared.signer_certificate_sha256 == hashlib.sha256(prepared.signer_certificate).hexdigest()

    # the device signs what the state says, later, from the stored row only
    from_row = PreparedSignature.from_bytes(row)
    (tmp_path / "state.json").write_bytes(row)
    (tmp_path / "value.bin").write_bytes(leader_device.sign(from_row.data_to_sign))
    # a fresh interpreter (the restarted server) finishes
    script = (
        "import sys; from pathlib import Path; from signing.two_step import PreparedSignature, finish\n"
        "d = Path(sys.argv[1])\n"
        "p = PreparedSignature.from_bytes((d / 'state.json').read_bytes())\n"
        "(d / 'signed.pdf').write_bytes(finish(p, (d / 'value.bin').read_bytes()))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, cwd=ROOT, timeout=120)
    report = validator.validate((tmp_path / "signed.pdf").read_bytes())
    assert report.indication == "TOTAL-PASSED", report


def test_what_the_device_receives(form_pdf: bytes, leader_device: DeviceClient) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    assert prepared.signature_mechanism == "sha256_ecdsa"
    assert prepared.data_to_sign == prepared.signed_attributes
    assert prepared.data_to_sign[:1] == b"\x31"  # DER SET OF Attribute
    assert prepared.digest_to_sign == hashlib.sha256(prepared.data_to_sign).digest()
    # the placeholder is in the prepared PDF, the byte range digest covers everything else
    start, end = prepared.reserved_region_start, prepared.reserved_region_end
    assert set(prepared.prepared_pdf[start + 1 : end - 1]) == {ord("0")}
    pdf = prepared.prepared_pdf
    assert hashlib.sha256(pdf[:start] + pdf[end:]).digest() == prepared.document_digest


def test_a_hash_only_token_and_raw_ecdsa_values_are_accepted(
    form_pdf: bytes, leader_device: DeviceClient, validator: PadesValidator
) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    value = leader_device.sign_digest(prepared.digest_to_sign)  # a token that signs a precomputed hash
    r, s = decode_dss_signature(value)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # PKCS#11 CKM_ECDSA / WebCrypto form
    for candidate in (value, raw):
        assert validator.validate(finish(prepared, candidate)).indication == "TOTAL-PASSED"


def test_sha384(form_pdf: bytes, leader_device: DeviceClient, validator: PadesValidator) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS, md_algorithm="sha384")
    signed = finish(prepared, leader_device.sign(prepared.data_to_sign, "sha384"))
    assert validator.validate(signed).indication == "TOTAL-PASSED"


def test_works_inside_a_running_event_loop(form_pdf: bytes, leader_device: DeviceClient) -> None:
    async def endpoint() -> bytes:  # an async FastAPI endpoint or worker
        return two_step(form_pdf, leader_device)

    assert asyncio.run(endpoint()).startswith(form_pdf)


# ---------------------------------------------------------------------- a wrong signature value


def test_a_value_from_another_key_is_refused(form_pdf: bytes, leader_device: DeviceClient, pki: DevelopmentPki) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    other = device_for(pki, CLERK).sign(prepared.data_to_sign)
    with pytest.raises(InvalidInput) as caught:
        finish(prepared, other)
    assert "does not match the digest" in caught.value.message_en
    assert "không khớp với bản tóm lược" in caught.value.message_vi


def test_a_value_over_another_document_is_refused(
    form_pdf: bytes, leader_device: DeviceClient, pki: DevelopmentPki
) -> None:
    first = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    second = prepare(sample_pdf("Khac"), leader_device.certificate_chain(), LEADER_SIGNS)
    with pytest.raises(InvalidInput, match="does not match the digest"):
        finish(second, leader_device.sign(first.data_to_sign))


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda value: value[: len(value) // 2], id="truncated"),
        pytest.param(lambda value: value[:-1] + bytes([value[-1] ^ 1]), id="one-bit-flipped"),
        pytest.param(lambda value: b"\x00" * len(value), id="zeros"),
        pytest.param(lambda value: b"garbage, not a signature", id="garbage"),
        pytest.param(lambda value: b"", id="empty"),
    ],
)
def test_a_broken_value_is_refused(form_pdf: bytes, leader_device: DeviceClient, mangle) -> None:  # type: ignore[no-untyped-def]
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    with pytest.raises(InvalidInput, match="does not match the digest"):
        finish(prepared, mangle(leader_device.sign(prepared.data_to_sign)))


def test_verify_signature_value_directly(leader_device: DeviceClient) -> None:
    value = leader_device.sign(b"data")
    assert verify_signature_value(leader_device.certificate, b"data", value, "sha256") == value
    with pytest.raises(InvalidInput):
        verify_signature_value(leader_device.certificate, b"other data", value, "sha256")


# ---------------------------------------------------------------------- bad input at prepare


def test_expired_signer_certificate_is_refused_at_prepare(pki: DevelopmentPki, form_pdf: bytes) -> None:
    expired = pki.issue(
        "person:het.han",
        "Nguyễn Văn Hết Hạn",
        not_before=NOW - dt.timedelta(days=800),
        not_after=NOW - dt.timedelta(days=1),
        organization=COMMUNE_NAME,
    )
    with pytest.raises(InvalidInput, match="expired") as caught:
        prepare(form_pdf, pki.chain_for("person:het.han"), LEADER_SIGNS)
    assert caught.value.details["reason"] == "certificate_expired"
    # the same certificate was fine while it was valid: the check uses ``now``
    prepared = prepare(form_pdf, [expired], LEADER_SIGNS, now=NOW - dt.timedelta(days=30))
    # …and finish checks again, at its own time (after checking the value)
    value = device_for(pki, "het.han").sign(prepared.data_to_sign)
    with pytest.raises(InvalidInput, match="expired"):
        finish(prepared, value)
    assert finish(prepared, value, now=NOW - dt.timedelta(days=29)).startswith(form_pdf)


def test_not_yet_valid_signer_certificate_is_refused(pki: DevelopmentPki, form_pdf: bytes) -> None:
    pki.issue(
        "person:chua.hieu.luc",
        "Trần Thị Chưa",
        not_before=NOW + dt.timedelta(days=10),
        not_after=NOW + dt.timedelta(days=400),
        organization=COMMUNE_NAME,
    )
    with pytest.raises(InvalidInput, match="not valid yet") as caught:
        prepare(form_pdf, pki.chain_for("person:chua.hieu.luc"), LEADER_SIGNS)
    assert caught.value.details["reason"] == "certificate_not_yet_valid"


def test_a_signed_field_is_refused(form_pdf: bytes, leader_device: DeviceClient) -> None:
    signed = two_step(form_pdf, leader_device)
    with pytest.raises(InvalidInput, match="already signed"):
        prepare(signed, leader_device.certificate_chain(), LEADER_SIGNS)


def test_certification_after_another_signature_is_refused(
    form_pdf: bytes, leader_device: DeviceClient, pki: DevelopmentPki
) -> None:
    sealed = PadesSigner(pki).sign(form_pdf, SEAL)
    with pytest.raises(InvalidInput, match="first signature"):
        prepare(sealed, leader_device.certificate_chain(), LEADER_CERTIFIES)


def encrypted_pdf() -> bytes:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(sample_pdf("bi mat"))))
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def broken_xref_pdf() -> bytes:
    pdf = sample_pdf()
    start = pdf.rindex(b"startxref")
    return pdf[: pdf.rindex(b"\nxref\n") + 1] + b"xref\n0 6\ngarbage garbage\n" + pdf[start:]


@pytest.mark.parametrize(
    ("pdf", "expected"),
    [
        pytest.param(b"Hello, this is not a PDF at all", "not a PDF", id="not-a-pdf"),
        pytest.param(b"", "not a PDF", id="empty"),
        pytest.param(b"%PDF-1.7\n%%EOF\n", "not a valid PDF", id="header-only"),
        pytest.param(sample_pdf()[:200], "not a valid PDF", id="truncated"),
        pytest.param(broken_xref_pdf(), "not a valid PDF", id="broken-xref"),
        pytest.param(encrypted_pdf(), "Encrypted", id="encrypted"),
    ],
)
def test_bad_pdfs_are_refused(pdf: bytes, expected: str, leader_device: DeviceClient) -> None:
    with pytest.raises(InvalidInput, match=expected):
        prepare(pdf, leader_device.certificate_chain(), LEADER_SIGNS)


def test_bad_parameters_are_refused(form_pdf: bytes, leader_device: DeviceClient) -> None:
    chain = leader_device.certificate_chain()
    with pytest.raises(InvalidInput, match="not supported"):
        prepare(form_pdf, chain, LEADER_SIGNS, md_algorithm="md5")
    with pytest.raises(InvalidInput, match="certificate is needed"):
        prepare(form_pdf, [], LEADER_SIGNS)
    with pytest.raises(InvalidInput, match="Invalid signature field name"):
        prepare(form_pdf, chain, SignatureRequest(f"person:{LEADER}", "a.b", "x"))
    with pytest.raises(InvalidInput, match="timezone"):
        prepare(form_pdf, chain, LEADER_SIGNS, now=dt.datetime(2026, 1, 1))


# ---------------------------------------------------------------------- a damaged state


def test_a_damaged_state_is_refused(form_pdf: bytes, leader_device: DeviceClient) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    for row in (b"", b"{}", b"not json", b'{"format": "motcua.prepared-signature", "version": 99}'):
        with pytest.raises(InvalidInput, match="damaged"):
            PreparedSignature.from_bytes(row)
    state = json.loads(prepared.to_bytes())
    state["signer_certificate"] = "!!!"
    with pytest.raises(InvalidInput, match="damaged"):
        PreparedSignature.from_bytes(json.dumps(state).encode())


def test_a_state_whose_pdf_was_changed_is_refused(form_pdf: bytes, leader_device: DeviceClient) -> None:
    prepared = prepare(form_pdf, leader_device.certificate_chain(), LEADER_SIGNS)
    value = leader_device.sign(prepared.data_to_sign)
    pdf = prepared.prepared_pdf
    changed = pdf.replace(b"Giay chung nhan", b"Giay chung nhaN", 1)
    assert changed != pdf
    state = json.loads(prepared.to_bytes())
    state["prepared_pdf"] = base64.b64encode(changed).decode()
    with pytest.raises(InvalidInput, match="inconsistent"):
        finish(PreparedSignature.from_bytes(json.dumps(state).encode()), value)


# ---------------------------------------------------------------------- the device


def test_wrong_passphrase_is_named(pki: DevelopmentPki) -> None:
    data = pki.pkcs12_path(f"person:{LEADER}").read_bytes()
    with pytest.raises(InvalidInput, match="wrong passphrase") as caught:
        DeviceClient(data, "not-the-passphrase")
    assert "mật khẩu" in caught.value.message_vi
    with pytest.raises(InvalidInput, match="wrong passphrase"):
        DeviceClient(b"not a pkcs12 file", DEVELOPMENT_PASSPHRASE)


def test_device_chain_and_digest_checks(leader_device: DeviceClient, pki: DevelopmentPki) -> None:
    assert leader_device.certificate_chain() == pki.chain_for(f"person:{LEADER}")
    with pytest.raises(InvalidInput, match="32 bytes"):
        leader_device.sign_digest(b"short")
    with pytest.raises(InvalidInput, match="not supported"):
        leader_device.sign(b"data", "sha1")
