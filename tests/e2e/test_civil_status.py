"""Đăng ký khai sinh, đăng ký kết hôn and chứng thực bản sao từ bản chính end to end over HTTP on the simulated
clock: intake with the papers and the form, the same-day appointment, the civil status officer's review, the
leader's approval and personal signature on their device, the records clerk's register number, the agency's
signature; the result's text (Vietnamese diacritics intact) and its signatures (TOTAL-PASSED)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from typer.testing import CliRunner

from dossiers.calendar import VN_TZ
from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from motcua.cli import app as cli
from signing.validate import PadesValidator
from tests.conftest import COMMUNE, ENGINES, Api, minimal_pdf
from tests.pdftools import pdftotext

# The procedures' end-to-end tests run on both engines (Operaton on the suite's PostgreSQL).
pytestmark = [ENGINES]

BIRTH = "1.001193"
MARRIAGE = "1.000894"
CERTIFIED_COPY = "2.000815"
OFFICER = "hotich.xa1"  # the civil status officer of the commune's "Tư pháp - Hộ tịch" department
COMMUNE_NAME = "Ủy ban nhân dân xã Hòa An"
LEADER_NAME = "Phạm Văn Hùng"

BIRTH_DETAILS = {
    "child_name": "Nguyễn Minh Khôi",
    "child_birth_date": "2026-02-15",
    "child_gender": "Nam",
    "child_ethnicity": "Kinh",
    "birth_place": "Trạm y tế xã Hòa An, tỉnh Demo",
    "hometown": "xã Hòa An, tỉnh Demo",
    "mother_name": "Trần Thị Hoa",
    "mother_birth_year": 1992,
    "mother_residence": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "father_name": "Nguyễn Văn An",
    "father_birth_year": 1990,
    "father_residence": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "declarer_relationship": "Cha",
}
MARRIAGE_DETAILS = {
    "husband_name": "Nguyễn Văn An",
    "husband_birth_date": "1990-01-05",
    "husband_id_number": "001090012345",
    "husband_residence": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "wife_name": "Lê Thị Hồng Nhung",
    "wife_birth_date": "1994-07-09",
    "wife_id_number": "001194054321",
    "wife_residence": "Thôn Tây, xã Phú Mỹ, tỉnh Demo",
    "wife_ethnicity": "Tày",
}


def _pdf(name: str, text: str) -> tuple[str, bytes, str]:
    return (name, minimal_pdf(text), "application/pdf")


@pytest.fixture
def officer(api: Api) -> str:
    """A civil status officer in the commune's Tư pháp - Hộ tịch department (role specialist)."""
    rt = api.runtime
    rt.accounts.add(OFFICER, DEMO_PASSWORD, "Đinh Thị Thu", Role.SPECIALIST, COMMUNE, f"{COMMUNE}-TPHT", rt.clock.now())
    return OFFICER


def _submit(api: Api, procedure: str, details: dict[str, Any] | None, files: dict[str, Any]) -> dict[str, Any]:
    fields = {"details": json.dumps(details, ensure_ascii=False)} if details is not None else {}
    r = api.submit(procedure=procedure, files=files, **fields)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _view(api: Api, code: str) -> dict[str, Any]:
    return dict(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json())


def _due(api: Api, code: str) -> dt.datetime:
    return dt.datetime.fromisoformat(_view(api, code)["due_at"]).astimezone(VN_TZ)


def _document(api: Api, code: str, kind: str) -> bytes:
    [doc] = [d for d in _view(api, code)["documents"] if d["kind"] == kind]
    r = api.get(f"/api/dossiers/{code}/documents/{doc['id']}", "tiepnhan.xa1")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    return bytes(r.content)


def _validated(api: Api, pdf: bytes, fields: list[str], signers: list[str]) -> Any:
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert [s.field_name for s in report.signatures] == fields
    for name, check in zip(signers, report.signatures, strict=True):
        assert name in check.signer_subject, (name, check.signer_subject)
    return report


def _text(pdf: bytes, tmp_path: Path) -> str:
    return " ".join(pdftotext(pdf, tmp_path).split())


