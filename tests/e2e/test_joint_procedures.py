"""The construction permit (with its site inspection) and the joint land procedure across three agencies,
end to end over HTTP on the simulated clock, on both engines.

The land procedure hands the dossier commune → land registration office → tax office → commune → land
registration office → commune → land registration office; each hand-off is one ``exchange.delivered`` audit
entry, and only the receiving agency's officials see the next step.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dossiers.calendar import VN_TZ
from dossiers.ports import ExchangeDocument
from services.exchange import InProcessExchange
from signing.validate import PadesValidator
from tests.conftest import ENGINES, Api, minimal_pdf
from tests.pdftools import pdftotext
from workers.runtime import Complete, TaskContext

pytestmark = [ENGINES]

CONSTRUCTION = "1.009994"
LAND = "1.013978"
COMMUNE = "000.00.31.H99"
LAND_OFFICE = "000.40.00.H99"
TAX_OFFICE = "000.50.00.H99"

CONSTRUCTION_DETAILS = {
    "construction_address": "Thôn Đông, xã Hòa An, tỉnh Demo",
    "parcel_number": "125",
    "map_sheet": "18",
    "land_certificate": "CS 012345, cấp ngày 12/5/2020",
    "building_area_m2": 80,
    "total_floor_area_m2": 240,
    "floors": 3,
    "height_m": "11,5",
}
LAND_DETAILS = {
    "land_address": "Xóm Bãi, xã Hòa An, tỉnh Demo",
    "parcel_number": "47",
    "map_sheet": "9",
    "area_m2": 120,
    "land_use_purpose": "Đất ở tại nông thôn",
    "land_origin": "Được ông bà để lại, sử dụng ổn định từ năm 1990, không tranh chấp",
    "used_since": "1990-06-01",
}


def _submit(api: Api, procedure: str) -> str:
    if procedure == CONSTRUCTION:
        details, files = (
            CONSTRUCTION_DETAILS,
            {
                "paper.don_de_nghi": ("don.pdf", minimal_pdf("don"), "application/pdf"),
                "paper.giay_to_dat": ("gcn.pdf", minimal_pdf("gcn"), "application/pdf"),
                "paper.ban_ve": ("ban-ve.pdf", minimal_pdf("ban ve"), "application/pdf"),
            },
        )
    else:
        details, files = (
            LAND_DETAILS,
            {
                "paper.don_dang_ky": ("don-04dk.pdf", minimal_pdf("don 04"), "application/pdf"),
                "paper.giay_to_nhan_than": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
            },
        )
    r = api.submit(procedure=procedure, files=files, details=json.dumps(details, ensure_ascii=False))
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def _tasks(api: Api, username: str, code: str) -> list[dict[str, Any]]:
    return [t for t in api.get("/api/tasks", username).json() if t["dossier_code"] == code]


def _history(api: Api, code: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json() if e["kind"] == kind]


def _document(api: Api, code: str, kind: str) -> bytes:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [doc] = [d for d in view["documents"] if d["kind"] == kind]
    r = api.get(f"/api/dossiers/{code}/documents/{doc['id']}", "tiepnhan.xa1")
    assert r.status_code == 200
    return bytes(r.content)


def _validated(api: Api, pdf: bytes, signers: list[str]) -> None:
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    assert len(report.signatures) == len(signers)
    for name, check in zip(signers, report.signatures, strict=True):
        assert name in check.signer_subject, (name, check.signer_subject)


def _ok(r: Any) -> None:
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ construction permit


def test_construction_permit_needs_the_site_inspection_before_approval(api: Api, tmp_path: Path) -> None:
    code = _submit(api, CONSTRUCTION)
    assert api.work() == 3  # accept, receipt, step.plan
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    # 15 days (Law on Construction Art. 102): counted in calendar days from Monday 2 March 2026
    assert dt.datetime.fromisoformat(view["due_at"]).astimezone(VN_TZ).date() == dt.date(2026, 3, 17)

    # the specialist's only step is the site inspection; nothing can be approved yet
    [task] = _tasks(api, "chuyenvien1.xa1", code)
    assert task["activity_id"] == "site_inspection"
    assert task["decisions"] == {}
    assert _tasks(api, "lanhdao.xa1", code) == []
    refused = api.post(f"/api/tasks/{task['id']}/complete", "chuyenvien1.xa1", json={"decision": "approve"})
    assert refused.status_code == 422, refused.text
    findings = "Khu đất bằng phẳng, ranh giới đúng sơ đồ; không lấn chiếm hành lang giao thông."
    _ok(api.decide("chuyenvien1.xa1", code, None, findings))
    assert api.work() == 1  # documents.inspection_record
    record = _document(api, code, "inspection_record")
    text = " ".join(pdftotext(record, tmp_path).split())
    assert "BIÊN BẢN KIỂM TRA HIỆN TRẠNG" in text
    assert findings in text
    assert "Trần Văn Minh" in text
    _validated(api, record, ["Ủy ban nhân dân xã Hòa An"])

    assert api.task_for("chuyenvien1.xa1", code)["activity_id"] == "review"
    _ok(api.decide("chuyenvien1.xa1", code, "approve", "Đủ điều kiện cấp phép"))
    _ok(api.decide("lanhdao.xa1", code, "approve"))
    api.issue_result(code)
    permit = _document(api, code, "result")
    text = " ".join(pdftotext(permit, tmp_path).split())
    expected_texts = ("GIẤY PHÉP XÂY DỰNG", "NGUYỄN VĂN AN", "Tổng diện tích sàn: 240 m²", "Số: 01/GPXD")
    for expected in expected_texts:
        assert expected in text, (expected, text)
    _validated(api, permit, ["Phạm Văn Hùng", "Ủy ban nhân dân xã Hòa An"])
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(permit)
    assert [s.field_name for s in report.signatures] == ["leader_signature", "agency_seal"]

    _ok(api.decide("tiepnhan.xa1", code, None))
    api.work()
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "returned"


def test_a_late_site_inspection_is_escalated_on_the_simulated_clock(api: Api) -> None:
    code = _submit(api, CONSTRUCTION)
    api.work()
    [task] = _tasks(api, "chuyenvien1.xa1", code)
    due = dt.datetime.fromisoformat(task["due_at"])
    # 07 working days for the inspection: Monday 2 March 08:00 → Wednesday 11 March 08:00
    assert due.astimezone(VN_TZ) == dt.datetime(2026, 3, 11, 8, 0, tzinfo=VN_TZ)
    api.advance(days=8)  # Tuesday 10 March: not yet
    assert _history(api, code, "step.escalated") == []
    api.advance(days=1, minutes=1)
    [escalated] = _history(api, code, "step.escalated")
    assert escalated["details"]["step"] == "site_inspection"
    assert escalated["details"]["agency"] == COMMUNE
    # non-interrupting: the inspection still waits for the specialist
    assert api.task_for("chuyenvien1.xa1", code)["activity_id"] == "site_inspection"


# ------------------------------------------------------------------ the joint land procedure


def _only(api: Api, username: str, code: str, activity: str) -> dict[str, Any]:
    tasks = _tasks(api, username, code)
    assert [t["activity_id"] for t in tasks] == [activity], tasks
    return tasks[0]


def test_land_registration_passes_through_three_agencies(api: Api, tmp_path: Path) -> None:
    code = _submit(api, LAND)
    assert api.work() == 3  # accept, receipt, step.plan
    _only(api, "chuyenvien1.xa1", code, "verify_origin")
    assert _tasks(api, "chuyenvien.vpdk", code) == []
    assert api.get(f"/api/dossiers/{code}", "chuyenvien.vpdk").status_code == 403  # not handed over yet
    _ok(api.decide("chuyenvien1.xa1", code, "approve", "Đất sử dụng ổn định, không tranh chấp"))
    assert api.work() == 1  # hand-off 1: commune → land registration office

    # the land registration office's officials see the step; the commune's do not
    _only(api, "chuyenvien.vpdk", code, "cadastral_check")
    assert _tasks(api, "chuyenvien1.xa1", code) == []
    assert _tasks(api, "chuyenvien.thue", code) == []
    view = api.get(f"/api/dossiers/{code}", "chuyenvien.vpdk")
    assert view.status_code == 200  # the delivered papers can be read by the receiver
    assert api.get(f"/api/dossiers/{code}", "chuyenvien.thue").status_code == 403
    task = api.task_for("chuyenvien.vpdk", code)
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 403
    _ok(api.decide("chuyenvien.vpdk", code, "approve"))
    assert api.work() == 1  # hand-off 2: land registration office → tax office

    _only(api, "chuyenvien.thue", code, "tax_assessment")
    assert _tasks(api, "chuyenvien.vpdk", code) == []
    _ok(api.decide("chuyenvien.thue", code, None, "Không thuộc diện phải nộp tiền sử dụng đất"))
    assert api.work() == 2  # documents.tax_notice; hand-off 3: tax office → commune
    notice = _document(api, code, "tax_notice")
    text = " ".join(pdftotext(notice, tmp_path).split())
    assert "THÔNG BÁO NỘP TIỀN" in text
    assert "1.200.000 đồng" in text  # 0.5 % of 120 m² at the demo price
    _validated(api, notice, ["Thuế cơ sở 1 tỉnh Demo"])

    _only(api, "tiepnhan.xa1", code, "payment_confirmed")
    _ok(api.decide("tiepnhan.xa1", code, None, "Đã nộp theo chứng từ số 0001234"))
    assert api.work() == 1  # hand-off 4: commune → land registration office
    _only(api, "chuyenvien.vpdk", code, "draft_certificate")
    _ok(api.decide("chuyenvien.vpdk", code, None))
    assert api.work() == 1  # hand-off 5: land registration office → commune
    assert _tasks(api, "chuyenvien.vpdk", code) == []
    assert _tasks(api, "lanhdao.vpdk", code) == []
    _only(api, "lanhdao.xa1", code, "approve")
    _ok(api.decide("lanhdao.xa1", code, None))
    api.issue_result(code)  # prepare, the Chairman signs on their device, the clerk numbers, seal …
    api.work()
    certificate = _document(api, code, "result")
    text = " ".join(pdftotext(certificate, tmp_path).split())
    for expected in (
        "GIẤY CHỨNG NHẬN QUYỀN SỬ DỤNG ĐẤT",
        "NGUYỄN VĂN AN",
        "Diện tích: 120 m²",
        "Chi nhánh Văn phòng đăng ký đất đai khu vực Hòa An",
        "Số: 01/GCN-QSDĐ",
    ):
        assert expected in text, (expected, text)
    _validated(api, certificate, ["Phạm Văn Hùng", "Ủy ban nhân dân xã Hòa An"])

    _ok(api.decide("tiepnhan.xa1", code, None))
    api.work()
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "returned"

    deliveries = _history(api, code, "exchange.delivered")
    route = [(e["details"]["sender"], e["details"]["receiver"]) for e in deliveries]
    assert route == [
        (COMMUNE, LAND_OFFICE),
        (LAND_OFFICE, TAX_OFFICE),
        (TAX_OFFICE, COMMUNE),
        (COMMUNE, LAND_OFFICE),
        (LAND_OFFICE, COMMUNE),
        (COMMUNE, LAND_OFFICE),
    ]
    assert len({e["details"]["message_id"] for e in deliveries}) == 6  # each hand-off exactly once
    first_papers = {d["kind"] for d in deliveries[0]["details"]["documents"]}
    assert first_papers == {"upload", "receipt"}
    assert [d["kind"] for d in deliveries[-1]["details"]["documents"]] == ["result"]


def test_a_redelivered_exchange_task_delivers_once(api: Api) -> None:
    code = _submit(api, LAND)
    api.work()
    _ok(api.decide("chuyenvien1.xa1", code, "approve"))
    engine = api.runtime.engine
    [task] = engine.fetch_and_lock("test-worker", ["exchange.send"], 1, 300)
    ctx = TaskContext(task.id, task.topic, task.activity_id, task.instance_id, task.business_key, task.variables)
    handler = api.runtime.worker.handlers["exchange.send"]
    first, again = handler(ctx), handler(ctx)  # the lock expired after the side effect: the task comes back
    assert isinstance(first, Complete) and isinstance(again, Complete)
    assert first.variables == again.variables
    assert first.variables["current_agency"] == LAND_OFFICE
    assert len(_history(api, code, "exchange.delivered")) == 1
    engine.complete_external_task(task.id, "test-worker", first.variables)
    api.work()
    assert len(_history(api, code, "exchange.delivered")) == 1
    _only(api, "chuyenvien.vpdk", code, "cadastral_check")

    # the port itself: the same message id returns the first receipt and delivers nothing
    exchange = InProcessExchange(api.runtime.db, api.runtime.clock, api.runtime.shop)
    receipt = exchange.send(COMMUNE, LAND_OFFICE, code, first.variables["last_exchange_message"], [])
    assert receipt.duplicate
    assert receipt.receiver_agency == LAND_OFFICE
    assert len(_history(api, code, "exchange.delivered")) == 1
    # a manifest naming a document with another hash is refused
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    doc = view["documents"][0]
    wrong = ExchangeDocument(doc["id"], doc["kind"], doc["filename"], "0" * 64)
    from dossiers.errors import Conflict

    with pytest.raises(Conflict):
        exchange.send(COMMUNE, TAX_OFFICE, code, "another-message", [wrong])
    assert len(_history(api, code, "exchange.delivered")) == 1


def test_a_supplement_re_arms_the_step_timer_at_the_shifted_date(api: Api) -> None:
    code = _submit(api, LAND)
    api.work()
    _ok(api.decide("chuyenvien1.xa1", code, "approve"))
    api.work()
    before = dt.datetime.fromisoformat(api.task_for("chuyenvien.vpdk", code)["due_at"])
    _ok(api.decide("chuyenvien.vpdk", code, "supplement", "Bổ sung mảnh trích đo địa chính"))
    assert api.work() == 1  # Mẫu 02; the clock pauses
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "supplement_requested"

    api.advance(days=2)  # Wednesday 4 March 08:00: two working days paused
    files = {"paper.ban_do_trich_do": ("trich-do.pdf", minimal_pdf("trich do"), "application/pdf")}
    _ok(api.post(f"/api/dossiers/{code}/supplement", "tiepnhan.xa1", files=files))
    assert api.work() == 2  # dossier.resume, step.reschedule
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    paused = int(view["paused_seconds"])
    assert paused > 0
    task = _only(api, "chuyenvien.vpdk", code, "cadastral_check")
    after = dt.datetime.fromisoformat(task["due_at"])
    assert after == api.runtime.shop.calendar.add_working_seconds(before, paused)
    assert after > before

    # the re-entered step's timer reads the new date: nothing at the old one, one escalation at the new one
    clock: Any = api.runtime.clock
    api.advance(seconds=(before - clock.now()).total_seconds() + 60)
    assert _history(api, code, "step.escalated") == []
    api.advance(seconds=(after - clock.now()).total_seconds() + 60)
    [escalated] = _history(api, code, "step.escalated")
    assert escalated["details"]["step"] == "cadastral_check"
    assert escalated["details"]["agency"] == LAND_OFFICE
    assert dt.datetime.fromisoformat(escalated["details"]["step_due_at"]) == after
