"""The Decree 30/2020 order of work on one PDF (issue 4, point 2; DESIGN §7).

Fields first (number, date, leader, seal — one incremental update, before any signature) → the leader signs and
certifies (DocMDP P=2) → the records clerk fills the number and the date → the agency seal signs. Validation
shows every signature intact and valid, the leader's with only permitted changes after it (FORM_FILLING) and
the seal covering the whole document; a page added after the leader's signature is flagged.

The leader's key is the development PKI's ``person:`` key, used here, through pyHanko directly, only as a
stand-in for the leader's own device (in production a person's key never reaches the server, and
:class:`~signing.PadesSigner` refuses it); the agency seal signs through :class:`~signing.PadesSigner`.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import read_certification_data

from documents.forms import PAGE_SIZE, SIGNATURE_BOX, CertificateData, render_household_business_certificate
from dossiers.calendar import VN_TZ
from dossiers.errors import InvalidInput
from dossiers.ports import SignatureRequest
from signing import DevelopmentPki, PadesSigner, PadesValidator
from signing._async import run_sync
from signing.appearance import development_signature_png, leader_style, seal_box
from signing.fields import (
    DATE_FIELD,
    LEADER_FIELD,
    NUMBER_FIELD,
    SEAL_FIELD,
    FieldNames,
    fill_number_and_date,
    prepare_fields,
)
from signing.pades import to_asn1
from signing.validate import NOT_ALLOWED_MODIFICATIONS, TOTAL_FAILED, TOTAL_PASSED

COMMUNE = "000.00.31.H99"
COMMUNE_NAME = "Ủy ban nhân dân xã Demo 1"
LEADER = "lanhdao.xa1"
NOW = dt.datetime.now(dt.UTC)

LEADER_BOX = SIGNATURE_BOX.box
NUMBER_BOX = (100, 722, 260, 740)  # under the agency name, where "Số: …" goes
DATE_BOX = (300, 600, 540, 618)
NUMBER = "15/GCN-UBND"
DATE_TEXT = "Demo 1, ngày 02 tháng 3 năm 2026"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, "Phạm Văn Hùng", COMMUNE)], NOW)
    return pki


@pytest.fixture(scope="module")
def signer(pki: DevelopmentPki) -> PadesSigner:
    return PadesSigner(pki)


@pytest.fixture(scope="module")
def form() -> bytes:
    return render_household_business_certificate(
        CertificateData(
            parent_agency=COMMUNE_NAME,
            issuing_authority="Phòng Kinh tế",
            place_name="Demo 1",
            registration_number="31H99-000123",
            first_registered_on=dt.date(2026, 3, 2),
            business_name="Tạp hóa Bình An",
            business_address="Thôn Đông, xã Demo 1",
            business_lines=("Bán lẻ lương thực, thực phẩm",),
            capital_vnd=100_000_000,
            owner_name="Nguyễn Văn An",
            owner_id_number="001090012345",
            owner_birth_date=dt.date(1985, 4, 12),
            issued_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN_TZ),
            signer_name="Phạm Văn Hùng",
        )
    )


class Leader:
    """The leader's device, simulated: signs the leader's field first, certifying with DocMDP P=2, with the
    Decree 30 appearance (the blue signature image)."""

    def __init__(self, pki: DevelopmentPki) -> None:
        material = pki.key_material(f"person:{LEADER}")
        self.signer = signers.SimpleSigner.load_pkcs12_data(
            material.pkcs12_data, other_certs=[to_asn1(c) for c in material.chain], passphrase=material.passphrase
        )
        self.style = leader_style(development_signature_png("Phạm Văn Hùng"))

    def sign(self, pdf: bytes) -> bytes:
        meta = signers.PdfSignatureMetadata(
            field_name=LEADER_FIELD,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            reason="Phê duyệt kết quả",
            certify=True,
            docmdp_permissions=MDPPerm.FILL_FORMS,
        )
        pdf_signer = signers.PdfSigner(meta, signer=self.signer, stamp_style=self.style)
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        out = io.BytesIO()
        run_sync(lambda: pdf_signer.async_sign_pdf(writer, output=out, existing_fields_only=True))
        return out.getvalue()


@pytest.fixture(scope="module")
def leader(pki: DevelopmentPki) -> Leader:
    return Leader(pki)


def seal_request() -> SignatureRequest:
    return SignatureRequest(signer=f"agency:{COMMUNE}", field_name=SEAL_FIELD, reason="Đóng dấu ban hành")


def prepared(form: bytes) -> bytes:
    return prepare_fields(
        form, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, seal_box=seal_box(LEADER_BOX)
    )


def revisions(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf), strict=False).xrefs.total_revisions)


def field_values(pdf: bytes) -> dict[str, object]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    out: dict[str, object] = {}
    for ref in reader.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        value = field.get("/V")
        out[str(field["/T"])] = str(value) if isinstance(value, generic.TextStringObject) else value
    return out


def test_fields_are_created_in_one_update_before_any_signature(form: bytes) -> None:
    pdf = prepared(form)
    assert pdf.startswith(form), "an incremental update keeps the original bytes"
    assert revisions(pdf) == revisions(form) + 1
    values = field_values(pdf)
    assert set(values) == {LEADER_FIELD, SEAL_FIELD, NUMBER_FIELD, DATE_FIELD}
    assert all(value is None for value in values.values())
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    annots = [a.get_object() for a in reader.root["/Pages"]["/Kids"][0].get_object()["/Annots"]]
    names = [str(a["/T"]) for a in annots]
    assert names.index(SEAL_FIELD) > names.index(LEADER_FIELD), "the seal is drawn over the leader's signature"
    rects = {str(a["/T"]): [float(v) for v in a["/Rect"]] for a in annots}
    assert rects[LEADER_FIELD] == list(LEADER_BOX)
    assert rects[NUMBER_FIELD] == list(NUMBER_BOX)
    assert [str(a["/FT"]) for a in annots if str(a["/T"]) in (NUMBER_FIELD, DATE_FIELD)] == ["/Tx", "/Tx"]


def test_decree30_order_validates_with_only_permitted_changes(
    form: bytes, leader: Leader, signer: PadesSigner, pki: DevelopmentPki
) -> None:
    pdf = prepared(form)
    signed_by_leader = leader.sign(pdf)
    certification = read_certification_data(PdfFileReader(io.BytesIO(signed_by_leader), strict=False))
    assert certification is not None and certification.permission == MDPPerm.FILL_FORMS  # DocMDP P=2

    filled = fill_number_and_date(signed_by_leader, NUMBER, DATE_TEXT)
    assert filled.startswith(signed_by_leader)
    sealed = signer.sign(filled, seal_request())
    assert sealed.startswith(filled)

    values = field_values(sealed)
    assert values[NUMBER_FIELD] == f"Số: {NUMBER}"
    assert values[DATE_FIELD] == DATE_TEXT
    reader = PdfFileReader(io.BytesIO(sealed), strict=False)
    assert {name for name, value, _ in enumerate_sig_fields(reader) if value is not None} == {LEADER_FIELD, SEAL_FIELD}

    report = PadesValidator(pki.trust_roots()).validate(sealed)
    assert report.indication == TOTAL_PASSED, report
    first, seal = report.signatures
    assert first.field_name == LEADER_FIELD and seal.field_name == SEAL_FIELD
    for check in (first, seal):
        assert check.intact and check.valid and check.trusted and check.passed, check
        assert check.problems == ()
    assert first.modification_level == "FORM_FILLING"
    assert not first.covers_whole_document
    assert seal.covers_whole_document
    assert seal.modification_level == "NONE"
    assert "Phạm Văn Hùng" in first.signer_subject
    assert COMMUNE_NAME in seal.signer_subject


def test_the_number_and_date_can_be_filled_only_once(form: bytes, leader: Leader) -> None:
    signed = leader.sign(prepared(form))
    filled = fill_number_and_date(signed, NUMBER, DATE_TEXT)
    with pytest.raises(InvalidInput):
        fill_number_and_date(filled, "16/GCN-UBND", DATE_TEXT)
    with pytest.raises(InvalidInput):
        fill_number_and_date(signed, " ", DATE_TEXT)


def test_the_number_label_is_not_doubled(form: bytes) -> None:
    filled = fill_number_and_date(prepared(form), f"Số: {NUMBER}", DATE_TEXT)
    assert field_values(filled)[NUMBER_FIELD] == f"Số: {NUMBER}"


def test_fields_cannot_be_added_after_the_first_signature(form: bytes, leader: Leader) -> None:
    signed = leader.sign(prepared(form))
    with pytest.raises(InvalidInput, match="already signed"):
        prepare_fields(
            signed,
            leader_box=LEADER_BOX,
            number_box=NUMBER_BOX,
            date_box=DATE_BOX,
            names=FieldNames(leader="l2", seal="s2", number="n2", date="d2"),
        )


def test_existing_names_and_bad_boxes_are_refused(form: bytes) -> None:
    pdf = prepared(form)
    with pytest.raises(InvalidInput, match="already has a field"):
        prepare_fields(pdf, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX)
    with pytest.raises(InvalidInput, match="invalid box"):
        prepare_fields(form, leader_box=(10, 10, 10, 50), number_box=NUMBER_BOX, date_box=DATE_BOX)
    with pytest.raises(InvalidInput, match="repeat"):
        prepare_fields(
            form,
            leader_box=LEADER_BOX,
            number_box=NUMBER_BOX,
            date_box=DATE_BOX,
            names=FieldNames(leader="x", seal="x"),
        )
    with pytest.raises(InvalidInput, match="out of range"):
        prepare_fields(form, leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, page=3)
    with pytest.raises(InvalidInput):
        prepare_fields(b"not a pdf", leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX)


def add_page(pdf: bytes) -> bytes:
    """An incremental update that appends a blank page — not something a P=2 certification allows."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    content = writer.add_object(generic.StreamObject(stream_data=b"BT ET"))
    width, height = PAGE_SIZE
    writer.insert_page(PageObject(contents=content, media_box=[0, 0, round(width), round(height)]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("when", ["after the leader", "after the number and date"])
def test_a_page_added_after_the_leader_signature_is_flagged(
    form: bytes, leader: Leader, signer: PadesSigner, pki: DevelopmentPki, when: str
) -> None:
    pdf = leader.sign(prepared(form))
    if when == "after the number and date":
        pdf = fill_number_and_date(pdf, NUMBER, DATE_TEXT)
    tampered = add_page(pdf)
    assert len(PdfFileReader(io.BytesIO(tampered), strict=False).root["/Pages"]["/Kids"]) == 2
    sealed = signer.sign(tampered, seal_request())

    report = PadesValidator(pki.trust_roots()).validate(sealed)
    assert report.indication == TOTAL_FAILED
    assert report.sub_indication == NOT_ALLOWED_MODIFICATIONS
    first, seal = report.signatures
    assert first.field_name == LEADER_FIELD
    assert first.intact and first.valid, "the signed bytes themselves are untouched"
    assert not first.passed
    assert any(p.startswith(NOT_ALLOWED_MODIFICATIONS) for p in first.problems), first.problems
    assert first.modification_level not in ("NONE", "LTA_UPDATES", "FORM_FILLING")
    assert seal.passed and seal.covers_whole_document, "the seal signed the document as it then was"
