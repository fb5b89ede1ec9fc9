"""Every document the system generates is PDF/A-2b, as veraPDF (tests/integration/verapdf.py) judges it: each
family rendered as the services render it, unsigned; then signed the way the server signs (the seal on a receipt,
the leader's certification + number and date + seal on a result, the head + seal on a Mẫu 05, the leader + copy
stamp on a certified copy), every state on the way included; then again with a TSA (B-LT seals, B-LTA results and
letters, the archive timestamp renewed).

All files go through one veraPDF run per module (one JVM); each family is its own test case. The first test shows
the harness can fail: a plain reportlab PDF breaks the rules :mod:`documents.pdfa` and the embedded fonts exist
for (the end-of-line before ``endstream`` is fixed for every reportlab stream of the process, so not shown here).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from documents.civil_status import (
    BirthCertificateData,
    CopyCertificationData,
    MarriageCertificateData,
    Spouse,
    certified_copy,
    image_as_pdf,
    page_sizes,
    render_birth_certificate,
    render_copy_certification,
    render_marriage_certificate,
)
from documents.forms import (
    ApologyData,
    ControlSheetData,
    HandOver,
    StopNoticeData,
    render_apology,
    render_control_sheet,
    render_household_business_certificate,
    render_receipt,
    render_refusal,
    render_stop_notice,
    render_supplement_request,
)
from documents.layout import SIGNATURE_BOX
from documents.permits import (
    InspectionRecordData,
    LandCertificateData,
    PermitData,
    TaxNoticeData,
    render_construction_permit,
    render_inspection_record,
    render_land_certificate,
    render_tax_notice,
)
from documents.registers import TrackingRegisterData, TrackingRow, render_tracking_register
from documents.result_templates import DATE_BOX, LEADER_BOX, NUMBER_BOX, load_template, render_result, sample_values
from documents.samples import sample_pdf
from documents.templating import Templates
from tests.integration.certomancer_pki import LivePki
from tests.integration.verapdf import Report, VeraPdf, verapdf  # noqa: F401 - the session fixture
from tests.unit.test_documents import (
    APPLICANT,
    CODE,
    COMMUNE,
    PROCEDURE,
    certificate_data,
    receipt_data,
    refusal_data,
    supplement_data,
)

pytestmark = pytest.mark.integration

VN = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=VN)
NEW = Templates().on(T0.date())
RESULT_TEMPLATE = Path(__file__).resolve().parents[2] / "motcua" / "data" / "results" / "1.001612.json"
LEADER = "Lê Minh Tuấn"


def _letter_fields() -> dict[str, object]:
    return dict(
        dossier_code=CODE,
        agency_name=COMMUNE,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        received_at=T0,
        official_name=LEADER,
    )


def _apology() -> bytes:
    data = ApologyData(
        **_letter_fields(),  # type: ignore[arg-type]
        old_due_at=T0 + dt.timedelta(days=3),
        new_due_at=T0 + dt.timedelta(days=7),
        reason="Cần xác minh thực địa",
        issued_at=T0 + dt.timedelta(days=2),
    )
    return render_apology(data, NEW)


def _stop_notice() -> bytes:
    data = StopNoticeData(
        **_letter_fields(),  # type: ignore[arg-type]
        reason="Người nộp không bổ sung hồ sơ trong thời hạn",
        issued_at=T0 + dt.timedelta(days=1),
        return_channel="counter",
    )
    return render_stop_notice(data, NEW)


def _control_sheet() -> bytes:
    row = HandOver(
        giver="Bộ phận Một cửa",
        receiver="Phòng Kinh tế",
        handed_at=T0 + dt.timedelta(hours=1),
        due_at=T0 + dt.timedelta(hours=4),
        timeliness="early",
    )
    data = ControlSheetData(
        dossier_code=CODE,
        agency_name=COMMUNE,
        place_name="Tân Lập",
        applicant_name=APPLICANT,
        procedure_name=PROCEDURE,
        handling_agency="Phòng Kinh tế, Ủy ban nhân dân xã Tân Lập",
        received_at=T0,
        due_at=T0 + dt.timedelta(days=3),
        issued_at=T0 + dt.timedelta(days=1),
        rows=(row,),
        signer_name="Trần Văn Bình",
    )
    return render_control_sheet(data, NEW)


def _tracking_register() -> bytes:
    data = TrackingRegisterData(
        agency_name=COMMUNE,
        place_name="Tân Lập",
        period_from=dt.date(2026, 3, 1),
        period_to=dt.date(2026, 3, 31),
        issued_at=T0 + dt.timedelta(days=30),
        rows=(
            TrackingRow(
                CODE, PROCEDURE, APPLICANT, T0, T0 + dt.timedelta(days=3), "Đã trả kết quả", timeliness="early"
            ),
        ),
        register_book="2026",
    )
    return render_tracking_register(data, NEW)[0]


def _result() -> bytes:
    template = load_template(RESULT_TEMPLATE)
    return render_result(template, sample_values(template))


def _birth_certificate() -> bytes:
    return render_birth_certificate(
        BirthCertificateData(
            agency_name=COMMUNE,
            child_name="Nguyễn Minh Khôi",
            child_birth_date=dt.date(2026, 2, 20),
            child_gender="Nam",
            birth_place="Trạm Y tế xã Tân Lập, tỉnh Phú Thọ",
            mother_name=APPLICANT,
            registered_at=T0,
            declarer_name=APPLICANT,
            signer_name=LEADER,
            dossier_code=CODE,
        )
    )


def _marriage_certificate() -> bytes:
    return render_marriage_certificate(
        MarriageCertificateData(
            agency_name=COMMUNE,
            husband=Spouse("Trần Văn Nam", dt.date(1995, 5, 1), "001095012345", "Thôn Đông, xã Tân Lập"),
            wife=Spouse(APPLICANT, dt.date(1996, 8, 12), "001196012345", "Thôn Tây, xã Tân Lập"),
            registered_at=T0,
            signer_name=LEADER,
            dossier_code=CODE,
        )
    )


def _copy_certification(original: bytes) -> bytes:
    return render_copy_certification(
        CopyCertificationData(
            agency_name=COMMUNE,
            paper_name="Bằng tốt nghiệp trung học phổ thông",
            applicant_name=APPLICANT,
            original_pages=len(page_sizes(original)),
            signer_name=LEADER,
            dossier_code=CODE,
        )
    )


def _scan_png() -> bytes:
    """A citizen's scan as a photograph would deliver it (RGB, with an alpha channel)."""
    image = Image.new("RGBA", (620, 877), (250, 248, 240, 255))
    for x in range(60, 560):
        for y in range(100, 110):
            image.putpixel((x, y), (20, 20, 120, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _certified_copy_of_an_image() -> bytes:
    original = image_as_pdf(_scan_png())
    return certified_copy(original, _copy_certification(original))


def _certified_copy_of_a_pdf() -> bytes:
    original = sample_pdf("BẰNG TỐT NGHIỆP TRUNG HỌC PHỔ THÔNG")
    return certified_copy(original, _copy_certification(original))


def _permit() -> bytes:
    return render_construction_permit(
        PermitData(
            parent_agency=COMMUNE,
            issuing_authority="Phòng Kinh tế",
            place_name="Tân Lập",
            permit_code=f"GPXD-{CODE}",
            owner_name=APPLICANT,
            owner_id_number="001185012345",
            construction_address="Thôn Đông, xã Tân Lập, tỉnh Phú Thọ",
            parcel_number="125",
            map_sheet="12",
            land_certificate="CS 012345",
            building_area_m2=90,
            total_floor_area_m2=270,
            floors=3,
            height_m="11,5",
            inspected_on=T0,
            issued_at=T0 + dt.timedelta(days=10),
            signer_name=LEADER,
        )
    )


def _land_certificate() -> bytes:
    return render_land_certificate(
        LandCertificateData(
            parent_agency=COMMUNE,
            place_name="Tân Lập",
            certificate_code=f"GCN-{CODE}",
            holder_name=APPLICANT,
            holder_id_number="001185012345",
            land_address="Thôn Đông, xã Tân Lập, tỉnh Phú Thọ",
            parcel_number="125",
            map_sheet="12",
            area_m2=200,
            land_use_purpose="Đất ở tại nông thôn",
            land_origin="Nhận chuyển nhượng",
            use_term="Lâu dài",
            issued_at=T0 + dt.timedelta(days=20),
            signer_name=LEADER,
            prepared_by="Văn phòng đăng ký đất đai tỉnh Phú Thọ",
        )
    )


def _inspection_record() -> bytes:
    return render_inspection_record(
        InspectionRecordData(
            parent_agency=COMMUNE,
            agency_name="Phòng Kinh tế",
            place_name="Tân Lập",
            dossier_code=CODE,
            owner_name=APPLICANT,
            construction_address="Thôn Đông, xã Tân Lập, tỉnh Phú Thọ",
            parcel_number="125",
            map_sheet="12",
            inspected_at=T0 + dt.timedelta(days=2),
            inspector_name="Trần Văn Bình",
            findings="Hiện trạng khu đất phù hợp với hồ sơ đề nghị cấp phép.",
        )
    )


def _tax_notice() -> bytes:
    return render_tax_notice(
        TaxNoticeData(
            agency_name="Chi cục Thuế khu vực I",
            parent_agency=None,
            place_name="Tân Lập",
            dossier_code=CODE,
            taxpayer_name=APPLICANT,
            taxpayer_id_number="001185012345",
            land_address="Thôn Đông, xã Tân Lập, tỉnh Phú Thọ",
            parcel_number="125",
            map_sheet="12",
            area_m2=200,
            registration_fee_vnd=1_500_000,
            issued_at=T0 + dt.timedelta(days=5),
            official_name="Trần Văn Bình",
        )
    )


FAMILIES: dict[str, Callable[[], bytes]] = {
    "receipt-2018": lambda: render_receipt(receipt_data()),
    "receipt-2025": lambda: render_receipt(receipt_data(), NEW),
    "supplement-request": lambda: render_supplement_request(supplement_data()),
    "refusal": lambda: render_refusal(refusal_data()),
    "apology": _apology,
    "stop-notice": _stop_notice,
    "control-sheet": _control_sheet,
    "tracking-register": _tracking_register,
    "household-business-certificate": lambda: render_household_business_certificate(certificate_data()),
    "result-template": _result,
    "birth-certificate": _birth_certificate,
    "marriage-certificate": _marriage_certificate,
    "certified-copy-of-an-image": _certified_copy_of_an_image,
    "certified-copy-of-a-pdf": _certified_copy_of_a_pdf,
    "construction-permit": _permit,
    "inspection-record": _inspection_record,
    "tax-notice": _tax_notice,
    "land-certificate": _land_certificate,
    "demo-scan": lambda: sample_pdf("GIẤY ĐỀ NGHỊ ĐĂNG KÝ HỘ KINH DOANH"),
}


def _plain_reportlab_pdf() -> bytes:
    out = io.BytesIO()
    c = Canvas(out, pagesize=A4, invariant=True)
    c.drawString(72, 770, "Motcua")
    c.showPage()
    c.save()
    return out.getvalue()


@pytest.fixture(scope="module")
def unsigned(verapdf: VeraPdf, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:  # noqa: F811
    folder = tmp_path_factory.mktemp("pdfa")
    files = {name: folder / f"{name}.pdf" for name in [*FAMILIES, "plain-reportlab"]}
    for name, render in FAMILIES.items():
        files[name].write_bytes(render())
    files["plain-reportlab"].write_bytes(_plain_reportlab_pdf())
    reports = verapdf.validate(list(files.values()))
    return dict(zip(files, reports, strict=True))


def test_verapdf_rejects_what_reportlab_writes_by_default(unsigned: dict[str, Report]) -> None:
    report = unsigned["plain-reportlab"]
    assert not report.compliant, report
    broken = {(rule.clause, rule.test) for rule in report.failed}
    assert ("6.6.2.1", 1) in broken, report  # no XMP metadata in the catalog
    assert ("6.2.4.3", 4) in broken, report  # device colours without an OutputIntent
    assert ("6.2.11.4.1", 1) in broken, report  # a base-14 font, not embedded


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_generated_document_is_pdfa_2b(unsigned: dict[str, Report], family: str) -> None:
    report = unsigned[family]
    assert report.compliant and not report.error, str(report)


# --------------------------------------------------------------------------------------------------------------
# Signed the way the server signs: without a TSA (B-B with the chain and revocation data in the DSS) and with the
# live certomancer TSA (tests/integration/certomancer_pki.py) as motcua.app configures it: seals B-LT, a seal that
# closes a document somebody signed B-LTA (DSS, VRI, document timestamp), the leader's signature timestamped


COMMUNE_CODE = "000.00.31.H99"
LEADER_ID = "lanhdao.xa1"


def _signed_documents(folder: Path, tsa: LivePki | None = None) -> dict[str, bytes]:
    from dossiers.ports import SignatureRequest
    from services.civil_status import COPY_FORM, COPY_SEAL_FIELD, certified_copy_fields
    from signing import DevelopmentPki, PadesSigner, create_signature_fields
    from signing.appearance import (
        copy_style,
        development_seal_png,
        development_signature_png,
        leader_style,
        seal_box,
        seal_style,
    )
    from signing.device import DeviceClient
    from signing.fields import LEADER_FIELD, SEAL_FIELD, fill_number_and_date, prepare_fields
    from signing.pki import DEVELOPMENT_PASSPHRASE
    from signing.two_step import finish, prepare

    pki = DevelopmentPki(folder / "pki")
    pki.ensure([(COMMUNE_CODE, COMMUNE)], [(LEADER_ID, LEADER, COMMUNE_CODE)], dt.datetime.now(dt.UTC))
    seal = seal_style(development_seal_png(COMMUNE, cache_dir=folder / "images"), COMMUNE)
    signer = PadesSigner(
        pki,
        styles=lambda request: seal if request.field_name == SEAL_FIELD else None,
        timestamper_url=tsa.tsa_url if tsa else None,
        trust_roots=[tsa.root] if tsa else (),
    )
    seal_request = SignatureRequest(f"agency:{COMMUNE_CODE}", SEAL_FIELD, "Đóng dấu")
    device = DeviceClient(pki.pkcs12_path(f"person:{LEADER_ID}").read_bytes(), DEVELOPMENT_PASSPHRASE)

    def leader_signs(pdf: bytes) -> bytes:
        """services.signatures: prepared with room for the timestamp when a TSA is configured, finished with the
        seals' evidence (the signature timestamp, the chain and revocation data)."""
        request = SignatureRequest(f"person:{LEADER_ID}", LEADER_FIELD, "Phê duyệt", certify=True)
        appearance = leader_style(development_signature_png(LEADER, cache_dir=folder / "images"))
        prepared = prepare(
            pdf, pki.public_chain(f"person:{LEADER_ID}"), request, appearance=appearance, timestamp_room=bool(tsa)
        )
        signature = device.sign(prepared.data_to_sign, prepared.md_algorithm)
        return finish(prepared, signature, evidence=signer.evidence())

    # a receipt: the seal field at the signature box, then the seal (services.paperwork's VISIBLE_SEAL)
    receipt = create_signature_fields(
        render_receipt(receipt_data()), [SEAL_FIELD], boxes={SEAL_FIELD: (SIGNATURE_BOX.page, SIGNATURE_BOX.box)}
    )
    # a result: every field first (Decree 30 order), the leader certifies, the number and date, then the seal
    fields = prepare_fields(
        _result(), leader_box=LEADER_BOX, number_box=NUMBER_BOX, date_box=DATE_BOX, seal_box=seal_box(LEADER_BOX)
    )
    led = leader_signs(fields)
    numbered = fill_number_and_date(led, "12/GCN-UBND", "Tân Lập, ngày 05 tháng 3 năm 2026")
    # a Mẫu 05 the head signs (services.paperwork._request_head_signature), then the seal over its left third
    letter = create_signature_fields(
        _stop_notice(),
        [LEADER_FIELD, SEAL_FIELD],
        boxes={
            LEADER_FIELD: (SIGNATURE_BOX.page, SIGNATURE_BOX.box),
            SEAL_FIELD: (SIGNATURE_BOX.page, seal_box(SIGNATURE_BOX.box)),
        },
    )
    head_signed = leader_signs(letter)
    # a certified copy of a photographed paper: its fields, the leader, the number and date, the copy stamp
    original = image_as_pdf(_scan_png())
    sizes = page_sizes(original)
    copy_fields = certified_copy_fields(certified_copy(original, _copy_certification(original)), sizes[0], len(sizes))
    copy_numbered = fill_number_and_date(
        leader_signs(copy_fields), "7/2026/SCT/BS", "Tân Lập, ngày 05 tháng 3 năm 2026"
    )
    stamp = copy_style(COPY_FORM, COMMUNE)
    copier = signer.restyled(lambda request: stamp if request.field_name == COPY_SEAL_FIELD else None)
    return {
        "receipt-with-fields": receipt,
        "receipt-sealed": signer.sign(receipt, seal_request),
        "result-with-fields": fields,
        "result-leader-signed": led,
        "result-numbered": numbered,
        "result-sealed": signer.sign(numbered, seal_request),
        "letter-with-fields": letter,
        "letter-head-signed": head_signed,
        "letter-sealed": signer.sign(head_signed, seal_request),
        "certified-copy-with-fields": copy_fields,
        "certified-copy-stamped": copier.sign(
            copy_numbered, SignatureRequest(f"agency:{COMMUNE_CODE}", COPY_SEAL_FIELD, "Chứng thực bản sao")
        ),
    }


@dataclass
class Signed:
    documents: dict[str, bytes]
    reports: dict[str, Report]


def _validated(verapdf: VeraPdf, folder: Path, documents: dict[str, bytes]) -> Signed:  # noqa: F811
    files = {}
    for name, pdf in documents.items():
        files[name] = folder / f"{name}.pdf"
        files[name].write_bytes(pdf)
    reports = verapdf.validate(list(files.values()))
    return Signed(documents, dict(zip(files, reports, strict=True)))


@pytest.fixture(scope="module")
def signed(verapdf: VeraPdf, tmp_path_factory: pytest.TempPathFactory) -> Signed:  # noqa: F811
    folder = tmp_path_factory.mktemp("pdfa-signed")
    return _validated(verapdf, folder, _signed_documents(folder))


@pytest.fixture(scope="module")
def signed_with_a_tsa(
    verapdf: VeraPdf,  # noqa: F811
    live_pki: LivePki,
    tmp_path_factory: pytest.TempPathFactory,
) -> Signed:
    folder = tmp_path_factory.mktemp("pdfa-tsa")
    documents = _signed_documents(folder, live_pki)
    # the archive's renewal (signing.ltv.add_archival_timestamp): the last timestamp's data, a new timestamp
    documents["result-timestamp-renewed"] = _renewed(documents["result-sealed"], live_pki)
    return _validated(verapdf, folder, documents)


def _renewed(pdf: bytes, tsa: LivePki) -> bytes:
    from signing.ltv import add_archival_timestamp, validation_context_for_signing

    return add_archival_timestamp(
        pdf, timestamper_url=tsa.tsa_url, validation_context=validation_context_for_signing([tsa.root])
    )


STAGES = (
    "receipt-with-fields",
    "receipt-sealed",
    "result-with-fields",
    "result-leader-signed",
    "result-numbered",
    "result-sealed",
    "letter-with-fields",
    "letter-head-signed",
    "letter-sealed",
    "certified-copy-with-fields",
    "certified-copy-stamped",
)
"""Every state, the ones in between too (the leader's pending and signed copies: the number and date fields
exist, empty, with an empty appearance — ISO 19005-2 §6.3.3 wants one for every widget)."""

TSA_STAGES = {
    "receipt-sealed": "B-LT",
    "result-leader-signed": "B-T",
    "result-numbered": "B-T",
    "result-sealed": "B-LTA",
    "letter-head-signed": "B-T",
    "letter-sealed": "B-LTA",
    "certified-copy-stamped": "B-LTA",
    "result-timestamp-renewed": "B-LTA",
}
"""The signed states with a TSA, and the level of their last signature (the leader's B-T plus its DSS entries)."""


@pytest.mark.parametrize("stage", STAGES)
def test_pdfa_2b_through_the_signatures(signed: Signed, stage: str) -> None:
    """What is issued (sealed, stamped) is PDF/A-2b, and so is every state on the way."""
    report = signed.reports[stage]
    assert report.compliant and not report.error, str(report)


@pytest.mark.parametrize("stage", sorted(TSA_STAGES))
def test_pdfa_2b_at_b_lt_and_b_lta(signed_with_a_tsa: Signed, stage: str) -> None:
    """The DSS (its CRL, OCSP and certificate streams, the VRI) and the document timestamps' invisible fields keep
    the file PDF/A-2b; so does the renewal of the archive timestamp."""
    report = signed_with_a_tsa.reports[stage]
    assert report.compliant and not report.error, str(report)


@pytest.mark.parametrize("stage", sorted(TSA_STAGES))
def test_the_tsa_stages_carry_what_their_level_needs(signed_with_a_tsa: Signed, stage: str) -> None:
    """What the PDF/A check above judged: a DSS with revocation data, signature timestamps, document timestamps."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import DocumentSecurityStore

    reader = PdfFileReader(io.BytesIO(signed_with_a_tsa.documents[stage]), strict=False)
    dss = DocumentSecurityStore.read_dss(reader)
    assert dss.crls or dss.ocsps, stage
    signatures = reader.embedded_regular_signatures
    assert signatures and all("signature_time_stamp_token" in _unsigned(s) for s in signatures), stage
    document_timestamps = len(reader.embedded_timestamp_signatures)
    expected = {"B-T": 0, "B-LT": 0, "B-LTA": 1}[TSA_STAGES[stage]] + (stage == "result-timestamp-renewed")
    assert document_timestamps == expected, stage


def _unsigned(signature: EmbeddedPdfSignature) -> set[str]:
    attributes = signature.signer_info["unsigned_attrs"]
    return {attribute["type"].native for attribute in attributes} if attributes.native else set()
