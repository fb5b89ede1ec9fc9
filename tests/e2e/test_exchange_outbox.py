"""The sender's side of signed envelopes while the partner installation is unreachable (issue 9).

The land registration office is configured as a partner hosted elsewhere, at an address where nothing listens.
The hand-off is signed and kept in the outbox; the dossier's step waits for the partner and nobody here can work
it; delivery attempts back off; the administrators' page and the JSON API show the envelope with its last error,
and "send now" tries again at once. (The delivery itself, acknowledgments and refusals run between two real
installations in tests/integration/test_exchange_two_instances.py.)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from motcua.settings import Settings
from persistence.schema import exchange_outbox
from persistence.uow import transaction
from signing.cms import verify_detached
from signing.pki import DevelopmentPki
from tests.conftest import Api
from tests.e2e.test_joint_procedures import COMMUNE, LAND, LAND_OFFICE, _ok, _submit, _tasks
from tests.integration.server import free_port
from tests.web import csrf, logged_in


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    partner = DevelopmentPki(tmp_path / "partner-pki")
    partner.ensure([(LAND_OFFICE, "Chi nhánh Văn phòng đăng ký đất đai")], [], dt.datetime.now(dt.UTC))
    partners = tmp_path / "partners.json"
    url = f"http://127.0.0.1:{free_port()}/api/exchange/envelopes"  # nothing listens there
    entry = {"agency": LAND_OFFICE, "url": url, "trust_roots": [str(partner.root_cert_path)]}
    partners.write_text(json.dumps({"partners": [entry]}), encoding="utf-8")
    return Settings(
        var_dir=tmp_path / "var",
        max_upload_mb=2,
        demo_clock=True,
        exchange_partners_file=str(partners),
        exchange_retry_seconds=30,
        exchange_retry_max_seconds=120,
        exchange_timeout_seconds=2,
    )


def _row(api: Api) -> Any:
    with transaction(api.runtime.db) as conn:
        return conn.execute(select(exchange_outbox)).one()


def test_a_hand_off_to_an_unreachable_partner_waits_in_the_outbox(api: Api) -> None:
    exchange = api.runtime.exchange
    assert exchange is not None
    code = _submit(api, LAND)
    api.work()
    _ok(api.decide("chuyenvien1.xa1", code, "approve"))
    assert api.work() == 1  # the hand-off is signed and queued: the task does not wait for the partner

    row = _row(api)
    assert (row.status, row.attempts, row.sender_agency, row.receiver_agency) == ("pending", 0, COMMUNE, LAND_OFFICE)
    manifest = json.loads(row.manifest)
    assert manifest["dossier_code"] == code and manifest["step"]["activity"] == "cadastral_check"
    assert {d["kind"] for d in manifest["documents"]} == {"upload", "receipt"}
    signed_by = verify_detached(row.manifest, row.signature, api.runtime.pki.trust_roots())
    assert COMMUNE in signed_by.signer_certificate.subject.rfc4514_string()

    # the step waits for the partner's system: nobody here sees or works it
    [waiting] = api.runtime.engine.user_tasks(business_key=code)
    assert waiting.activity_id == "cadastral_check"
    assert _tasks(api, "chuyenvien.vpdk", code) == []
    refused = api.post(f"/api/tasks/{waiting.id}/claim", "chuyenvien.vpdk")
    assert refused.status_code == 403 and LAND_OFFICE in refused.json()["detail"]

    # delivery fails, the envelope stays and the next attempt backs off
    assert exchange.deliver_due() == 0
    row = _row(api)
    assert row.status == "pending" and row.attempts == 1
    assert "ConnectError" in row.last_error
    delay = (row.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
    assert 20 < delay <= 30
    assert exchange.deliver_due() == 0 and _row(api).attempts == 1  # not due yet: no attempt
    assert [exchange.backoff(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 120, 120]

    # operators see it, with the reason, and can ask for an attempt now
    messages = api.get("/api/exchange/messages", "quantri.tinh").json()["messages"]
    assert [(m["direction"], m["status"], m["attempts"]) for m in messages] == [("out", "pending", 1)]
    assert api.get("/api/exchange/messages", "chuyenvien1.xa1").status_code == 403
    admin = logged_in(api, "quantri.tinh")
    page = admin.get("/quan-tri/lien-thong")
    assert page.status_code == 200
    assert code in page.text and "Đang chờ gửi lại" in page.text and "ConnectError" in page.text
    token = csrf(admin, "/quan-tri/lien-thong")
    r = admin.post(f"/quan-tri/lien-thong/{row.message_id}/gui-lai", data={"csrf_token": token})
    assert r.status_code == 303, r.text
    assert _row(api).attempts == 2 and _row(api).status == "pending"
    assert logged_in(api, "chuyenvien1.xa1").get("/quan-tri/lien-thong").status_code == 403
    # the hand-off is in the audit trail once, however often delivery is tried
    history = api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()
    assert [e["kind"] for e in history].count("exchange.queued") == 1


def test_a_passing_failure_at_the_partner_is_retried_not_final(api: Api) -> None:
    """The receiver answers ``internal_error`` with 503 (tests/e2e/test_exchange_hostile.py): the sender keeps the
    envelope pending and tries again later, where a 422 NACK would have been final."""
    import httpx

    exchange = api.runtime.exchange
    assert exchange is not None
    code = _submit(api, LAND)
    api.work()
    _ok(api.decide("chuyenvien1.xa1", code, "approve"))
    api.work()
    answered: list[int] = []

    def partner(request: httpx.Request) -> httpx.Response:
        answered.append(503)
        return httpx.Response(503, json={"ack": "", "signature": ""})

    exchange.transport = httpx.MockTransport(partner)
    assert exchange.deliver_due() == 0
    row = _row(api)
    assert answered == [503]
    assert (row.status, row.attempts) == ("pending", 1)
    assert "HTTP 503" in row.last_error
