"""The Decree 30/2020 order of work on one PDF (issue 4, point 2; DESIGN §7), signed with a development PKI on disk.

Fields first (number, date, leader, seal — one incremental update, before any signature) → the leader signs and
certifies (DocMDP P=2) → the records clerk fills the number and the date → the agency seal signs. Validation
shows every signature intact and valid, the leader's with only permitted changes after it (FORM_FILLING) and
the seal covering the whole document; a page added after the leader's signature is flagged. The fields alone are
tested in tests/unit/test_decree30_order.py.

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

import tests.unit.test_decree30_order as fields
from documents.layout import PAGE_SIZE
from dossiers.errors import InvalidInput
from dossiers.ports import SignatureRequest
from signing import DevelopmentPki, PadesSigner, PadesValidator
from signing.appearance import development_signature_png, leader_style
from signing.certs import to_asn1
from signing.fields import (
    DATE_FIELD,
    LEADER_FIELD,
    NUMBER_FIELD,
    SEAL_FIELD,
    FieldNames,
    fill_number_and_date,
    prepare_fields,
)
from signing.validate import NOT_ALLOWED_MODIFICATIONS, TOTAL_FAILED, TOTAL_PASSED
from tests.unit.test_decree30_order import (
    COMMUNE_NAME,
    DATE_BOX,
    DATE_TEXT,
    LEADER_BOX,
    NUMBER,
    NUMBER_BOX,
    field_values,
    prepared,
)

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
LEADER = "lanhdao.xa1"
NOW = dt.datetime.now(dt.UTC)

form = fields.form  # the unit module's fixture: the rendered certificate


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    pki = DevelopmentPki(tmp_path_factory.mktemp("pki"))
    pki.ensure([(COMMUNE, COMMUNE_NAME)], [(LEADER, "Phạm Văn Hùng", COMMUNE)], NOW)
    return pki


@pytest.fixture(scope="module")
def signer(pki: DevelopmentPki) -> PadesSigner:
    return PadesSigner(pki)


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
        pdf_signer.sign_pdf(writer, output=out, existing_fields_only=True)
        return out.getvalue()


@pytest.fixture(scope="module")
def leader(pki: DevelopmentPki) -> Leader:
    return Leader(pki)


def seal_request() -> SignatureRequest:
    return SignatureRequest(signer=f"agency:{COMMUNE}", field_name=SEAL_FIELD, reason="Đóng dấu ban hành")


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
    assert not seal.covers_whole_document
    assert seal.modification_level == "LTA_UPDATES"  # only the seal's chain and revocation data (DSS) follow
    assert "Phạm Văn Hùng" in first.signer_subject
    assert COMMUNE_NAME in seal.signer_subject


def test_the_number_and_date_can_be_filled_only_once(form: bytes, leader: Leader) -> None:
    signed = leader.sign(prepared(form))
    filled = fill_number_and_date(signed, NUMBER, DATE_TEXT)
    with pytest.raises(InvalidInput):
        fill_number_and_date(filled, "16/GCN-UBND", DATE_TEXT)
    with pytest.raises(InvalidInput):
        fill_number_and_date(signed, " ", DATE_TEXT)


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
    assert seal.passed and seal.modification_level == "LTA_UPDATES", "the seal signed the document as it then was"
