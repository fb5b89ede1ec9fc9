"""Online dossiers pass through reception (issue 16, point 1): a dossier filed online waits in its agency's reception
queue with no process, no receipt and no time limit; the reception officer accepts it (receipt in the officer's
name, the clock starts at acceptance), asks for papers (Mẫu 02; the citizen supplements and it is back in the
queue) or refuses it (Mẫu 03; never counted as received). Each outcome reaches the citizen by notification."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dossiers.model import Role
from motcua.app import DEMO_PASSWORD
from persistence import notifications as messages
from persistence.uow import transaction
from tests.conftest import COMMUNE, ENGINES, Api, minimal_pdf
from tests.pdftools import pdftotext

pytestmark = [ENGINES]  # the process starts at acceptance: on the embedded engine and on Operaton

CITIZEN = "congdan1"
RECEPTION = "tiepnhan.xa1"


def filed_online(api: Api, **fields: str) -> str:
    r = api.submit(as_user=CITIZEN, agency_code=COMMUNE, applicant_phone="0912345678", **fields)
    assert r.status_code == 201, r.text
    api.work()
    return str(r.json()["code"])


def queue_codes(api: Api, as_user: str = RECEPTION) -> list[str]:
    r = api.get("/api/reception/queue", as_user)
    assert r.status_code == 200, r.text
    return [item["code"] for item in r.json()]


def kinds(api: Api, code: str, as_user: str = CITIZEN) -> list[str]:
    return [d["kind"] for d in api.get(f"/api/dossiers/{code}", as_user).json()["documents"]]


def document(api: Api, code: str, kind: str, as_user: str = CITIZEN) -> bytes:
    view = api.get(f"/api/dossiers/{code}", as_user).json()
    doc = [d for d in view["documents"] if d["kind"] == kind][-1]
    r = api.get(f"/api/dossiers/{code}/documents/{doc['id']}", as_user)
    assert r.status_code == 200
    return bytes(r.content)


def notices(api: Api, code: str) -> list[str]:
    with transaction(api.runtime.db) as conn:
        rows = messages.newest(conn, dossier_code=code)
    return [f"{r.subject}\n{r.body}" for r in rows]


def test_an_online_dossier_waits_for_reception_and_starts_when_accepted(api: Api, tmp_path: Path) -> None:
    code = filed_online(api)
    view = api.get(f"/api/dossiers/{code}", CITIZEN).json()
    assert view["status"] == "submitted" and view["status_label"] == "Chờ tiếp nhận"
    assert view["accepted_at"] is None
    assert code in queue_codes(api)
    assert "receipt" not in kinds(api, code)  # no receipt before an officer accepted it
    assert not [t for t in api.get("/api/tasks", "chuyenvien1.xa1").json() if t["dossier_code"] == code]

    api.advance(hours=3)  # the queue waits; the time limit does not run yet
    accepted = api.receive(code)
    assert accepted.status_code == 200, accepted.text
    view = api.get(f"/api/dossiers/{code}", CITIZEN).json()
    assert view["status"] in ("received", "in_progress")
    now = api.runtime.clock.now()
    assert dt.datetime.fromisoformat(view["accepted_at"]) == now
    assert dt.datetime.fromisoformat(view["received_at"]) == now  # the clock starts at acceptance
    assert code not in queue_codes(api)

    receipt = pdftotext(document(api, code, "receipt"), tmp_path)
    assert "Nguyễn Thị Lan" in receipt  # the reception officer, not the citizen, received it
    assert "Bùi Thị Thu Hà" not in receipt.split("NGƯỜI TIẾP NHẬN")[-1]
    assert [t for t in api.get("/api/tasks", "chuyenvien1.xa1").json() if t["dossier_code"] == code]
    assert any("đã được tiếp nhận" in n for n in notices(api, code))

    again = api.receive(code, "refuse", "Hồ sơ trùng.")
    assert again.status_code == 409 and "không còn chờ tiếp nhận" in again.json()["title"]


def test_reception_asks_for_papers_the_citizen_supplements_and_it_is_back_in_the_queue(
    api: Api, tmp_path: Path
) -> None:
    code = filed_online(api)
    missing = api.receive(code, "supplement", "")
    assert missing.status_code == 422 and "giấy tờ cần bổ sung" in missing.json()["title"]

    asked = api.receive(code, "supplement", "Bản sao Giấy chứng nhận quyền sử dụng đất của địa điểm kinh doanh.")
    assert asked.status_code == 200, asked.text
    view = api.get(f"/api/dossiers/{code}", CITIZEN).json()
    assert view["status"] == "supplement_requested"
    assert view["awaiting"].startswith("Bản sao Giấy chứng nhận quyền sử dụng đất")
    assert code not in queue_codes(api)
    form = pdftotext(document(api, code, "supplement_request"), tmp_path)
    assert "Giấy chứng nhận quyền sử dụng đất" in form and "Nguyễn Thị Lan" in form
    assert any("cần bổ sung" in n for n in notices(api, code))
    tracking = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"}).json()
    assert "Giấy chứng nhận quyền sử dụng đất" in tracking["awaiting"]

    files = {"paper.other": ("Giấy chứng nhận QSDĐ.pdf", minimal_pdf("gcn"), "application/pdf")}
    supplied = api.post(f"/api/dossiers/{code}/supplement", CITIZEN, files=files)
    assert supplied.status_code == 200, supplied.text
    assert supplied.json()["status"] == "submitted" and supplied.json()["awaiting"] is None
    assert code in queue_codes(api)
    assert api.receive(code).status_code == 200
    assert api.get(f"/api/dossiers/{code}", CITIZEN).json()["status"] in ("received", "in_progress")


def test_reception_refuses_with_a_reason_and_the_dossier_never_counts_as_received(api: Api, tmp_path: Path) -> None:
    code = filed_online(api)
    refused = api.receive(code, "refuse", "Thủ tục thuộc thẩm quyền của Ủy ban nhân dân tỉnh.")
    assert refused.status_code == 200, refused.text
    view = api.get(f"/api/dossiers/{code}", CITIZEN).json()
    assert view["status"] == "refused" and view["accepted_at"] is None
    form = pdftotext(document(api, code, "refusal"), tmp_path)
    assert "thẩm quyền của Ủy ban nhân dân tỉnh" in form
    assert any("không được tiếp nhận" in n and "thẩm quyền" in n for n in notices(api, code))
    assert "receipt" not in kinds(api, code)
    day = api.runtime.clock.now().date().isoformat()
    stats = api.get("/api/statistics", "thanhtra.tinh", params={"from": day, "to": day}).json()
    assert stats["total"]["received"] == 0 and stats["total"]["refused"] == 0


def test_only_reception_of_the_dossiers_agency_decides(api: Api) -> None:
    code = filed_online(api)
    assert api.receive(code, as_user="chuyenvien1.xa1").status_code == 403
    assert api.get("/api/reception/queue", "chuyenvien1.xa1").status_code == 403
    api.runtime.accounts.add(
        "tiepnhan.khac", DEMO_PASSWORD, "Cán bộ khác", Role.RECEPTION, "000.40.00.H99", None, api.runtime.clock.now()
    )
    assert code not in queue_codes(api, "tiepnhan.khac")
    assert api.receive(code, as_user="tiepnhan.khac").status_code == 403
    assert api.get(f"/api/dossiers/{code}", CITIZEN).json()["status"] == "submitted"
    bad = api.post(f"/api/dossiers/{code}/reception", RECEPTION, json={"decision": "approve"})
    assert bad.status_code == 422
