"""Late dossiers and the apology letter (Mẫu 04), fees before the result is returned (cash and a signed gateway
callback), digitised paper inputs, and the public lookup (no personal data, a result link, a rate limit) —
through the HTTP API on the simulated clock."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select, update

from dossiers.calendar import VN_TZ
from integrations.payments import sign_callback
from motcua.housekeeping import operations_tick
from persistence.schema import document, dossier, late_notice, notification
from services.fees import callback_secret, is_paid
from services.late import find_late_risks
from services.notifications import build_dispatcher, outbox_file
from tests.conftest import COMMUNE, HOUSEHOLD_DETAILS, Api, minimal_pdf
from tests.web import logged_in

CERTIFICATION = "2.000815"  # same day, fee 2.000 VND, generic process (no result document)
ID_NUMBER = "001090012345"
PHONE = "0912345678"


def _vn(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VN_TZ)  # type: ignore[misc]


@pytest.fixture
def ops(api: Api) -> Api:
    """The app as built: late notices, payments, scans and the rate-limited public lookup are mounted."""
    return api


def _row(api: Api, table: Any, **where: Any) -> Any:
    with api.runtime.db.connect() as conn:
        query = select(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return conn.execute(query).all()


# ------------------------------------------------------------------ late notices and the apology


def test_late_notice_apology_moves_the_due_date_and_notifies(ops: Api) -> None:
    api = ops
    r = api.submit(applicant_phone=PHONE)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    api.work()
    with api.runtime.db.begin() as conn:
        conn.execute(update(dossier).where(dossier.c.code == code).values(applicant_email="an@example.vn"))
    old_due = _vn(2026, 3, 5, 8, 0)  # received Monday 08:00, 3 working days
    task = api.task_for("chuyenvien1.xa1", code)
    assert api.post(f"/api/tasks/{task['id']}/claim", "chuyenvien1.xa1").status_code == 200
    shop = api.runtime.shop

    assert (
        find_late_risks(api.runtime.db, api.runtime.engine, shop, api.runtime.clock.now()) == []
    )  # three working days left
    api.advance(days=2, hours=1)  # Wednesday 09:00: 7 working hours left
    now = api.runtime.clock.now()
    assert find_late_risks(api.runtime.db, api.runtime.engine, shop, now) == []  # default: a quarter of 24 h = 6 h
    api.advance(hours=1)  # Wednesday 10:00
    assert find_late_risks(api.runtime.db, api.runtime.engine, shop, api.runtime.clock.now()) == [code]
    assert (
        find_late_risks(api.runtime.db, api.runtime.engine, shop, api.runtime.clock.now()) == []
    )  # one notice per dossier
    (notice,) = _row(api, late_notice, dossier_code=code)
    assert (notice.status, notice.agency_code, notice.department_code) == ("open", COMMUNE, f"{COMMUNE}-PKT")
    assert notice.old_due_at == old_due

    # the department that holds the dossier sees it (and the leader); another department or the desk do not
    listed = api.get("/api/late-notices", "chuyenvien1.xa1").json()
    assert [n["dossier_code"] for n in listed] == [code]
    assert listed[0]["current_step"] == "Thẩm định hồ sơ đăng ký hộ kinh doanh"
    assert [n["id"] for n in api.get("/api/late-notices", "lanhdao.xa1").json()] == [notice.id]
    assert api.get("/api/late-notices", "chuyenvien2.xa1").json() == []
    assert api.get("/api/late-notices", "tiepnhan.xa1").json() == []
    assert api.get("/api/late-notices", "congdan1").status_code == 403

    issue = f"/api/late-notices/{notice.id}/issue"
    reason = "Cần xác minh thêm địa chỉ trụ sở hộ kinh doanh"
    for bad, why in (
        (_vn(2026, 3, 5, 7, 30), "before the old date"),
        (_vn(2026, 3, 7, 9, 0), "a Saturday"),
        (_vn(2026, 3, 6, 12, 0), "lunch break"),
    ):
        r = api.post(issue, "chuyenvien1.xa1", json={"reason": reason, "new_due_at": bad.isoformat()})
        assert r.status_code == 422, (why, r.text)
    r = api.post(issue, "chuyenvien1.xa1", json={"reason": "", "new_due_at": _vn(2026, 3, 9, 17).isoformat()})
    assert r.status_code == 422
    r = api.post(issue, "chuyenvien2.xa1", json={"reason": reason, "new_due_at": _vn(2026, 3, 9, 17).isoformat()})
    assert r.status_code == 403

    new_due = _vn(2026, 3, 9, 17, 0)  # Monday 17:00: the end of a working day is a working moment
    r = api.post(issue, "chuyenvien1.xa1", json={"reason": reason, "new_due_at": new_due.isoformat()})
    assert r.status_code == 200, r.text
    issued = r.json()
    assert issued["status"] == "issued" and issued["issued_by"] == "chuyenvien1.xa1"
    assert dt.datetime.fromisoformat(issued["new_due_at"]) == new_due
    assert dt.datetime.fromisoformat(issued["old_due_at"]) == old_due
    r = api.post(issue, "chuyenvien1.xa1", json={"reason": reason, "new_due_at": new_due.isoformat()})
    assert r.status_code == 409

    # the new date holds from the officer's decision; Mẫu 04 waits for the head's personal signature, and the
    # applicant hears nothing until it is signed and sealed
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert dt.datetime.fromisoformat(view["due_at"]) == new_due
    assert issued["document_id"] is None and issued["letter"] == "awaiting_head_signature"
    assert [d for d in view["documents"] if d["kind"] == "apology"] == []
    assert _row(api, notification, dossier_code=code) == []
    task = api.task_for("chuyenvien1.xa1", code)
    shown = logged_in(api, "chuyenvien1.xa1").get(f"/can-bo/nhiem-vu/{task['id']}")
    assert "Văn bản xin lỗi vì giải quyết quá hạn (Mẫu 04): <strong>chờ lãnh đạo ký</strong>" in shown.text
    assert "Ký Phiếu xin lỗi và xin gia hạn (Mẫu 04)" in logged_in(api, "lanhdao.xa1").get("/can-bo/nhiem-vu").text
    signed = api.sign_on_device("lanhdao.xa1", code)
    assert signed.status_code == 200, signed.text
    [issued] = api.get("/api/late-notices?status=issued", "chuyenvien1.xa1").json()
    assert issued["letter"] == "issued"
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    (apology,) = [d for d in view["documents"] if d["id"] == issued["document_id"]]
    assert apology["kind"] == "apology"
    (notice,) = _row(api, late_notice, dossier_code=code)
    assert (notice.old_due_at, notice.new_due_at, notice.reason) == (old_due, new_due, reason)
    kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
    assert "late.notice_opened" in kinds and "dossier.due_extended" in kinds
    assert [n["id"] for n in api.get("/api/late-notices?status=issued", "chuyenvien1.xa1").json()] == [notice.id]
    assert api.get("/api/late-notices", "chuyenvien1.xa1").json() == []

    # the applicant is told on both channels; nothing is configured here, so both go to the outbox file
    rows = _row(api, notification, dossier_code=code)
    assert sorted((n.channel, n.recipient, n.status) for n in rows) == [
        ("email", "an@example.vn", "pending"),
        ("sms", PHONE, "pending"),
    ]
    assert "Lý do: " + reason in rows[0].body and "17:00 ngày 09/03/2026" in rows[0].body
    settings = api.runtime.settings
    assert build_dispatcher(settings, api.runtime.db, api.runtime.clock).dispatch().sent == 2
    lines = [json.loads(x) for x in outbox_file(settings).read_text(encoding="utf-8").splitlines()]
    assert {x["channel"] for x in lines} == {"email", "sms"}
    assert all(x["subject"] == f"Hồ sơ {code}: xin lỗi và hẹn lại ngày trả kết quả" for x in lines)
    assert {n.status for n in _row(api, notification, dossier_code=code)} == {"sent"}


def test_a_configured_window_and_a_dossier_nobody_claimed(ops: Api) -> None:
    api = ops
    code = api.submit().json()["code"]
    api.work()
    api.advance(days=2, hours=1)  # Wednesday 09:00, 7 working hours left
    assert find_late_risks(
        api.runtime.db, api.runtime.engine, api.runtime.shop, api.runtime.clock.now(), window_hours=8
    ) == [code]
    (notice,) = _row(api, late_notice, dossier_code=code)
    # nobody claimed the review task: its department is the kind the procedure names (household business:
    # the economic department), not any of the specialists' departments
    assert notice.department_code == f"{COMMUNE}-PKT"
    assert len(api.get("/api/late-notices", "chuyenvien1.xa1").json()) == 1
    assert api.get("/api/late-notices", "chuyenvien2.xa1").json() == []


def test_the_housekeeping_tick_opens_notices_and_delivers(ops: Api) -> None:
    api = ops
    code = api.submit().json()["code"]
    api.work()
    operations_tick(api.runtime)
    assert _row(api, late_notice, dossier_code=code) == []
    api.advance(days=2, hours=2)  # Wednesday 10:00
    operations_tick(api.runtime)
    (notice,) = _row(api, late_notice, dossier_code=code)
    new_due = _vn(2026, 3, 6, 13, 30).isoformat()  # Friday, the afternoon opening
    r = api.post(
        f"/api/late-notices/{notice.id}/issue", "lanhdao.xa1", json={"reason": "Chờ ý kiến", "new_due_at": new_due}
    )
    assert r.status_code == 200, r.text
    # the leader signs Mẫu 04 but sealing it fails (the signing service is down): the signature is kept, the
    # letter and the applicant's message wait for the next round, which seals the letter once and tells them
    paperwork = api.runtime.paperwork
    sign = paperwork.issuer.sign

    def down(*args: Any, **kwargs: Any) -> bytes:
        raise ConnectionError("the signing service is down")

    paperwork.issuer.sign = down  # type: ignore[method-assign]
    try:
        assert api.sign_on_device("lanhdao.xa1", code).status_code == 200
    finally:
        paperwork.issuer.sign = sign  # type: ignore[method-assign]
    kinds = [d["kind"] for d in api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"]]
    assert "apology" not in kinds and "apology_draft" in kinds
    assert _row(api, notification, dossier_code=code) == []
    assert api.get("/api/signatures/pending", "lanhdao.xa1").json() == []  # nothing left to sign
    operations_tick(api.runtime)  # no e-mail or SMS configured, no contact given: the outbox file
    operations_tick(api.runtime)  # finished already: nothing sealed twice
    kinds = [d["kind"] for d in api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"]]
    assert kinds.count("apology") == 1
    (sent,) = _row(api, notification, dossier_code=code)
    assert (sent.channel, sent.recipient, sent.status) == ("outbox", f"dossier:{code}", "sent")
    assert code in outbox_file(api.runtime.settings).read_text(encoding="utf-8")
    listed = api.get(f"/api/notifications?dossier_code={code}", "quantri.tinh").json()
    assert [(n["status"], n["attempts"]) for n in listed] == [("sent", 1)]
    assert api.get("/api/notifications", "tiepnhan.xa1").status_code == 403


# ------------------------------------------------------------------ fees


def _certification(api: Api) -> str:
    files = {"paper.ban_chinh": ("ban-chinh.pdf", minimal_pdf("ban chinh"), "application/pdf")}
    r = api.submit(procedure=CERTIFICATION, files=files)
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    assert api.decide("tuphap.xa1", code, "approve").status_code == 200  # the Tư pháp - Hộ tịch department
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)  # the leader certifies the copy on the device, the clerk numbers it, the seal
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "result_ready"
    return code


def test_the_result_is_not_returned_before_the_fee_is_paid_in_cash(ops: Api) -> None:
    api = ops
    code = _certification(api)
    summary = api.get(f"/api/dossiers/{code}/payments", "tiepnhan.xa1").json()
    assert (summary["fee_vnd"], summary["paid_vnd"], summary["paid"]) == (2000, 0, False)
    assert not is_paid(api.runtime.db, api.runtime.shop, code)

    r = api.decide("tiepnhan.xa1", code, None)  # return_result
    assert r.status_code == 409
    assert r.json()["code"] == "motcua.fee_not_paid"
    assert "chưa nộp đủ phí" in r.json()["title"]

    cash = f"/api/dossiers/{code}/payments/cash"
    assert api.post(cash, "chuyenvien1.xa1", json={"receipt_number": "BL-0001"}).status_code == 403
    r = api.post(cash, "tiepnhan.xa1", json={"receipt_number": "BL-0001"})
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["amount_vnd"], r.json()["fee_paid"]) == ("paid", 2000, True)
    assert api.post(cash, "tiepnhan.xa1", json={"receipt_number": "BL-0002"}).status_code == 409  # paid already
    assert is_paid(api.runtime.db, api.runtime.shop, code)

    assert api.decide("tiepnhan.xa1", code, None).status_code == 200
    api.work()
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "returned"
    kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
    assert "payment.recorded" in kinds

    # a receipt number is used once
    other = _certification(api)
    r = api.post(f"/api/dossiers/{other}/payments/cash", "tiepnhan.xa1", json={"receipt_number": "BL-0001"})
    assert r.status_code == 409


def test_a_gateway_callback_is_signed_and_applied_once(ops: Api) -> None:
    api = ops
    code = _certification(api)
    r = api.post(f"/api/dossiers/{code}/payments/online", "tiepnhan.xa1")
    assert r.status_code == 201, r.text
    intent = r.json()
    assert (intent["status"], intent["amount_vnd"]) == ("pending", 2000)
    secret = callback_secret(api.runtime.settings)
    body = json.dumps({"reference": intent["reference"], "status": "paid", "amount_vnd": 2000}).encode()

    def callback(payload: bytes, signature: str | None) -> Any:
        headers = {"content-type": "application/json"}
        if signature is not None:
            headers["X-Motcua-Signature"] = signature
        return api.client.post("/api/payments/callback", content=payload, headers=headers)

    for signature in (None, "00" * 32, sign_callback(b"another key", body)):
        r = callback(body, signature)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "motcua.bad_signature"
    tampered = body.replace(b"2000", b"200")
    assert callback(tampered, sign_callback(secret, body)).status_code == 403
    assert not is_paid(api.runtime.db, api.runtime.shop, code)
    wrong_amount = json.dumps({"reference": intent["reference"], "status": "paid", "amount_vnd": 20}).encode()
    assert callback(wrong_amount, sign_callback(secret, wrong_amount)).status_code == 422

    r = callback(body, "sha256=" + sign_callback(secret, body))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["fee_paid"]) == ("paid", True)
    r = callback(body, sign_callback(secret, body))  # the same callback again
    assert r.status_code == 409
    assert r.json()["code"] == "motcua.callback_replayed"
    assert is_paid(api.runtime.db, api.runtime.shop, code)
    summary = api.get(f"/api/dossiers/{code}/payments", "tiepnhan.xa1").json()
    assert [(p["method"], p["status"]) for p in summary["payments"]] == [("gateway", "paid")]
    assert api.decide("tiepnhan.xa1", code, None).status_code == 200


# ------------------------------------------------------------------ digitised papers


def test_a_scanned_paper_becomes_a_signed_electronic_copy(ops: Api) -> None:
    from signing.appearance import copy_box

    api = ops
    code = api.submit().json()["code"]
    api.work()
    scan = minimal_pdf("so ho khau ban giay")
    url = f"/api/dossiers/{code}/scans"

    def post(user: str, key: str, data: bytes = scan, content_type: str = "application/pdf") -> Any:
        return api.post(url, user, data={"paper_key": key}, files={"file": ("scan.pdf", data, content_type)})

    assert post("chuyenvien1.xa1", "giay_to_phap_ly").status_code == 403
    assert post("tiepnhan.xa1", "khong_co").status_code == 422
    assert post("tiepnhan.xa1", "giay_to_phap_ly", b"\x89PNG\r\n\x1a\n0000", "image/png").status_code == 422
    r = post("tiepnhan.xa1", "giay_to_phap_ly")
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["kind"] == "scan_copy" and made["sha256"] == hashlib.sha256(scan).hexdigest()
    assert post("tiepnhan.xa1", "giay_to_phap_ly").json() == made  # the same scan again: nothing new

    docs = {d["id"]: d for d in api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"]}
    assert (docs[made["scan_document_id"]]["kind"], docs[made["scan_document_id"]]["paper_key"]) == (
        "scan",
        "giay_to_phap_ly",
    )
    assert (docs[made["copy_document_id"]]["kind"], docs[made["copy_document_id"]]["paper_key"]) == (
        "scan_copy",
        "giay_to_phap_ly",
    )
    copy = api.get(f"/api/dossiers/{code}/documents/{made['copy_document_id']}", "tiepnhan.xa1")
    assert copy.status_code == 200
    reader = PdfFileReader(io.BytesIO(copy.content))
    (signature,) = reader.embedded_signatures
    assert signature.field_name == "copy_signature"
    assert "/Kids" not in signature.sig_field  # one widget, merged with its field
    assert [round(float(v)) for v in signature.sig_field["/Rect"]] == list(copy_box(595, 842))  # top right, p. 1
    assert copy.content.startswith(scan)  # the scan as scanned, then the signature as an incremental update
    report = api.get(f"/api/dossiers/{code}/documents/{made['copy_document_id']}/verification", "thanhtra.tinh").json()
    assert report["indication"] == "TOTAL-PASSED", report
    kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
    assert kinds.count("dossier.digitised") == 1


# ------------------------------------------------------------------ public lookup


def _household_with_result(api: Api) -> str:
    r = api.submit(applicant_phone=PHONE)
    code = str(r.json()["code"])
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    return code


def test_public_lookup_shows_progress_and_the_result_but_no_personal_data(ops: Api) -> None:
    api = ops
    code = _household_with_result(api)
    r = api.client.get("/api/public/tracking", params={"code": code, "id_number": ID_NUMBER})
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["status"] == "result_ready" and found["status_label"] == "Có kết quả"
    assert found["current_step"] == "Trả kết quả cho công dân"
    assert dt.datetime.fromisoformat(found["due_at"]) == _vn(2026, 3, 5, 8, 0)
    text = r.text
    for personal in (ID_NUMBER, PHONE, "Nguyễn Văn An", HOUSEHOLD_DETAILS["owner_address"], "1985-04-12"):
        assert personal not in text, personal
    assert set(found) == {
        "code",
        "procedure_code",
        "procedure_name",
        "status",
        "status_label",
        "current_step",
        "received_at",
        "due_at",
        "finished_at",
        "accepted",
        "awaiting",
        "result",
    }
    assert found["accepted"] is True and found["awaiting"] is None

    # the result link downloads the sealed certificate without an account, until it expires
    link = found["result"]["download_url"]
    download = api.client.get(link)
    assert download.status_code == 200
    with api.runtime.db.connect() as conn:
        sha = conn.execute(
            select(document.c.sha256).where(document.c.dossier_code == code, document.c.kind == "result")
        ).scalar_one()
    assert hashlib.sha256(download.content).hexdigest() == sha
    token = link.rsplit("/", 1)[1]
    assert api.client.get(f"/api/public/results/{token[:-2]}xx").status_code == 404
    api.advance(hours=25)
    assert api.client.get(link).status_code == 403

    assert api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090099999"}).status_code == 404


def test_public_lookups_are_rate_limited_per_client(ops: Api) -> None:
    api = ops
    code = api.submit().json()["code"]
    api.work()
    params = {"code": code, "id_number": ID_NUMBER}
    statuses = [api.client.get("/api/public/tracking", params=params).status_code for _ in range(10)]
    assert statuses == [200] * 10
    r = api.client.get("/api/public/tracking", params=params)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    problem = r.json()
    assert problem["code"] == "motcua.rate_limited"
    assert "Quá nhiều lượt tra cứu" in problem["title"] and "Too many lookups" in problem["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    # other clients (another IP address) are not affected
    other = type(api.client)(api.client.app, client=("203.0.113.7", 50000))
    assert other.get("/api/public/tracking", params=params).status_code == 200
