"""Stopping a dossier's processing (Mẫu 05 of Circular 03/2025) through ``POST /api/dossiers/{code}/stop`` on the
embedded engine: at the applicant's request (``withdrawn``) and by the agency (``stopped``) — the notice with the
reason, the status, the process gone from the task lists, the audit entry, the applicant's message, the public
lookup — and the refusals (a finished dossier, another agency's official, a citizen, no reason). The 2025 Mẫu 05 is
signed by the head of the agency: the status changes when the official acts, the notice and the applicant's message
follow once the leader signed it on their device and the agency sealed it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from motcua.cli import app as cli
from persistence.schema import notification
from persistence.uow import transaction
from services.stopping import APPLICANT_REASON
from signing.validate import PadesValidator
from tests.conftest import Api
from tests.pdftools import nss_db_trusting, pdfsig, pdftotext
from tests.web import csrf, logged_in

SPECIALIST = "chuyenvien1.xa1"
LEADER = "lanhdao.xa1"  # the commune's leader: signs for its head


def _head_signs(api: Api, code: str) -> None:
    """The leader signs the prepared Mẫu 05 on their device; the server seals and stores it."""
    r = api.sign_on_device(LEADER, code)
    assert r.status_code == 200, r.text


def _stop(api: Api, code: str, as_user: str, **body: Any) -> Any:
    return api.post(f"/api/dossiers/{code}/stop", as_user, json=body)


def _notice_text(api: Api, code: str, tmp_path: Path) -> str:
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1").content
    return " ".join(pdftotext(pdf, tmp_path).split())


def _stopped_entries(api: Api, code: str) -> list[dict[str, Any]]:
    history = api.get(f"/api/dossiers/{code}/history", "tiepnhan.xa1").json()
    return [e for e in history if e["kind"] == "dossier.stopped"]


def _messages(api: Api, code: str) -> list[str]:
    with transaction(api.runtime.db, read_only=True) as conn:
        rows = conn.execute(notification.select().where(notification.c.dossier_code == code)).all()
    return [f"{r.subject} {r.body}" for r in rows]


def test_stopped_at_the_applicants_request(api: Api, tmp_path: Path) -> None:
    code = api.received()
    assert code in {t["dossier_code"] for t in api.get("/api/tasks", SPECIALIST).json()}
    api.advance(hours=3)

    r = _stop(api, code, "tiepnhan.xa1", requested_by_applicant=True, requested_at="2026-03-02")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["finished_at"]
    # the decision took effect; the paper waits for the head's signature, and the applicant is told with it
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    assert [d for d in view["documents"] if d["kind"] == "stop_notice"] == []
    assert _messages(api, code) == []
    _head_signs(api, code)

    text = _notice_text(api, code, tmp_path)
    for expected in (
        "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ",
        f"Mã hồ sơ: {code}",
        "Ngày 02/3/2026, Ông/Bà đề nghị dừng giải quyết hồ sơ",
        f"Lý do: {APPLICANT_REASON}",
    ):
        assert expected in text, expected
    # the process ended: no task list shows the dossier, no worker has a step of it
    assert code not in {t["dossier_code"] for t in api.get("/api/tasks", SPECIALIST).json()}
    assert api.runtime.engine.user_tasks(business_key=code) == []
    instance = api.runtime.engine.instance(code)
    assert instance is not None and instance.state == "cancelled"
    api.advance(days=10)  # the review's warning timer would have fired by now
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] == "withdrawn"

    [entry] = _stopped_entries(api, code)
    assert entry["actor"] == "tiepnhan.xa1"
    assert entry["details"]["by_applicant"] is True and entry["details"]["requested_at"] == "2026-03-02"
    assert entry["details"]["previous"] == "in_progress" and entry["details"]["pending_signature"]
    assert any("dừng giải quyết theo đề nghị của Ông/Bà" in m for m in _messages(api, code))

    tracked = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert tracked["status_label"] == "Rút hồ sơ" and tracked["current_step"] is None

    again = _stop(api, code, "lanhdao.xa1", requested_by_applicant=False, reason="Lần nữa")
    assert again.status_code == 409 and "Không thể dừng giải quyết" in again.json()["title"]
    assert len(_stopped_entries(api, code)) == 1


def test_stopped_by_the_agency_with_its_reason(api: Api, tmp_path: Path) -> None:
    code = api.received()
    reason = "Đất đang có tranh chấp, Tòa án nhân dân đã thụ lý vụ việc."

    missing = _stop(api, code, "lanhdao.xa1", requested_by_applicant=False, reason="  ")
    assert missing.status_code == 422 and "lý do dừng giải quyết" in missing.json()["title"]
    r = _stop(api, code, "lanhdao.xa1", requested_by_applicant=False, reason=reason)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "stopped"
    _head_signs(api, code)

    text = _notice_text(api, code, tmp_path)
    assert f"Lý do: {reason}" in text and "đề nghị dừng giải quyết" not in text
    leader = api.runtime.shop.accounts.get(LEADER)
    assert leader is not None and leader.full_name in text  # the head who signs is named under the signature
    assert code not in {t["dossier_code"] for t in api.get("/api/tasks", SPECIALIST).json()}
    [entry] = _stopped_entries(api, code)
    assert entry["details"]["by_applicant"] is False and entry["details"]["reason"] == reason
    assert any(reason in m and "theo quyết định của cơ quan" in m for m in _messages(api, code))
    tracked = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert tracked["status_label"] == "Dừng giải quyết"


def test_who_may_stop_what(api: Api) -> None:
    code = api.received()
    by_agency = {"requested_by_applicant": False, "reason": "Hồ sơ giả mạo giấy tờ."}

    other_agency = _stop(api, code, "lanhdao.vpdk", **by_agency)
    assert other_agency.status_code == 403 and "cơ quan khác" in other_agency.json()["title"]
    citizen = _stop(api, code, "congdan1", requested_by_applicant=True)
    assert citizen.status_code == 403 and "Chỉ cán bộ" in citizen.json()["title"]
    specialist = _stop(api, code, SPECIALIST, **by_agency)
    assert specialist.status_code == 403
    future = _stop(api, code, "tiepnhan.xa1", requested_by_applicant=True, requested_at="2026-03-09")
    assert future.status_code == 422 and "không được sau ngày hôm nay" in future.json()["title"]
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] in ("received", "in_progress")
    assert _stopped_entries(api, code) == []

    api.resolve(code)  # handed over: finished
    finished = _stop(api, code, "tiepnhan.xa1", **by_agency)
    assert finished.status_code == 409 and "Đã trả kết quả" in finished.json()["title"]
    assert finished.headers["content-type"].startswith("application/problem+json")
    assert _stopped_entries(api, code) == []


def test_the_desk_stops_a_dossier_after_confirming(api: Api) -> None:
    code = api.received()
    client = logged_in(api, "tiepnhan.xa1")
    path = f"/mot-cua/ho-so/{code}"
    shown = client.get(path)
    assert shown.status_code == 200 and f'action="{path}/dung-giai-quyet"' in shown.text
    assert "Dừng giải quyết hồ sơ" in shown.text

    token = csrf(client, path)
    no_reason = client.post(f"{path}/dung-giai-quyet", data={"csrf_token": token, "stop_by": "agency"})
    assert no_reason.status_code == 422 and 'href="#stop_reason"' in no_reason.text

    form = {"csrf_token": token, "stop_by": "applicant", "stop_requested_at": "02/03/2026", "stop_reason": ""}
    asked = client.post(f"{path}/dung-giai-quyet", data=form)
    assert asked.status_code == 200 and "Xác nhận dừng giải quyết" in asked.text
    assert "theo đề nghị rút hồ sơ của công dân" in asked.text and "không thể hoàn tác" in asked.text
    assert api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"] != "withdrawn"  # nothing happened yet

    done = client.post(f"{path}/dung-giai-quyet", data=form | {"confirm": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{path}?xong=dung"
    _head_signs(api, code)
    after = client.get(done.headers["location"])
    assert "Mẫu 05" in after.text and "Rút hồ sơ" in after.text
    assert f'action="{path}/dung-giai-quyet"' not in after.text  # finished: no stop form any more
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    listed = f'href="/api/dossiers/{code}/documents/{notice["id"]}">Thông báo dừng giải quyết hồ sơ (Mẫu 05)</a>'
    assert listed in after.text  # the notice among the dossier's papers, to print
    [entry] = _stopped_entries(api, code)
    assert entry["details"]["requested_at"] == "2026-03-02"


def test_the_applicant_reads_the_stop_on_their_page_and_in_the_public_lookup(api: Api, tmp_path: Path) -> None:
    from tests.e2e.test_web_citizens import submit_online
    from tests.e2e.test_web_desk import page_browser, signed_in_as

    citizen = signed_in_as(api, "congdan1")
    code = submit_online(citizen)
    assert api.receive(code).status_code == 200
    reason = "Hộ kinh doanh đã đăng ký tại xã khác."
    r = _stop(api, code, "tiepnhan.xa1", requested_by_applicant=False, reason=reason)
    assert r.status_code == 200, r.text
    _head_signs(api, code)

    mine = citizen.get(f"/cong-dan/ho-so/{code}")
    assert mine.status_code == 200
    for shown in ("Dừng giải quyết", "Cơ quan dừng giải quyết hồ sơ", reason):
        assert shown in mine.text, shown
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    assert f'{notice["id"]}" download>Thông báo dừng giải quyết hồ sơ (Mẫu 05)</a>' in mine.text
    assert "stopped" not in mine.text and "stop_notice" not in mine.text  # no internal names on the page
    looked_up = page_browser(api).post("/tra-cuu", data={"ma": code, "so_dinh_danh": "001090012345"})
    assert looked_up.status_code == 200 and "Dừng giải quyết" in looked_up.text
    # the public lookup hands out the notice itself, as it does a result or a refusal: the same bytes
    tracked = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert tracked["result"]["kind"] == "stop_notice", tracked
    assert "Tải thông báo dừng giải quyết hồ sơ" in looked_up.text
    public = api.client.get(tracked["result"]["download_url"])
    stored = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1")
    assert public.status_code == 200 and public.content == stored.content
    # the control sheet ends with the dossier handed back to the applicant: processing stopped
    sheet = api.get(f"/api/dossiers/{code}/control-sheet", "tiepnhan.xa1")
    assert sheet.status_code == 200
    sheet_text = pdftotext(sheet.content, tmp_path)
    assert "Nhận: Ông/Bà Nguyễn Văn" in sheet_text and "Dừng giải" in sheet_text, sheet_text  # the note wraps


def test_the_head_signs_the_notice_then_the_agency_seals_it(api: Api, tmp_path: Path) -> None:
    """Decree 30 order on Mẫu 05: the leader's certifying signature on their device, then the agency seal over it;
    our validator, poppler's pdfsig and ``motcua verify`` find both valid. Signing twice is refused; the notice is
    sealed and stored once."""
    code = api.received()
    reason = "Hồ sơ đã được chuyển cơ quan khác giải quyết."
    assert _stop(api, code, "tiepnhan.xa1", requested_by_applicant=False, reason=reason).status_code == 200
    [pending] = [p for p in api.get("/api/signatures/pending", LEADER).json() if p["dossier_code"] == code]
    assert pending["document_kind"] == "stop_notice" and pending["field_name"] == "leader_signature"
    assert api.get("/api/signatures/pending", "tiepnhan.xa1").json() == []  # the head signs, not the desk
    prepared = logged_in(api, LEADER).get(f"/can-bo/ky-so/{pending['id']}/van-ban")  # what the head reads
    assert prepared.status_code == 200 and "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in pdftotext(prepared.content, tmp_path)

    _head_signs(api, code)
    again = api.post(f"/api/signatures/{pending['id']}", LEADER, json={"signature_value": "QUFB" * 32})
    assert again.status_code == 409
    assert api.runtime.paperwork.finish_signed_letters() == []  # nothing left unsealed
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()
    [notice] = [d for d in view["documents"] if d["kind"] == "stop_notice"]
    pdf = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1").content

    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED", report
    leader, seal = report.signatures
    assert (leader.field_name, seal.field_name) == ("leader_signature", "agency_seal")
    assert "Phạm Văn Hùng" in leader.signer_subject and "Ủy ban nhân dân xã Hòa An" in seal.signer_subject
    assert seal.modification_level == "LTA_UPDATES"  # only its chain and revocation data (DSS) follow
    (tmp_path / "nss").mkdir()
    blocks = pdfsig(pdf, nss_db_trusting(api.runtime.pki.root_cert_path, tmp_path / "nss"), tmp_path)
    assert [b.get("Signature Validation") for b in blocks] == ["Signature is Valid."] * 2, blocks
    assert [b.get("Signature Field Name") for b in blocks] == ["leader_signature", "agency_seal"], blocks
    path = tmp_path / "mau-05.pdf"
    path.write_bytes(pdf)
    run = CliRunner().invoke(
        cli, ["verify", str(path), "--json"], env={"MOTCUA_VAR_DIR": str(api.runtime.settings.var_dir)}
    )
    assert run.exit_code == 0 and '"indication": "TOTAL-PASSED"' in run.output, run.output
    kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
    assert kinds.count("dossier.stop_notice_issued") == 1 and kinds.index("dossier.stopped") < kinds.index(
        "dossier.stop_notice_issued"
    )
    assert len([m for m in _messages(api, code) if reason in m]) == len(_messages(api, code)) >= 1


def test_the_leader_finds_the_notice_to_sign_and_the_dossier_says_it_waits(api: Api) -> None:
    code = api.received()
    assert _stop(api, code, "tiepnhan.xa1", requested_by_applicant=True).status_code == 200
    [pending] = [p for p in api.get("/api/signatures/pending", LEADER).json() if p["dossier_code"] == code]

    leader = logged_in(api, LEADER)
    listed = leader.get("/can-bo/nhiem-vu")
    assert listed.status_code == 200
    link = f'<a href="/can-bo/ky-so/{pending["id"]}">Ký Thông báo dừng xử lý hồ sơ (Mẫu 05)</a>'
    assert link in listed.text and code in listed.text
    signing = leader.get(f"/can-bo/ky-so/{pending['id']}")
    assert signing.status_code == 200
    assert "<h1>Ký Thông báo dừng xử lý hồ sơ (Mẫu 05)</h1>" in signing.text
    assert f'data-pending="{pending["id"]}"' in signing.text and "/static/js/signing.js" in signing.text
    assert "stop_notice" not in signing.text  # no internal names on the page
    assert logged_in(api, "tiepnhan.xa1").get(f"/can-bo/ky-so/{pending['id']}").status_code == 403  # leaders only

    desk = logged_in(api, "tiepnhan.xa1").get(f"/can-bo/nhiem-vu?muc=da-xu-ly&ho_so={code}")
    assert desk.status_code == 200
    assert "Thông báo dừng giải quyết hồ sơ (Mẫu 05): <strong>chờ lãnh đạo ký</strong>" in desk.text
    counter = logged_in(api, "tiepnhan.xa1").get(f"/mot-cua/ho-so/{code}")  # the desk's own page of the dossier
    assert "Thông báo dừng giải quyết hồ sơ (Mẫu 05): <strong>chờ lãnh đạo ký</strong>" in counter.text

    _head_signs(api, code)
    assert "chờ lãnh đạo ký" not in logged_in(api, "tiepnhan.xa1").get(f"/mot-cua/ho-so/{code}").text
    assert "chờ lãnh đạo ký" not in logged_in(api, "tiepnhan.xa1").get(f"/can-bo/nhiem-vu?ho_so={code}").text
    assert f"/can-bo/ky-so/{pending['id']}" not in leader.get("/can-bo/nhiem-vu").text
    gone = leader.get(f"/can-bo/ky-so/{pending['id']}")
    assert gone.status_code == 409 and "Văn bản đã được ký." in gone.text


def test_an_agency_whose_notice_the_head_does_not_sign_seals_it_at_once(api: Api, tmp_path: Path) -> None:
    """An agency's own Mẫu 05 with ``"signed_by_head": false`` (its leaders have no signing certificates yet): the
    notice is sealed by the agency alone when the official acts, and the applicant is told at once."""
    import json

    from documents.templating import DEFAULT_DIR, Templates

    own = tmp_path / "mau" / "2025"
    own.mkdir(parents=True)
    data = json.loads((DEFAULT_DIR / "2025" / "mau-05.json").read_text(encoding="utf-8"))
    assert data["signed_by_head"] is True  # as shipped: the head signs
    own.joinpath("mau-05.json").write_text(json.dumps(data | {"signed_by_head": False}, ensure_ascii=False), "utf-8")
    api.runtime.paperwork.templates = Templates(tmp_path / "mau")

    code = api.received()
    assert _stop(api, code, "tiepnhan.xa1", requested_by_applicant=True).status_code == 200
    assert api.get("/api/signatures/pending", LEADER).json() == []
    [notice] = [
        d for d in api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["documents"] if d["kind"] == "stop_notice"
    ]
    pdf = api.get(f"/api/dossiers/{code}/documents/{notice['id']}", "tiepnhan.xa1").content
    report = PadesValidator(api.runtime.pki.trust_roots()).validate(pdf)
    assert report.indication == "TOTAL-PASSED" and [s.field_name for s in report.signatures] == ["agency_seal"]
    assert any("dừng giải quyết theo đề nghị của Ông/Bà" in m for m in _messages(api, code))
    [entry] = _stopped_entries(api, code)
    assert entry["details"]["document_id"] == notice["id"] and entry["details"]["pending_signature"] is None
