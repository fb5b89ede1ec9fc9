"""A signed partner acts only where it was invited (issue 14, points 1 and 2).

This installation hosts the communes and the tax office; the land registration office and one more agency are
partners hosted elsewhere, with their own PKI. Each test posts an envelope **validly signed by a partner** (so
every check before the partner rules passes) that tries something the partner was not invited to do, and
expects HTTP 422 with a negative acknowledgment signed by this installation, the stable reason code, and the
database as it was: no dossier, document, inbox row, process or task was added or changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from api.exchange_routes import ENVELOPES_PATH
from dossiers.codes import format_dossier_code
from dossiers.model import Role
from integrations.envelopes.manifest import DOSSIER_FIELDS, ENVELOPE_TYPE, canonical, sha256_hex
from motcua.settings import Settings
from persistence.schema import document, dossier, exchange_inbox, exchange_outbox, wf_instance, wf_user_task
from persistence.uow import transaction
from signing.cms import verify_detached
from signing.keys.pkcs12 import Pkcs12Keys
from signing.pki import DevelopmentPki
from tests.conftest import HOUSEHOLD_BUSINESS, MONDAY_MORNING, OTHER_COMMUNE, Api, minimal_pdf
from tests.e2e.test_bad_input import add_person, object_files
from tests.e2e.test_joint_procedures import COMMUNE, LAND, LAND_DETAILS, LAND_OFFICE, _ok, _submit

OTHER_PARTNER = "000.60.00.H99"
TODAY = MONDAY_MORNING.date()
PARTNER_CODE = format_dossier_code(LAND_OFFICE, TODAY, 7)  # a dossier of the land office's own unit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    partner = DevelopmentPki(tmp_path / "partner-pki")
    agencies = [(LAND_OFFICE, "Chi nhánh Văn phòng đăng ký đất đai"), (OTHER_PARTNER, "Cơ quan liên thông khác")]
    partner.ensure(agencies, [], MONDAY_MORNING - dt.timedelta(days=30))  # valid on the simulated clock
    entries = [
        {
            "agency": code,
            "url": "http://127.0.0.1:9/api/exchange/envelopes",
            "trust_roots": [str(partner.root_cert_path)],
        }
        for code, _ in agencies
    ]
    partners = tmp_path / "partners.json"
    partners.write_text(json.dumps({"partners": entries}), encoding="utf-8")
    return Settings(var_dir=tmp_path / "var", max_upload_mb=2, demo_clock=True, exchange_partners_file=str(partners))


@pytest.fixture
def partner_keys(settings: Settings, tmp_path: Path) -> Pkcs12Keys:
    return Pkcs12Keys(DevelopmentPki(tmp_path / "partner-pki"))


# ------------------------------------------------------------------ building envelopes as a partner would


@dataclass(frozen=True)
class Doc:
    kind: str = "upload"
    data: bytes = b""
    content_type: str = "application/pdf"
    filename: str = "don.pdf"
    id: str = ""


def record(**changes: Any) -> dict[str, Any]:
    """A complete dossier record of the land office's own dossier, as a hand-off carries it."""
    base: dict[str, Any] = {
        "procedure_code": LAND,
        "agency_code": LAND_OFFICE,
        "structure_version": "2025-07-01",
        "status": "in_progress",
        "applicant_name": "Trần Thị Bình",
        "applicant_id_number": "001190054321",
        "applicant_phone": None,
        "applicant_email": None,
        "channel": "counter",
        "return_channel": "counter",
        "received_at": MONDAY_MORNING.isoformat(),
        "clock_start": MONDAY_MORNING.isoformat(),
        "due_at": (MONDAY_MORNING + dt.timedelta(days=28)).isoformat(),
        "paused_seconds": 0,
        "details": LAND_DETAILS,
        "rule_version": None,
        "received_by": "tiepnhan.vpdk",
    }
    assert set(base) == set(DOSSIER_FIELDS)
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def envelope(
    keys: Pkcs12Keys,
    *,
    kind: str = "handoff",
    sender: str = LAND_OFFICE,
    receiver: str = COMMUNE,
    code: str = PARTNER_CODE,
    dossier_record: Any = None,
    step: Any = None,
    variables: Mapping[str, Any] | None = None,
    in_reply_to: str | None = None,
    closing: bool = False,
    docs: Sequence[Doc] = (),
    changes: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """A payload signed with the sender's seal from the partner PKI (``changes`` override manifest fields)."""
    items, contents = [], {}
    for doc in docs:
        doc_id = doc.id or str(uuid.uuid4())
        data = doc.data or minimal_pdf(doc.filename)
        items.append(
            {
                "id": doc_id,
                "kind": doc.kind,
                "filename": doc.filename,
                "content_type": doc.content_type,
                "sha256": sha256_hex(data),
                "size": len(data),
            }
        )
        contents[doc_id] = base64.b64encode(data).decode()
    manifest: dict[str, Any] = {
        "type": ENVELOPE_TYPE,
        "message_id": message_id or f"{code}/step/{uuid.uuid4()}",
        "kind": kind,
        "sender": sender,
        "receiver": receiver,
        "dossier_code": code,
        "created_at": MONDAY_MORNING.isoformat(),
        "documents": items,
        "dossier": dossier_record if kind == "handoff" and dossier_record is not None else None,
        "step": step,
        "variables": dict(variables or {}),
        "in_reply_to": in_reply_to,
        "closing": closing,
    }
    manifest.update(changes or {})
    data = canonical(manifest)
    signature = signed(keys, sender, data)
    return {"manifest": _b64(data), "signature": _b64(signature), "documents": contents}


def signed(keys: Pkcs12Keys, agency: str, data: bytes) -> bytes:
    from signing.cms import sign_detached

    return sign_detached(data, keys.signer_for(f"agency:{agency}"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def handoff(keys: Pkcs12Keys, **kw: Any) -> dict[str, Any]:
    """The land office hands its own dossier to the commune for a step (every field valid unless changed)."""
    kw.setdefault("dossier_record", record())
    kw.setdefault("step", {"activity": "cadastral_check", "name": "Kiểm tra hồ sơ địa chính", "process": "x"})
    kw.setdefault("docs", [Doc()])
    return envelope(keys, **kw)


# ------------------------------------------------------------------ what the receiver answers


def post(api: Api, payload: Any = None, *, raw: bytes | None = None) -> Any:
    if raw is not None:
        return api.client.post(ENVELOPES_PATH, content=raw, headers={"content-type": "application/json"})
    return api.client.post(ENVELOPES_PATH, json=payload)


def nack(api: Api, payload: Any = None, *, raw: bytes | None = None, code: str, status: int = 422) -> dict[str, Any]:
    """422 (503 for a passing failure the sender retries) with a NACK signed by this installation, naming ``code``
    in Vietnamese and English."""
    r = post(api, payload, raw=raw)
    assert r.status_code == status, r.text
    ack, signature = base64.b64decode(r.json()["ack"]), base64.b64decode(r.json()["signature"])
    verify_detached(ack, signature, api.runtime.pki.trust_roots())
    body: dict[str, Any] = json.loads(ack)
    assert body["status"] == "refused", body
    assert body["reason"]["code"] == code, body["reason"]
    assert body["reason"]["vi"] and body["reason"]["en"]
    assert any(ord(c) > 127 for c in body["reason"]["vi"])  # Vietnamese, with its diacritics
    return body


def accepted(api: Api, payload: Any) -> dict[str, Any]:
    r = post(api, payload)
    assert r.status_code == 200, base64.b64decode(r.json()["ack"]) if r.status_code == 422 else r.text
    body: dict[str, Any] = json.loads(base64.b64decode(r.json()["ack"]))
    assert body["status"] == "accepted"
    return body


def state(api: Api, *, objects: bool = True) -> dict[str, Any]:
    """What a refused envelope must leave untouched."""
    with transaction(api.runtime.db) as conn:
        out = {
            "dossiers": sorted(tuple(r) for r in conn.execute(select(dossier)).all()),
            "documents": sorted(conn.execute(select(document.c.id)).scalars()),
            "inbox": conn.execute(select(func.count()).select_from(exchange_inbox)).scalar_one(),
            "outbox": conn.execute(select(func.count()).select_from(exchange_outbox)).scalar_one(),
            "instances": sorted(tuple(r) for r in conn.execute(select(wf_instance.c.id, wf_instance.c.status)).all()),
            "tasks": sorted(tuple(r) for r in conn.execute(select(wf_user_task.c.id, wf_user_task.c.assignee)).all()),
        }
    if objects:
        out["objects"] = object_files(api.runtime)
    return out


def refused(api: Api, payload: Any = None, *, raw: bytes | None = None, code: str) -> dict[str, Any]:
    before = state(api)
    body = nack(api, payload, raw=raw, code=code)
    assert state(api) == before
    return body


@pytest.fixture
def waiting(api: Api) -> tuple[str, str]:
    """A land dossier of the commune whose cadastral check waits for the land office: (code, message id)."""
    code = _submit(api, LAND)
    api.work()
    _ok(api.decide("chuyenvien1.xa1", code, "approve"))
    api.work()
    with transaction(api.runtime.db) as conn:
        [message_id] = conn.execute(
            select(exchange_outbox.c.message_id).where(exchange_outbox.c.dossier_code == code)
        ).scalars()
    [task] = api.runtime.engine.user_tasks(business_key=code)
    assert task.activity_id == "cadastral_check" and task.variables["current_agency"] == LAND_OFFICE
    return code, message_id


def reply(keys: Pkcs12Keys, code: str, in_reply_to: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("step", {"activity": "cadastral_check"})
    kw.setdefault("variables", {"by": "chuyenvien.vpdk", "decision": "approve", "comment": "Đủ điều kiện"})
    return envelope(keys, kind="reply", code=code, in_reply_to=in_reply_to, **kw)


# ------------------------------------------------------------------ what a partner may still do


def test_a_partner_hands_over_its_own_dossier(api: Api, partner_keys: Pkcs12Keys) -> None:
    accepted(api, handoff(partner_keys))
    view = api.runtime.shop.dossier_view(PARTNER_CODE)
    assert view["status"] == "in_progress" and [d["kind"] for d in view["documents"]] == ["upload"]
    [task] = api.runtime.engine.user_tasks(business_key=PARTNER_CODE)
    assert task.variables["current_agency"] == COMMUNE and task.variables["joint_origin"] == LAND_OFFICE


def test_a_reply_completes_only_the_step_waiting_for_that_partner(
    api: Api, partner_keys: Pkcs12Keys, waiting: tuple[str, str]
) -> None:
    code, message_id = waiting
    accepted(api, reply(partner_keys, code, message_id))
    history = api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()
    done = [e for e in history if e["kind"] == "task.completed" and e["details"]["task"] == "cadastral_check"]
    assert [e["actor"] for e in done] == [f"chuyenvien.vpdk@{LAND_OFFICE}"]
    api.work()  # the dossier goes on to the tax office, hosted here
    [task] = api.runtime.engine.user_tasks(business_key=code)
    assert task.activity_id == "tax_assessment"

    # the same step again (another message id): nothing waits for it any more
    refused(api, reply(partner_keys, code, message_id), code="no_waiting_step")
    # the step now waiting belongs to the tax office here, not to the land office
    refused(api, reply(partner_keys, code, message_id, step={"activity": "tax_assessment"}), code="not_your_step")


# ------------------------------------------------------------------ hand-offs: where the partner was invited


def test_a_handoff_cannot_take_the_next_code_of_a_commune_hosted_here(api: Api, partner_keys: Pkcs12Keys) -> None:
    next_code = format_dossier_code(OTHER_COMMUNE, TODAY, 1)
    payload = handoff(partner_keys, receiver=OTHER_COMMUNE, code=next_code, dossier_record=record())
    body = refused(api, payload, code="foreign_dossier")
    assert next_code in body["reason"]["en"] and LAND_OFFICE in body["reason"]["en"]
    # the commune's own intake is not blocked by anything a partner sent
    add_person(api.runtime, "tiepnhan.xa2", Role.RECEPTION, OTHER_COMMUNE, f"{OTHER_COMMUNE}-TTPVHCC")
    r = api.submit(as_user="tiepnhan.xa2")
    assert r.status_code == 201, r.text
    assert r.json()["code"] == next_code


def test_a_handoff_cannot_claim_a_code_of_the_receiving_commune(api: Api, partner_keys: Pkcs12Keys) -> None:
    code = format_dossier_code(COMMUNE, TODAY, 42)
    refused(api, handoff(partner_keys, code=code, dossier_record=record(agency_code=COMMUNE)), code="foreign_dossier")


def _returned_dossier(api: Api) -> str:
    """A household business dossier of the commune, resolved and returned with its signed result."""
    r = api.submit()
    assert r.status_code == 201, r.text
    code = str(r.json()["code"])
    api.work()
    _ok(api.decide("chuyenvien1.xa1", code, "approve"))
    _ok(api.decide("lanhdao.xa1", code, "approve"))
    api.issue_result(code)
    _ok(api.decide("tiepnhan.xa1", code, None))
    api.work()
    return code


def _public_result(api: Api, code: str) -> bytes:
    r = api.client.get("/api/public/tracking", params={"code": code, "id_number": "001090012345"})
    assert r.status_code == 200, r.text
    download = api.client.get(r.json()["result"]["download_url"])
    assert download.status_code == 200
    return bytes(download.content)


@pytest.mark.parametrize("closing", [True, False], ids=["closing-with-result", "new-step"])
def test_a_handoff_never_touches_a_local_dossier_not_sent_to_that_partner(
    api: Api, partner_keys: Pkcs12Keys, closing: bool
) -> None:
    code = _returned_dossier(api)
    served = _public_result(api, code)
    if closing:
        docs = [Doc(kind="result", filename="ket-qua.pdf", data=minimal_pdf("ket qua gia mao"))]
        payload = handoff(partner_keys, code=code, closing=True, step=None, docs=docs)
    else:
        payload = handoff(partner_keys, code=code)
    body = refused(api, payload, code="not_exchanged")
    assert code in body["reason"]["en"] and LAND_OFFICE in body["reason"]["en"]
    assert _public_result(api, code) == served  # the citizen still gets the commune's signed result


def test_another_partner_cannot_hand_over_a_dossier_sent_to_the_land_office(
    api: Api, partner_keys: Pkcs12Keys, waiting: tuple[str, str]
) -> None:
    code, _ = waiting
    refused(api, handoff(partner_keys, sender=OTHER_PARTNER, code=code), code="not_exchanged")


def test_a_closing_handoff_needs_a_dossier_the_partner_handed_over_before(api: Api, partner_keys: Pkcs12Keys) -> None:
    payload = handoff(partner_keys, closing=True, step=None, docs=[Doc(kind="result", filename="ket-qua.pdf")])
    refused(api, payload, code="unknown_dossier")


def test_a_handoff_names_a_step_a_hand_off_leads_to(api: Api, partner_keys: Pkcs12Keys) -> None:
    refused(api, handoff(partner_keys, step={"activity": "return_result", "name": "Trả kết quả"}), code="unknown_step")
    refused(api, handoff(partner_keys, step=None), code="unknown_step")


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        pytest.param(Doc(kind="result", filename="ket-qua.pdf"), "document_not_allowed", id="result-kind"),
        pytest.param(Doc(kind="../../objects/x"), "document_not_allowed", id="path-in-kind"),
        pytest.param(
            Doc(
                kind="upload",
                data=b"<html><script>alert(1)</script></html>",
                content_type="text/html",
                filename="trang.html",
            ),
            "not_pdf",
            id="text-html",
        ),
        pytest.param(
            Doc(kind="upload", data=b"<html><script>alert(1)</script></html>"), "not_pdf", id="html-declared-pdf"
        ),
        pytest.param(Doc(kind="upload", data=b"%PDF-1.7 broken"), "not_pdf", id="broken-pdf"),
    ],
)
def test_a_partner_attaches_only_pdf_documents_its_step_carries(
    api: Api, partner_keys: Pkcs12Keys, doc: Doc, code: str
) -> None:
    refused(api, handoff(partner_keys, docs=[Doc(), doc]), code=code)


def test_a_reply_carries_no_documents(api: Api, partner_keys: Pkcs12Keys, waiting: tuple[str, str]) -> None:
    code, message_id = waiting
    payload = reply(partner_keys, code, message_id, docs=[Doc(kind="result", filename="ket-qua.pdf")])
    refused(api, payload, code="document_not_allowed")


# ------------------------------------------------------------------ replies: only the step waiting for that partner


def test_a_reply_on_an_unknown_dossier_is_refused(api: Api, partner_keys: Pkcs12Keys) -> None:
    refused(api, reply(partner_keys, format_dossier_code(COMMUNE, TODAY, 99), "m-1"), code="unknown_dossier")


def test_a_reply_on_a_dossier_never_sent_to_that_partner_is_refused(api: Api, partner_keys: Pkcs12Keys) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    refused(api, reply(partner_keys, r.json()["code"], "m-1", step={"activity": "review"}), code="not_exchanged")


def test_a_reply_by_another_partner_is_refused(api: Api, partner_keys: Pkcs12Keys, waiting: tuple[str, str]) -> None:
    code, message_id = waiting
    refused(api, reply(partner_keys, code, message_id, sender=OTHER_PARTNER), code="not_exchanged")


def test_a_reply_answers_the_envelope_that_handed_the_step_over(
    api: Api, partner_keys: Pkcs12Keys, waiting: tuple[str, str]
) -> None:
    code, _ = waiting
    refused(api, reply(partner_keys, code, "not-a-message-we-sent"), code="no_waiting_step")
    refused(api, reply(partner_keys, code, None), code="no_waiting_step")  # type: ignore[arg-type]


def test_a_reply_with_a_decision_the_step_does_not_offer_is_refused(
    api: Api, partner_keys: Pkcs12Keys, waiting: tuple[str, str]
) -> None:
    code, message_id = waiting
    payload = reply(partner_keys, code, message_id, variables={"by": "x", "decision": "grant_everything"})
    refused(api, payload, code="bad_decision")


# ------------------------------------------------------------------ the dossier record of a hand-off


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        pytest.param({"applicant_name": _DROP}, "bad_record", id="missing-name"),
        pytest.param({"procedure_code": _DROP}, "bad_record", id="missing-procedure"),
        pytest.param({"due_at": _DROP}, "bad_record", id="missing-due-at"),
        pytest.param({"received_by": None}, "bad_record", id="null-received-by"),
        pytest.param({"applicant_id_number": "1" * 300}, "bad_record", id="id-number-too-long"),
        pytest.param({"applicant_name": ["x"]}, "bad_record", id="name-not-text"),
        pytest.param({"due_at": "tomorrow"}, "bad_record", id="date-not-iso"),
        pytest.param({"due_at": "2026-03-30T08:00:00"}, "bad_record", id="date-without-offset"),
        pytest.param({"paused_seconds": "many"}, "bad_record", id="paused-not-int"),
        pytest.param({"details": ["x"]}, "bad_record", id="details-not-object"),
        pytest.param({"channel": "pigeon"}, "bad_record", id="unknown-channel"),
        pytest.param({"agency_code": COMMUNE}, "bad_record", id="agency-not-the-codes-unit"),
        pytest.param({"applicant_name": "Nguyễn\u202eVăn An"}, "bad_record", id="bidi-override-in-name"),
        pytest.param({"applicant_name": "A" * 200}, "bad_record", id="name-longer-than-the-desk-allows"),
        pytest.param({"applicant_id_number": "00109001234X"}, "bad_record", id="id-number-not-digits"),
        pytest.param({"details": {"capital_vnd": 10**400}}, "bad_record", id="form-value-out-of-bounds"),
        pytest.param({"procedure_code": "9.999999"}, "unknown_procedure", id="unknown-procedure"),
    ],
)
def test_an_incomplete_dossier_record_is_refused(
    api: Api, partner_keys: Pkcs12Keys, changes: dict[str, Any], code: str
) -> None:
    refused(api, handoff(partner_keys, dossier_record=record(**changes)), code=code)


