"""Every read of a dossier's personal data is recorded in the audit log with the reader's username (Decree
13/2023, DESIGN §10): the JSON API (dossier, history, document), the auditor's trail page, the reception desk's
page, the official's task page and task list, and the citizen's own page."""

from __future__ import annotations

from typing import Any

from dossiers.ports import AuditEvent
from tests.conftest import COMMUNE, Api
from tests.web import logged_in

AUDITOR = "thanhtra.tinh"
SPECIALIST = "chuyenvien1.xa1"
RECEPTION = "tiepnhan.xa1"
CITIZEN = "congdan1"


def registered(api: Api, as_user: str = RECEPTION, **fields: str) -> str:
    r = api.submit(as_user=as_user, **fields)
    assert r.status_code == 201, r.text
    api.work()
    return str(r.json()["code"])


def events_after(api: Api, seq: int) -> list[AuditEvent]:
    return [e.event for e in api.runtime.audit.all() if e.seq > seq]


def reads(api: Api, seq: int, kind: str = "dossier.read") -> list[tuple[str, str | None, dict[str, Any]]]:
    return [(e.actor, e.dossier_code, dict(e.details)) for e in events_after(api, seq) if e.kind == kind]


def head(api: Api) -> int:
    return api.runtime.audit.head()[0]


def test_reading_a_dossier_through_the_json_api_records_the_reader(api: Api) -> None:
    code = registered(api)
    api.token(SPECIALIST)  # log in first: the login is recorded too
    before = head(api)
    r = api.get(f"/api/dossiers/{code}", SPECIALIST)
    assert r.status_code == 200 and r.json()["applicant"]["name"]
    assert reads(api, before) == [(SPECIALIST, code, {})]

    before = head(api)
    assert api.get(f"/api/dossiers/{code}/history", SPECIALIST).status_code == 200
    assert reads(api, before) == [(SPECIALIST, code, {"part": "history"})]

    document = r.json()["documents"][0]
    before = head(api)
    assert api.get(f"/api/dossiers/{code}/documents/{document['id']}", SPECIALIST).status_code == 200
    assert reads(api, before, "document.read") == [(SPECIALIST, code, {"document_id": document["id"]})]


def test_a_refused_read_records_nothing(api: Api) -> None:
    code = registered(api)
    api.token("chuyenvien.vpdk")
    before = head(api)
    assert api.get(f"/api/dossiers/{code}", "chuyenvien.vpdk").status_code == 403  # another agency
    assert reads(api, before) == []


def test_the_auditors_trail_page_records_the_auditors_read(api: Api) -> None:
    code = registered(api)
    client = logged_in(api, AUDITOR)
    before = head(api)
    page = client.get(f"/thanh-tra/ho-so/{code}")
    assert page.status_code == 200 and "Nguyễn Văn An" in page.text
    assert reads(api, before) == [(AUDITOR, code, {})]
    documents = reads(api, before, "document.read")  # every PDF is opened to verify it
    assert documents and all(actor == AUDITOR and dossier == code for actor, dossier, _ in documents)


def test_the_desk_and_officials_pages_record_their_reader(api: Api) -> None:
    code = registered(api)
    reception = logged_in(api, RECEPTION)
    before = head(api)
    assert reception.get(f"/mot-cua/ho-so/{code}").status_code == 200
    assert reads(api, before) == [(RECEPTION, code, {})]

    specialist = logged_in(api, SPECIALIST)
    before = head(api)
    listing = specialist.get("/can-bo/nhiem-vu")
    assert listing.status_code == 200 and "Nguyễn Văn An" in listing.text  # the applicant's name is shown
    [(actor, dossier, details)] = reads(api, before, "dossier.listed")
    assert actor == SPECIALIST and dossier is None and code in details["codes"] and details["page"] == "tasks"

    task = api.task_for(SPECIALIST, code)
    before = head(api)
    assert specialist.get(f"/can-bo/nhiem-vu/{task['id']}").status_code == 200
    assert reads(api, before) == [(SPECIALIST, code, {})]


def test_a_citizen_reading_their_own_dossier_is_recorded_under_their_name(api: Api) -> None:
    code = registered(api, as_user=CITIZEN, agency_code=COMMUNE)
    citizen = logged_in(api, CITIZEN)
    before = head(api)
    assert citizen.get(f"/cong-dan/ho-so/{code}").status_code == 200
    assert reads(api, before) == [(CITIZEN, code, {})]
    before = head(api)
    assert api.get(f"/api/dossiers/{code}", CITIZEN).status_code == 200
    assert [actor for actor, _, _ in reads(api, before)] == [CITIZEN]


def test_the_process_diagram_records_the_read_of_the_history_it_shows(api: Api) -> None:
    """The diagram marks the steps done from the dossier's audit trail: that read is recorded like the JSON
    history's; a refused diagram records nothing."""
    code = registered(api)
    api.token(SPECIALIST)
    before = head(api)
    r = api.get(f"/api/dossiers/{code}/diagram", SPECIALIST)
    assert r.status_code == 200 and r.json()["process_key"]
    assert reads(api, before) == [(SPECIALIST, code, {"part": "history"})]

    api.token("chuyenvien.vpdk")
    before = head(api)
    assert api.get(f"/api/dossiers/{code}/diagram", "chuyenvien.vpdk").status_code == 403
    assert reads(api, before) == []