def _issue_and_return(api: Api, code: str) -> None:
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.work()  # the result is prepared with every field; the leader's signature waits for their device
    task = api.task_for("lanhdao.xa1", code)
    assert task["activity_id"] == "sign_result"
    assert api.post(f"/api/tasks/{task['id']}/complete", "lanhdao.xa1", json={}).status_code == 409
    assert api.sign_on_device("lanhdao.xa1", code).status_code == 200
    assert api.task_for("vanthu.xa1", code)["activity_id"] == "register_number"
    assert api.decide("vanthu.xa1", code, None).status_code == 200
    api.work()  # result.seal, dossier.result_ready
    assert _view(api, code)["status"] == "result_ready"


def _hand_over(api: Api, code: str) -> None:
    assert api.task_for("tiepnhan.xa1", code)["activity_id"] == "return_result"
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()
    assert _view(api, code)["status"] == "returned"


def test_birth_registration_received_at_14h_is_due_at_17h_and_issues_a_signed_birth_certificate(
    api: Api, officer: str, tmp_path: Path
) -> None:
    api.advance(hours=6)  # Monday 14:00
    files = {
        "paper.to_khai": _pdf("to-khai.pdf", "to khai khai sinh"),
        "paper.giay_chung_sinh": _pdf("giay-chung-sinh.pdf", "giay chung sinh"),
    }
    dossier = _submit(api, BIRTH, BIRTH_DETAILS, files)
    code = dossier["code"]
    assert dossier["rule_version"] == "2016-01-01"
    assert _due(api, code) == dt.datetime(2026, 3, 2, 17, 0, tzinfo=VN_TZ)  # same day: Monday 17:00
    assert api.work() == 2  # accept, receipt
    receipt = _text(_document(api, code, "receipt"), tmp_path)
    for expected in ("Đăng ký khai sinh", "17 giờ 00 phút, ngày 02/3/2026", "Trong ngày làm việc"):
        assert expected in receipt, (expected, receipt)

    # the officer of the Tư pháp - Hộ tịch department sees and decides the review
    task = api.task_for(officer, code)
    assert task["activity_id"] == "review"
    assert set(task["decisions"]["decision"]) == {"approve", "supplement", "refuse"}
    assert api.decide(officer, code, "approve", "Thông tin khai sinh đầy đủ, phù hợp").status_code == 200
    _issue_and_return(api, code)

    pdf = _document(api, code, "result")
    report = _validated(api, pdf, ["leader_signature", "agency_seal"], [LEADER_NAME, COMMUNE_NAME])
    assert report.signatures[0].modification_level == "FORM_FILLING"  # only the number and date after it
    assert report.signatures[1].modification_level == "LTA_UPDATES"  # only its chain and revocation data follow
    text = _text(pdf, tmp_path)
    for expected in (
        "GIẤY KHAI SINH",
        "NGUYỄN MINH KHÔI",
        "Ngày, tháng, năm sinh: 15/02/2026",
        "ngày mười lăm tháng hai năm hai nghìn không trăm hai mươi sáu",
        "Giới tính: Nam",
        "Nơi sinh: Trạm y tế xã Hòa An, tỉnh Demo",
        "TRẦN THỊ HOA",
        "NGUYỄN VĂN AN",
        "Nơi đăng ký khai sinh: Ủy ban nhân dân xã Hòa An",
        "Số: 01, quyển số 01/2026",  # the clerk's register number, filled after the leader signed
        "Hòa An, ngày 02 tháng 3 năm 2026",
        LEADER_NAME,
    ):
        assert expected in text, (expected, text)
    _hand_over(api, code)
    view = _view(api, code)
    finished = dt.datetime.fromisoformat(view["finished_at"]).astimezone(VN_TZ)
    assert finished <= _due(api, code)  # resolved within the same day