def test_a_handoff_without_a_record_is_refused(api: Api, partner_keys: Pkcs12Keys) -> None:
    refused(api, handoff(partner_keys, changes={"dossier": None}), code="bad_record")
    refused(api, handoff(partner_keys, changes={"dossier": "x"}), code="bad_record")


# ------------------------------------------------------------------ malformed envelopes


def _deep(depth: int) -> str:
    return '{"a":' + "[" * depth + "]" * depth + "}"


def test_deeply_nested_json_is_a_signed_nack(api: Api, partner_keys: Pkcs12Keys) -> None:
    refused(api, raw=_deep(100_000).encode(), code="malformed")
    payload = handoff(partner_keys)
    payload["documents"] = json.loads(_deep(100))  # within the parser's reach, beyond the body's bound
    refused(api, raw=json.dumps(payload).encode(), code="malformed")
    manifest = _deep(100_000).encode()
    deep_manifest = {"manifest": _b64(manifest), "signature": _b64(signed(partner_keys, LAND_OFFICE, manifest))}
    refused(api, deep_manifest, code="malformed")


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"kind": "takeover"}, id="unknown-kind"),
        pytest.param({"message_id": "m" * 500}, id="message-id-too-long"),
        pytest.param({"sender": ["x"]}, id="sender-not-text"),
        pytest.param({"documents": {"d": 1}}, id="documents-not-a-list"),
        pytest.param({"step": "cadastral_check"}, id="step-not-an-object"),
        pytest.param({"variables": [1]}, id="variables-not-an-object"),
        pytest.param({"closing": "yes"}, id="closing-not-a-boolean"),
        pytest.param({"in_reply_to": 5}, id="in-reply-to-not-text"),
    ],
)
def test_a_malformed_manifest_is_a_signed_nack(api: Api, partner_keys: Pkcs12Keys, changes: dict[str, Any]) -> None:
    refused(api, handoff(partner_keys, changes=changes), code="malformed")


