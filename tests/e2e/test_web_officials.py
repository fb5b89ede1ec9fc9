"""Officials' pages: the task list (department and agency scope, tabs, filters, claim/unclaim forms with CSRF), the
task page (dossier data, documents with inline preview, history, decision form, errors, escaping) and the leader's
signing panel — with the in-browser signing code (api/static/js/signing.js + the vendored pkijs bundle) run under
Node against a real pending signature when Node is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from tests.conftest import OTHER_COMMUNE, Api
from tests.services import service_missing
from tests.web import csrf, log_in

ROOT = Path(__file__).resolve().parents[2]
LIST = "/can-bo/nhiem-vu"


def browser(api: Api) -> TestClient:
    """A browser on the app as built (api/app.py mounts the officials' pages)."""
    from api.app import asgi

    return TestClient(asgi(api.runtime), base_url="https://testserver", follow_redirects=False)


def logged_in(api: Api, username: str) -> TestClient:
    client = browser(api)
    r = log_in(client, username)
    assert r.status_code == 303, r.text
    return client


def other_commune(api: Api) -> None:
    """A reception officer and a specialist of another commune (000.00.32.H99)."""
    rt = api.runtime
    now = rt.clock.now()
    rt.accounts.add("tiepnhan.xa2", DEMO_PASSWORD, "Cán bộ xã 2", Role.RECEPTION, OTHER_COMMUNE, None, now)
    rt.accounts.add(
        "chuyenvien.xa2", DEMO_PASSWORD, "Chuyên viên xã 2", Role.SPECIALIST, OTHER_COMMUNE, f"{OTHER_COMMUNE}-PKT", now
    )


def task_id(api: Api, username: str, code: str) -> str:
    return str(api.task_for(username, code)["id"])


def test_the_list_shows_the_departments_tasks_and_not_another_communes(api: Api) -> None:
    other_commune(api)
    mine = api.received()
    theirs = api.received("tiepnhan.xa2", applicant_name="Người Xã Khác")
    page = logged_in(api, "chuyenvien1.xa1").get(LIST)
    assert page.status_code == 200
    assert mine in page.text and theirs not in page.text and "Người Xã Khác" not in page.text
    assert "Thẩm định hồ sơ đăng ký hộ kinh doanh" in page.text and "Nguyễn Văn An" in page.text
    # an accessible table: caption, column and row headers
    assert "<caption>" in page.text and 'scope="col"' in page.text and 'scope="row"' in page.text
    # dates in Vietnam time (received on Monday 2 March 2026 at 08:00 +07:00) and the due date's colour
    assert ">08:00 02/03/2026</time>" in page.text and "due-early" in page.text
    other = logged_in(api, "chuyenvien.xa2").get(LIST)
    assert theirs in other.text and mine not in other.text
    assert mine not in logged_in(api, "lanhdao.xa1").get(LIST).text  # the review step is not the leader's
    assert logged_in(api, "congdan1").get(LIST).status_code == 403  # not a citizen's page


def test_tabs_filter_and_sort(api: Api) -> None:
    first = api.received()
    api.advance(hours=2)
    second = api.received()
    client = logged_in(api, "chuyenvien1.xa1")
    by_received = client.get(LIST, params={"sap_xep": "-nhan"}).text
    assert by_received.index(second) < by_received.index(first)
    by_received = client.get(LIST, params={"sap_xep": "nhan"}).text
    assert by_received.index(first) < by_received.index(second)
    assert first not in client.get(LIST, params={"thu_tuc": "1.001193"}).text  # another procedure
    assert first in client.get(LIST, params={"thu_tuc": "1.001612"}).text
    assert first not in client.get(LIST, params={"muc": "cua-toi"}).text  # nobody claimed it
    assert first in client.get(LIST, params={"muc": "chua-nhan"}).text
    assert first not in client.get(LIST, params={"muc": "qua-han"}).text
    english = client.get(LIST, params={"lang": "en", "muc": "chua-nhan"}).text
    assert "Task list" in english and "Unclaimed in my department" in english and first in english
    api.advance(days=6)  # past the 03 working days
    client = logged_in(api, "chuyenvien1.xa1")
    late = client.get(LIST, params={"muc": "qua-han"}).text
    assert first in late and second in late and "due-late" in late and "Quá hạn" in late


def test_claim_and_unclaim_with_the_forms_and_never_without_the_csrf_token(api: Api) -> None:
    code = api.received()
    task = task_id(api, "chuyenvien1.xa1", code)
    client = logged_in(api, "chuyenvien1.xa1")
    back = f"{LIST}?muc=chua-nhan&sap_xep=han"
    forged = client.post(f"{LIST}/{task}/nhan", data={"back": back})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert api.task_for("chuyenvien1.xa1", code)["assignee"] is None
    token = csrf(client, LIST)
    r = client.post(f"{LIST}/{task}/nhan", data={"csrf_token": token, "back": back})
    assert r.status_code == 303 and r.headers["location"] == back + "&tb=da-nhan"
    assert api.task_for("chuyenvien1.xa1", code)["assignee"] == "chuyenvien1.xa1"
    listed = client.get(r.headers["location"]).text
    assert "Đã nhận xử lý nhiệm vụ." in listed
    assert code in client.get(LIST, params={"muc": "cua-toi"}).text
    # a colleague of another department may not release it; the list says why
    other = logged_in(api, "chuyenvien2.xa1")
    refused = other.post(f"{LIST}/{task}/tra", data={"csrf_token": csrf(other, LIST), "back": LIST})
    assert refused.status_code == 303 and "loi=" in refused.headers["location"]
    assert api.task_for("chuyenvien1.xa1", code)["assignee"] == "chuyenvien1.xa1"
    r = client.post(f"{LIST}/{task}/tra", data={"csrf_token": token, "back": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == f"{LIST}?tb=da-tra"  # no redirect off the list
    assert api.task_for("chuyenvien1.xa1", code)["assignee"] is None


def test_the_task_page_shows_the_dossier_documents_history_and_decision_form(api: Api) -> None:
    code = api.received()
    task = task_id(api, "chuyenvien1.xa1", code)
    client = logged_in(api, "chuyenvien1.xa1")
    r = client.get(f"{LIST}/{task}")
    assert r.status_code == 200, r.text
    html = r.text
    # the dossier: applicant, procedure, form details with their names
    assert code in html and "Nguyễn Văn An" in html and "001090012345" in html
    assert "Đăng ký thành lập hộ kinh doanh" in html and "Tạp hóa Bình An" in html
    assert "Bán lẻ lương thực, thực phẩm" in html and "100.000.000" in html
    # documents: preview in the page's frame, download through the API
    links = re.findall(r'href="(/can-bo/ho-so/[^"]+)" target="xem-truoc"', html)
    assert len(links) >= 2 and 'name="xem-truoc"' in html and "<iframe" in html
    assert re.search(rf'href="/api/dossiers/{re.escape(code)}/documents/[^"]+" download', html)
    # history and the diagram container
    assert "Tiếp nhận hồ sơ" in html and "Nguyễn Thị Lan (Cán bộ tiếp nhận)" in html  # a name, not a login
    assert "tiepnhan.xa1" not in html
    assert f'<div id="diagram" data-dossier="{code}"></div>' in html and "/static/js/diagram.js" in html
    # the decision form: the gateway's choices with Vietnamese labels, the comment box, the CSRF token
    for value, label in (("approve", "Đồng ý"), ("supplement", "Yêu cầu bổ sung"), ("refuse", "Từ chối")):
        assert f'value="{value}"' in html and label in html
    assert 'name="comment"' in html and f'name="csrf_token" value="{csrf(client, LIST)}"' in html
    # the preview is served inline, same-origin framing only
    doc = client.get(links[0])
    assert doc.status_code == 200 and doc.content.startswith(b"%PDF")
    assert doc.headers["content-disposition"].startswith("inline;") and doc.headers["content-type"] == "application/pdf"
    assert doc.headers["x-frame-options"] == "SAMEORIGIN" and doc.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"{LIST}/no-such-task").status_code == 404


def test_the_inline_document_is_refused_to_another_agency(api: Api) -> None:
    other_commune(api)
    code = api.received()
    html = logged_in(api, "chuyenvien1.xa1").get(f"{LIST}/{task_id(api, 'chuyenvien1.xa1', code)}").text
    link = re.findall(r'href="(/can-bo/ho-so/[^"]+)" target="xem-truoc"', html)[0]
    assert logged_in(api, "chuyenvien.xa2").get(link).status_code == 403
    assert browser(api).get(link).status_code == 303  # a visitor is sent to log in
    assert logged_in(api, "thanhtra.tinh").get(link).status_code == 200  # the auditor may read it


def test_approving_moves_the_dossier_on_and_errors_show_in_the_page(api: Api) -> None:
    code = api.received()
    task = task_id(api, "chuyenvien1.xa1", code)
    client = logged_in(api, "chuyenvien1.xa1")
    token = csrf(client, LIST)
    assert client.post(f"{LIST}/{task}", data={"decision": "approve"}).status_code == 403  # no CSRF token
    wrong = client.post(f"{LIST}/{task}", data={"csrf_token": token, "decision": "maybe", "comment": "giữ lại"})
    assert wrong.status_code == 422 and "Quyết định &#39;maybe&#39; không hợp lệ" in wrong.text
    assert 'role="alert"' in wrong.text and "giữ lại" in wrong.text  # the comment is kept
    done = client.post(f"{LIST}/{task}", data={"csrf_token": token, "decision": "approve", "comment": "Đủ điều kiện"})
    assert done.status_code == 303 and done.headers["location"] == f"{LIST}?tb=da-xu-ly"
    assert "Đã hoàn thành bước xử lý" in client.get(done.headers["location"]).text
    leader_task = api.task_for("lanhdao.xa1", code)
    assert leader_task["activity_id"] == "approve"
    leader = logged_in(api, "lanhdao.xa1")
    page = leader.get(f"{LIST}/{leader_task['id']}").text
    assert "Đủ điều kiện" in page and 'value="return"' in page and "Trả lại để thẩm định lại" in page
    assert client.get(f"{LIST}/{task}").status_code == 404  # the specialist's step is done


def test_applicant_name_and_comments_are_escaped(api: Api) -> None:
    code = api.received(applicant_name="<script>alert('name')</script>")
    r = api.decide("chuyenvien1.xa1", code, "approve", "<script>alert('comment')</script><b>ok</b>")
    assert r.status_code == 200, r.text
    leader = logged_in(api, "lanhdao.xa1")
    listed = leader.get(LIST).text
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in listed and "<script>alert" not in listed
    page = leader.get(f"{LIST}/{task_id(api, 'lanhdao.xa1', code)}").text
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#39;comment&#39;)&lt;/script&gt;&lt;b&gt;ok&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>ok</b>" not in page


def _to_signing(api: Api) -> tuple[str, TestClient, str]:
    code = api.received()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.work()  # the certificate is prepared and waits for the leader's signature
    leader = logged_in(api, "lanhdao.xa1")
    return code, leader, task_id(api, "lanhdao.xa1", code)


def test_the_signing_step_offers_the_in_browser_signing_panel(api: Api) -> None:
    code, leader, task = _to_signing(api)
    html = leader.get(f"{LIST}/{task}").text
    pending = api.get("/api/signatures/pending", "lanhdao.xa1").json()
    assert len(pending) == 1
    assert f'data-pending="{pending[0]["id"]}"' in html and 'id="signing"' in html
    assert "/static/vendor/pkijs/pkijs.bundle.min.js" in html and "/static/js/signing.js" in html
    assert 'aria-live="polite"' in html and 'type="password"' in html
    assert 'name="passphrase"' not in html and 'name="decision"' not in html  # nothing of the key is ever posted
    # the leader reads what they are about to sign; nobody else may
    draft = leader.get(f"/can-bo/ky-so/{pending[0]['id']}/van-ban")
    assert draft.status_code == 200 and draft.content.startswith(b"%PDF")
    assert draft.headers["content-disposition"].startswith("inline;")
    assert logged_in(api, "vanthu.xa1").get(f"/can-bo/ky-so/{pending[0]['id']}/van-ban").status_code == 403
    # a click cannot complete a signing step
    refused = leader.post(f"{LIST}/{task}", data={"csrf_token": csrf(leader, LIST)})
    assert refused.status_code == 409 and "chữ ký số" in refused.text
    # the clerk sees no signing panel on the leader's step (nor the task at all)
    assert code not in logged_in(api, "vanthu.xa1").get(LIST).text


def test_signing_js_signs_what_the_device_signs_and_the_server_embeds_it(api: Api, tmp_path: Path) -> None:
    """api/static/js/signing.js with the vendored pkijs bundle, under Node's WebCrypto: it opens the leader's real
    PKCS#12 file, checks the designated certificate, signs data_to_sign and the server accepts the value."""
    if shutil.which("node") is None:
        service_missing("Node is not installed (it runs signing.js here)")  # fails under CI=true
    code, leader, _task = _to_signing(api)
    pending = leader.get("/api/signatures/pending").json()[0]
    key_file = api.runtime.pki.pkcs12_path("person:lanhdao.xa1")
    script = tmp_path / "sign.js"
    script.write_text(
        """
const fs = require("fs");
const [bundle, signingJs, keyFile, passphrase, pendingJson] = process.argv.slice(2);
(0, eval)(fs.readFileSync(bundle, "utf8") + ";globalThis.MotcuaPkijs = MotcuaPkijs;");
const signing = require(signingJs);
const steps = [];
signing
  .signPending(globalThis.MotcuaPkijs, crypto.subtle, JSON.parse(pendingJson), fs.readFileSync(keyFile), passphrase,
               (s) => steps.push(s))
  .then((out) => console.log(JSON.stringify({ ...out, steps })))
  .catch((e) => { console.log(JSON.stringify({ error: e.code || e.message })); process.exit(0); });
"""
    )

    def run(passphrase: str, body: dict[str, Any]) -> dict[str, Any]:
        out = subprocess.run(
            [
                "node",
                str(script),
                str(ROOT / "api/static/vendor/pkijs/pkijs.bundle.min.js"),
                str(ROOT / "api/static/js/signing.js"),
                str(key_file),
                passphrase,
                json.dumps(body),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))

    assert run("wrong passphrase", pending) == {"error": "wrong_passphrase"}
    assert run(api.runtime.settings.key_passphrase, pending | {"signer_certificate_sha256": "0" * 64}) == {
        "error": "wrong_certificate"
    }
    signed = run(api.runtime.settings.key_passphrase, pending)
    assert signed["steps"] == ["read", "sign"] and signed["signer"]
    r = leader.post(
        f"/api/signatures/{pending['id']}",
        json={"signature_value": signed["signature_value"]},
        headers={"X-CSRF-Token": csrf(leader, LIST)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["signed"] is True
    assert api.task_for("vanthu.xa1", code)["activity_id"] == "register_number"