def test_marriage_received_after_15h_is_due_next_working_day_supplemented_and_certified(
    api: Api, officer: str, tmp_path: Path
) -> None:
    api.advance(hours=7, minutes=30)  # Monday 15:30: after the same-day cut-off
    files = {"paper.to_khai": _pdf("to-khai.pdf", "to khai ket hon")}
    code = _submit(api, MARRIAGE, MARRIAGE_DETAILS, files)["code"]
    assert _due(api, code) == dt.datetime(2026, 3, 3, 17, 0, tzinfo=VN_TZ)  # Tuesday 17:00
    api.work()

    # the wife does not reside in the commune: her marital status certificate is asked for (Mẫu 02)
    reason = "Bổ sung Giấy xác nhận tình trạng hôn nhân của bên nữ"
    assert api.decide(officer, code, "supplement", reason).status_code == 200
    api.work()
    assert _view(api, code)["status"] == "supplement_requested"
    assert reason in _text(_document(api, code, "supplement_request"), tmp_path)
    api.advance(hours=1)  # Monday 16:30 → Tuesday 07:30: the clock is paused meanwhile
    supplement = {"paper.xac_nhan_tinh_trang_hon_nhan": _pdf("xac-nhan.pdf", "xac nhan tinh trang hon nhan")}
    assert api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=supplement).status_code == 200
    api.work()
    assert _view(api, code)["status"] == "in_progress"

    assert api.decide(officer, code, "approve", "Hai bên đủ điều kiện kết hôn").status_code == 200
    _issue_and_return(api, code)
    pdf = _document(api, code, "result")
    _validated(api, pdf, ["leader_signature", "agency_seal"], [LEADER_NAME, COMMUNE_NAME])
    text = _text(pdf, tmp_path)
    for expected in (
        "GIẤY CHỨNG NHẬN KẾT HÔN",
        "Thông tin người chồng",
        "NGUYỄN VĂN AN",
        "Ngày, tháng, năm sinh: 05/01/1990",
        "LÊ THỊ HỒNG NHUNG",
        "Dân tộc: Tày",
        "Số định danh cá nhân: 001194054321",
        "Nơi đăng ký kết hôn: Ủy ban nhân dân xã Hòa An",
        "Số: 01, quyển số 01/2026",
        LEADER_NAME,
    ):
        assert expected in text, (expected, text)
    _hand_over(api, code)


def test_certified_copy_is_the_original_with_the_statement_signed_numbered_and_sealed(
    api: Api, officer: str, tmp_path: Path
) -> None:
    files = {"paper.ban_chinh": _pdf("bang-tot-nghiep.pdf", "Bang tot nghiep trung hoc pho thong")}
    details = {"document_title": "Bằng tốt nghiệp trung học phổ thông"}
    dossier = _submit(api, CERTIFIED_COPY, details, files)
    code = dossier["code"]
    assert dossier["rule_version"] == "2025-07-01"
    assert _due(api, code) == dt.datetime(2026, 3, 2, 17, 0, tzinfo=VN_TZ)  # Monday 08:00 → Monday 17:00
    api.work()
    task = api.task_for(officer, code)
    assert set(task["decisions"]["decision"]) == {"approve", "refuse"}  # no supplement for a certification
    assert api.decide(officer, code, "approve", "Bản sao đúng với bản chính").status_code == 200
    _issue_and_return(api, code)

    pdf = _document(api, code, "result")
    report = _validated(api, pdf, ["leader_signature", "certified_copy_seal"], [LEADER_NAME, COMMUNE_NAME])
    assert report.signatures[0].modification_level == "FORM_FILLING"
    assert report.signatures[1].modification_level == "LTA_UPDATES"  # only its chain and revocation data follow
    text = _text(pdf, tmp_path)
    for expected in (
        "Bang tot nghiep trung hoc pho thong",  # page 1: the original's content
        "LỜI CHỨNG CHỨNG THỰC BẢN SAO TỪ BẢN CHÍNH",
        "Chứng thực bản sao đúng với bản chính.",
        "Giấy tờ, văn bản được chứng thực: Bằng tốt nghiệp trung học phổ thông",
        "Người yêu cầu chứng thực: Nguyễn Văn An",
        "Phí chứng thực: 2.000 đồng.",
        "Số chứng thực: 01, quyển số 01/2026-SCT/BS",
        "BẢN SAO CÓ CHỨNG THỰC",  # the Decree 30 copy stamp of the agency's signature, top right of page 1
        LEADER_NAME,
    ):
        assert expected in text, (expected, text)
    assert int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"]) == 2
    # the certification fee (2,000 đồng a page) is paid before the copy is handed over
    assert api.decide("tiepnhan.xa1", code, None).status_code == 409
    paid = api.post(f"/api/dossiers/{code}/payments/cash", "tiepnhan.xa1", json={"receipt_number": "BL-CT-0001"})
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount_vnd"] == 2000
    _hand_over(api, code)

    # the next certification of the year takes the next number of the certification book
    code2 = _submit(api, CERTIFIED_COPY, None, files)["code"]
    api.work()
    assert api.decide(officer, code2, "approve").status_code == 200
    _issue_and_return(api, code2)
    assert "Số chứng thực: 02, quyển số 01/2026-SCT/BS" in _text(_document(api, code2, "result"), tmp_path)


