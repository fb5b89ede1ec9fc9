"""Đăng ký thành lập hộ kinh doanh end to end over HTTP on the simulated clock: every path, every form.

Each produced PDF is read back through the API and checked three ways: its text (pdftotext, Vietnamese
diacritics intact), our validator, and poppler's pdfsig as an independent verifier.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dossiers.calendar import VN_TZ
from motcua.cli import app as cli
from signing.validate import PadesValidator
from tests.conftest import ENGINES, HOUSEHOLD_BUSINESS, Api
from tests.pdftools import nss_db_trusting, pdfsig, pdftotext

# The procedures' end-to-end tests run on both engines (Operaton on the suite's PostgreSQL).
pytestmark = [ENGINES]

DETAILS = {
    "business_name": "Tạp hóa Bình An",
    "business_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "business_lines": ["Bán lẻ lương thực, thực phẩm", "Bán lẻ đồ uống"],
    "capital_vnd": 150000000,
    "owner_birth_date": "1985-04-12",
    "owner_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
}


@pytest.fixture
def nss(api: Api, tmp_path: Path) -> str:
    (tmp_path / "nss").mkdir()
    return nss_db_trusting(api.runtime.pki.root_cert_path, tmp_path / "nss")


def _documents(api: Api, code: str, kind: str) -> list[dict[str, Any]]:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    return [d for d in view["documents"] if d["kind"] == kind]


def _download(api: Api, code: str, doc: dict[str, Any]) -> bytes:
    r = api.get(f"/api/dossiers/{code}/documents/{doc['id']}", "tiepnhan.xa1")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    return bytes(r.content)


def _check_signed(api: Api, pdf: bytes, nss: str, tmp_path: Path, signers: list[str]) -> None:
    """Our validator and pdfsig agree: every signature intact, valid and trusted, signed by ``signers``."""
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert len(report.signatures) == len(signers)
    for name, check in zip(signers, report.signatures, strict=True):
        assert name in check.signer_subject, (name, check.signer_subject)
    blocks = pdfsig(pdf, nss, tmp_path)
    assert len(blocks) == len(signers)
    for block, name in zip(blocks, signers, strict=True):
        assert block.get("Signature Validation") == "Signature is Valid.", block
        assert block.get("Certificate Validation") == "Certificate is Trusted.", block
        assert name in block.get("Signer Certificate Common Name", ""), block
        assert block.get("Signature Type") == "ETSI.CAdES.detached", block


def _kinds(api: Api, code: str) -> list[str]:
    return [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]


def _submit(api: Api, **details: Any) -> dict[str, Any]:
    import json

    r = api.submit(procedure=HOUSEHOLD_BUSINESS, details=json.dumps(DETAILS | details, ensure_ascii=False))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_approved_registration_gets_a_receipt_and_a_certificate_signed_by_the_leader_then_sealed(
    api: Api, nss: str, tmp_path: Path
) -> None:
    dossier = _submit(api)
    code = dossier["code"]
    assert dossier["rule_version"] == "2025-07-01"
    assert dossier["details"]["business_lines"] == DETAILS["business_lines"]
    assert api.work() == 2  # accept, receipt

    [receipt] = _documents(api, code, "receipt")
    pdf = _download(api, code, receipt)
    text = pdftotext(pdf, tmp_path)
    for expected in (
        "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
        code,
        "Nguyễn Văn An",
        "Đăng ký thành lập hộ kinh doanh",
        "Trung tâm Phục vụ hành chính công",
        "Nguyễn Thị Lan",  # the reception officer
        "08 giờ 00 phút, ngày 05/3/2026",  # received Monday 08:00, 3 working days: Thursday 08:00
    ):
        assert expected in text, (expected, text)
    _check_signed(api, pdf, nss, tmp_path, ["Ủy ban nhân dân xã Hòa An"])

    assert api.decide("chuyenvien1.xa1", code, "approve", "Hồ sơ hợp lệ").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    assert api.work() == 1  # result.prepare: every field created, the leader's signature prepared

    # Decree 30 order: the leader signs on their own device; a click cannot stand in for it
    sign_task = api.task_for("lanhdao.xa1", code)
    assert sign_task["activity_id"] == "sign_result"
    refused = api.post(f"/api/tasks/{sign_task['id']}/complete", "lanhdao.xa1", json={})
    assert refused.status_code == 409
    [pending] = api.get("/api/signatures/pending", "lanhdao.xa1").json()
    # a value from another person's key does not match the leader's certificate: refused, nothing changes
    import base64

    foreign = api.device("vanthu.xa1").sign(base64.b64decode(pending["data_to_sign"]), "sha256")
    wrong = api.post(
        f"/api/signatures/{pending['id']}", "lanhdao.xa1", json={"signature_value": base64.b64encode(foreign).decode()}
    )
    assert wrong.status_code == 422, wrong.text
    assert "không khớp" in wrong.json()["title"]
    assert api.task_for("lanhdao.xa1", code)["activity_id"] == "sign_result"
    # nobody else may sign in the leader's place
    assert api.get(f"/api/signatures/{pending['id']}", "vanthu.xa1").status_code == 403
    assert api.sign_on_device("lanhdao.xa1", code).status_code == 200
    # the records clerk registers the number and date; then the agency seal is applied
    assert api.task_for("vanthu.xa1", code)["activity_id"] == "register_number"
    assert api.decide("vanthu.xa1", code, None).status_code == 200
    assert api.work() == 2  # result.seal, dossier.result_ready
    [result] = _documents(api, code, "result")
    pdf = _download(api, code, result)
    text = pdftotext(pdf, tmp_path)
    for expected in (
        "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH",
        "TẠP HÓA BÌNH AN",
        "150.000.000 đồng",
        "Phạm Văn Hùng",
        "Số: 01/GCN-HKD",  # filled by the clerk's step after the leader's signature
    ):
        assert expected in text, (expected, text)
    _check_signed(api, pdf, nss, tmp_path, ["Phạm Văn Hùng", "Ủy ban nhân dân xã Hòa An"])
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.signatures[0].field_name == "leader_signature"
    assert report.signatures[1].field_name == "agency_seal"
    assert report.signatures[1].modification_level == "LTA_UPDATES"  # only its chain and revocation data follow
    assert report.signatures[0].modification_level == "FORM_FILLING"  # only the number and date were added

    # the CLI verifier agrees and exits 0
    path = tmp_path / "result.pdf"
    path.write_bytes(pdf)
    run = CliRunner().invoke(
        cli, ["verify", str(path), "--json"], env={"MOTCUA_VAR_DIR": str(api.runtime.settings.var_dir)}
    )
    assert run.exit_code == 0, run.output
    assert '"indication": "TOTAL-PASSED"' in run.output

    # one flipped byte inside the signed range: the verifier says so and exits 1
    tampered = bytearray(pdf)
    offset = bytes(pdf).index(b"/MediaBox") + 2
    tampered[offset] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    var_env = {"MOTCUA_VAR_DIR": str(api.runtime.settings.var_dir)}
    run = CliRunner().invoke(cli, ["verify", str(bad)], env=var_env)
    assert run.exit_code == 1, run.output
    assert "TOTAL-FAILED" in run.output or "INDETERMINATE" in run.output
    unsigned = tmp_path / "unsigned.pdf"
    from tests.conftest import minimal_pdf

    unsigned.write_bytes(minimal_pdf())
    run = CliRunner().invoke(cli, ["verify", str(unsigned)], env=var_env)
    assert run.exit_code == 1, run.output

    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert view["status"] == "returned"
    kinds = _kinds(api, code)
    assert kinds.count("signature.applied") == 3  # receipt seal, leader, result seal
    assert [k for k in kinds if k == "dossier.status_changed"] == ["dossier.status_changed"] * 3


def test_supplement_request_is_signed_and_the_clock_pauses(api: Api, nss: str, tmp_path: Path) -> None:
    code = _submit(api)["code"]
    api.work()
    assert (
        api.decide("chuyenvien1.xa1", code, "supplement", "Bổ sung bản sao hợp đồng thuê địa điểm").status_code == 200
    )
    api.work()
    [request] = _documents(api, code, "supplement_request")
    pdf = _download(api, code, request)
    text = pdftotext(pdf, tmp_path)
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert "Bổ sung bản sao hợp đồng thuê địa điểm" in text
    assert "Trần Văn Minh" in text  # the reviewing specialist
    _check_signed(api, pdf, nss, tmp_path, ["Ủy ban nhân dân xã Hòa An"])

    due_before = dt.datetime.fromisoformat(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["due_at"])
    api.advance(days=1)
    from tests.conftest import minimal_pdf

    files = {"paper.giay_to_phap_ly": ("hop-dong.pdf", minimal_pdf("hop dong"), "application/pdf")}
    assert api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files).status_code == 200
    api.work()
    due_after = dt.datetime.fromisoformat(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["due_at"])
    assert due_after.astimezone(VN_TZ) == due_before.astimezone(VN_TZ) + dt.timedelta(days=1)

    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    [result] = _documents(api, code, "result")
    _check_signed(api, _download(api, code, result), nss, tmp_path, ["Phạm Văn Hùng", "Ủy ban nhân dân xã Hòa An"])


def test_refusal_is_signed_and_ends_the_dossier(api: Api, nss: str, tmp_path: Path) -> None:
    code = _submit(api)["code"]
    api.work()
    reason = "Ngành, nghề kinh doanh thuộc danh mục cấm đầu tư kinh doanh"
    assert api.decide("chuyenvien1.xa1", code, "refuse", reason).status_code == 200
    api.work()
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "refused"
    [refusal] = _documents(api, code, "refusal")
    pdf = _download(api, code, refusal)
    text = pdftotext(pdf, tmp_path)
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert reason in " ".join(text.split())
    _check_signed(api, pdf, nss, tmp_path, ["Ủy ban nhân dân xã Hòa An"])
    assert _documents(api, code, "result") == []


def test_form_fields_are_checked_at_intake(api: Api) -> None:
    import json

    missing = {k: v for k, v in DETAILS.items() if k != "business_name"}
    r = api.submit(procedure=HOUSEHOLD_BUSINESS, details=json.dumps(missing))
    assert r.status_code == 422
    assert "Tên hộ kinh doanh" in r.json()["title"]
    r = api.submit(procedure=HOUSEHOLD_BUSINESS, details=json.dumps(DETAILS | {"capital_vnd": "nhiều"}))
    assert r.status_code == 422
    assert "capital_vnd" in r.json()["detail"]
    r = api.submit(procedure=HOUSEHOLD_BUSINESS, details="{not json")
    assert r.status_code == 422
    assert api.get("/api/tasks", "chuyenvien1.xa1").json() == []
    with api.runtime.db.connect() as conn:
        from sqlalchemy import func, select

        from persistence.schema import dossier

        assert conn.execute(select(func.count()).select_from(dossier)).scalar_one() == 0


def test_auditors_verify_stored_and_uploaded_documents(api: Api, tmp_path: Path) -> None:
    code = _submit(api)["code"]
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    [result] = _documents(api, code, "result")

    # the report of a stored signed document, for an auditor (AdES validation with the development CRLs)
    r = api.get(f"/api/dossiers/{code}/documents/{result['id']}/verification", "thanhtra.tinh")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["indication"] == "TOTAL-PASSED", report
    assert report["sha256"] == result["sha256"]
    signatures = report["signatures"]
    assert [s["field_name"] for s in signatures] == ["leader_signature", "agency_seal"]

    # an uploaded copy: intact → passed; one byte changed → TOTAL-FAILED; not a PDF → 422
    pdf = _download(api, code, result)
    ok = api.post("/api/verify", "thanhtra.tinh", files={"file": ("kq.pdf", pdf, "application/pdf")})
    assert ok.status_code == 200 and ok.json()["indication"] == "TOTAL-PASSED", ok.text
    tampered = bytearray(pdf)
    tampered[bytes(pdf).index(b"/MediaBox") + 2] ^= 0x01
    bad = api.post("/api/verify", "thanhtra.tinh", files={"file": ("kq.pdf", bytes(tampered), "application/pdf")})
    assert bad.status_code == 200
    assert bad.json()["indication"] == "TOTAL-FAILED", bad.json()
    junk = api.post("/api/verify", "thanhtra.tinh", files={"file": ("x.pdf", b"not a pdf", "application/pdf")})
    assert junk.status_code == 422
    assert api.client.post("/api/verify", files={"file": ("kq.pdf", pdf, "application/pdf")}).status_code == 401
    kinds = _kinds(api, code)
    assert "signature.verified" in kinds
