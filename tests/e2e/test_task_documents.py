"""Officials see what they decide and sign (issue 16, point 4): the leader's approval task shows the draft result
before approving (rendered by the same code that prepares it, nothing stored); the clerk's numbering task shows
the leader-signed result and the number the register will give, and after numbering the number given. The page
puts the decision beside the document, the diagram one click away."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from persistence import pending_signatures
from persistence.schema import pending_signature
from persistence.uow import transaction
from tests.conftest import HOUSEHOLD_DETAILS, Api
from tests.e2e.test_web_desk import signed_in_as
from tests.pdftools import pdftotext
from tests.web import csrf

LEADER, CLERK, SPECIALIST = "lanhdao.xa1", "vanthu.xa1", "chuyenvien1.xa1"


def approved_by_specialist(api: Api) -> str:
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    assert api.decide(SPECIALIST, code, "approve").status_code == 200
    api.work()
    return code


def test_the_leader_reads_the_draft_result_before_approving(api: Api, tmp_path: Path) -> None:
    code = approved_by_specialist(api)
    task = api.task_for(LEADER, code)
    leader = signed_in_as(api, LEADER)
    page = leader.get(f"/can-bo/nhiem-vu/{task['id']}").text
    draft_url = f"/can-bo/nhiem-vu/{task['id']}/du-thao"
    assert "Dự thảo kết quả" in page and f'href="{draft_url}"' in page
    assert f'src="{draft_url}"' in page  # the preview frame opens on it
    # the decision sits beside the document; the diagram is folded away, one click to open
    assert page.index('class="work"') < page.index("h-documents") < page.index("h-step")
    assert re.search(r'<details class="diagram"[^>]*>\s*<summary>', page)

    documents_before = len(api.get(f"/api/dossiers/{code}", LEADER).json()["documents"])
    draft = leader.get(draft_url)
    assert draft.status_code == 200 and draft.headers["content-type"] == "application/pdf"
    text = pdftotext(draft.content, tmp_path)
    assert "GIẤY CHỨNG NHẬN ĐĂNG KÝ HỘ KINH DOANH" in text.upper()
    assert HOUSEHOLD_DETAILS["business_name"].upper() in text.upper() and "Phạm Văn Hùng" in text  # form, signer
    assert len(api.get(f"/api/dossiers/{code}", LEADER).json()["documents"]) == documents_before
    with transaction(api.runtime.db) as conn:
        assert pending_signatures.completed_id(conn, code, "result") is None
    assert api.get("/api/signatures/pending", LEADER).json() == []  # a preview prepares nothing to sign
    assert "result.draft_viewed" in [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", LEADER).json()]

    assert leader.get(f"/can-bo/nhiem-vu/{task['id']}x/du-thao").status_code == 404
    specialist = signed_in_as(api, SPECIALIST)
    assert specialist.get(draft_url).status_code == 404  # not their task


def test_the_clerk_sees_the_signed_result_and_the_number_before_and_after_numbering(api: Api) -> None:
    code = approved_by_specialist(api)
    assert api.decide(LEADER, code, "approve").status_code == 200
    api.work()
    assert api.sign_on_device(LEADER, code).status_code == 200
    api.work()
    with transaction(api.runtime.db) as conn:  # the finished signature keeps no prepared PDF (~100 KB a dossier)
        [(state, completed)] = conn.execute(
            select(pending_signature.c.state, pending_signature.c.completed_at).where(
                pending_signature.c.dossier_code == code
            )
        ).all()
    assert state == "" and completed is not None
    task = api.task_for(CLERK, code)
    clerk = signed_in_as(api, CLERK)
    page = clerk.get(f"/can-bo/nhiem-vu/{task['id']}").text
    assert 'id="next-number">01/GCN-HKD<' in page  # the first of the register's year
    signed_url = f"/can-bo/nhiem-vu/{task['id']}/van-ban-da-ky"
    assert f'src="{signed_url}"' in page
    signed = clerk.get(signed_url)
    assert signed.status_code == 200 and b"/ByteRange" in signed.content  # the leader's signature is in it

    token = csrf(clerk, f"/can-bo/nhiem-vu/{task['id']}")
    done = clerk.post(f"/can-bo/nhiem-vu/{task['id']}", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == f"/can-bo/nhiem-vu?ho_so={code}&tb=da-xu-ly#xem"
    api.work()  # result.seal: the register gives the number
    pane = clerk.get(done.headers["location"].split("#")[0]).text
    assert re.search(r'id="given-number"><strong>01/GCN-HKD</strong>', pane), pane