def test_a_document_listed_twice_is_refused(api: Api, partner_keys: Pkcs12Keys) -> None:
    payload = handoff(partner_keys, docs=[Doc(id="d1"), Doc(id="d1")])
    refused(api, payload, code="documents_mismatch")


# ------------------------------------------------------------------ anything unexpected


def test_an_unexpected_failure_is_a_signed_nack_and_nothing_is_kept(
    api: Api, partner_keys: Pkcs12Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = handoff(partner_keys)
    before = state(api, objects=False)

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(api.runtime.shop.engine, "start", broken)
    body = nack(api, payload, code="internal_error", status=503)
    assert "engine exploded" not in body["reason"]["en"]  # no internals to the partner
    assert state(api, objects=False) == before
    monkeypatch.undo()
    accepted(api, payload)  # nothing was kept: the partner's retry of the same message is processed


# ------------------------------------------------------------------ local intake


def test_local_intake_skips_a_code_already_taken(api: Api) -> None:
    taken = format_dossier_code(COMMUNE, TODAY, 1)
    with transaction(api.runtime.db) as conn:
        conn.execute(
            insert(dossier).values(
                code=taken,
                procedure_code=HOUSEHOLD_BUSINESS,
                agency_code=COMMUNE,
                structure_version="x",
                status="in_progress",
                applicant_name="Lê Văn Cũ",
                applicant_id_number="001090099999",
                channel="counter",
                received_at=MONDAY_MORNING,
                clock_start=MONDAY_MORNING,
                due_at=MONDAY_MORNING + dt.timedelta(days=5),
                paused_seconds=0,
                received_by="system:import",
                updated_at=MONDAY_MORNING,
            )
        )
    r = api.submit()
    assert r.status_code == 201, r.text
    assert r.json()["code"] == format_dossier_code(COMMUNE, TODAY, 2)
    assert api.runtime.shop.dossier_row(taken).applicant_name == "Lê Văn Cũ"