def test_an_original_that_cannot_be_certified_is_refused(api: Api, officer: str, tmp_path: Path) -> None:
    files = {"paper.ban_chinh": _pdf("giay-to.pdf", "giay to bi tay xoa")}
    code = _submit(api, CERTIFIED_COPY, None, files)["code"]
    api.work()
    bad = api.decide(officer, code, "supplement", "Bổ sung")
    assert bad.status_code == 422  # the law gives no supplement path here
    reason = "Bản chính bị tẩy xóa, sửa chữa (Điều 22 Nghị định 23/2015/NĐ-CP)"
    assert api.decide(officer, code, "refuse", reason).status_code == 200
    api.work()
    assert _view(api, code)["status"] == "refused"
    text = _text(_document(api, code, "refusal"), tmp_path)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert reason in text
    _validated(api, _document(api, code, "refusal"), ["agency_seal"], [COMMUNE_NAME])
    assert [d for d in _view(api, code)["documents"] if d["kind"] == "result"] == []


def test_birth_form_is_checked_at_intake_and_the_catalogue_validates(api: Api, tmp_path: Path) -> None:
    files = {
        "paper.to_khai": _pdf("to-khai.pdf", "to khai"),
        "paper.giay_chung_sinh": _pdf("giay-chung-sinh.pdf", "giay chung sinh"),
    }
    missing = {k: v for k, v in BIRTH_DETAILS.items() if k != "child_name"}
    r = api.submit(procedure=BIRTH, files=files, details=json.dumps(missing, ensure_ascii=False))
    assert r.status_code == 422 and "Họ, chữ đệm, tên người được khai sinh" in r.json()["title"]
    r = api.submit(procedure=BIRTH, files={"paper.to_khai": files["paper.to_khai"]}, details=json.dumps(BIRTH_DETAILS))
    assert r.status_code == 422 and "Giấy chứng sinh" in r.json()["title"]

    run = CliRunner().invoke(cli, ["procedures", "validate"], env={"MOTCUA_VAR_DIR": str(tmp_path / "var")})
    assert run.exit_code == 0, run.output
    assert "valid" in run.output


def test_only_the_civil_status_department_gets_birth_registration_tasks(api: Api, officer: str) -> None:
    """The catalogue routes birth registration to the Tư pháp - Hộ tịch department (`departments`): the
    economic department's specialist of the same commune neither sees nor acts on its tasks."""
    files = {
        "paper.to_khai": _pdf("to-khai.pdf", "to khai khai sinh"),
        "paper.giay_chung_sinh": _pdf("giay-chung-sinh.pdf", "giay chung sinh"),
    }
    code = _submit(api, BIRTH, BIRTH_DETAILS, files)["code"]
    api.work()
    task = api.task_for(officer, code)
    assert [t for t in api.get("/api/tasks", "chuyenvien1.xa1").json() if t["dossier_code"] == code] == []
    for action, body in (("claim", None), ("complete", {"decision": "approve"})):
        r = api.post(f"/api/tasks/{task['id']}/{action}", "chuyenvien1.xa1", json=body)
        assert r.status_code == 403 and "another department" in r.json()["detail"], r.text
    assert api.task_for(officer, code)["assignee"] is None
