"""Signed envelopes between two Motcua installations on loopback, over HTTPS (issue 9, DESIGN §9).

Installation A hosts the commune (and the tax office); installation B hosts the land registration office. Each
has its own database, document store and development PKI, and lists the other's agencies as partners (A pins
B's certificate; B trusts A's root and checks the unit code in the certificate). The joint land procedure runs
across them: A's process hands the dossier to B as a signed envelope; B registers it, starts its own partner
process, its specialist works the step and B replies with a signed envelope that completes A's waiting step.
In the middle, B is stopped: A keeps the envelope in its outbox and retries with backoff until B is back; each
message is processed once. Then hostile envelopes (tampered, unknown sender, expired or foreign certificate,
wrong receiver, malformed, replayed, message id reused) are each refused with a signed negative acknowledgment.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from integrations.envelopes.manifest import ENVELOPE_TYPE, canonical, sha256_hex
from signing.cms import sign_detached, verify_detached
from signing.keys.pkcs12 import Pkcs12Keys
from signing.pki import DevelopmentPki
from tests.conftest import minimal_pdf
from tests.integration.server import Api, MotcuaServer, free_port

pytestmark = pytest.mark.integration

COMMUNE = "000.00.31.H99"
OTHER_COMMUNE = "000.00.32.H99"
LAND_OFFICE = "000.40.00.H99"
TAX_OFFICE = "000.50.00.H99"
LAND = "1.013978"
ENVELOPES = "/api/exchange/envelopes"
LAND_DETAILS = {
    "land_address": "Xóm Bãi, xã Hòa An, tỉnh Demo",
    "parcel_number": "215",
    "map_sheet": "07",
    "area_m2": 120,
    "land_use_purpose": "Đất ở tại nông thôn",
    "land_origin": "Được ông bà để lại, sử dụng ổn định từ năm 1990, không tranh chấp",
    "used_since": "1990-06-01",
}


@dataclass
class Pair:
    a: MotcuaServer
    b: MotcuaServer
    api_a: Api
    api_b: Api

    def pki(self, server: MotcuaServer) -> DevelopmentPki:
        return DevelopmentPki(server.var_dir / "pki")


def _wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.2)


def _loopback_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1: both installations speak HTTPS."""
    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Motcua test loopback TLS CA"))
        .issuer_name(name("Motcua test loopback TLS CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "tls-ca.pem", directory / "tls-cert.pem", directory / "tls-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _partners_file(
    path: Path, url: str, other: DevelopmentPki, agencies: list[str], *, pin: bool, tls_ca: Path
) -> None:
    entries = []
    for agency in agencies:
        entry: dict[str, Any] = {
            "agency": agency,
            "url": url,
            "trust_roots": [str(other.root_cert_path)],
            "tls_ca": str(tls_ca),
        }
        if pin:
            entry["certificates"] = [str(other.root_dir / "agency" / f"{agency}.pem")]
        entries.append(entry)
    path.write_text(json.dumps({"partners": entries}), encoding="utf-8")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("exchange")
    servers = []
    for name in ("a", "b"):
        (root / name / "logs").mkdir(parents=True)
        servers.append(MotcuaServer(var_dir=root / name / "var", log_dir=root / name / "logs", port=free_port()))
    a, b = servers
    tls_ca, tls_cert, tls_key = _loopback_tls(root)
    for server in servers:
        server.init()  # each its own database, store and development PKI
        server.tls_ca = tls_ca
        server.extra_env.update(MOTCUA_TLS_CERT_FILE=str(tls_cert), MOTCUA_TLS_KEY_FILE=str(tls_key))
    pki_a, pki_b = DevelopmentPki(a.var_dir / "pki"), DevelopmentPki(b.var_dir / "pki")
    url_a, url_b = f"{a.base_url}{ENVELOPES}", f"{b.base_url}{ENVELOPES}"
    assert url_a.startswith("https://") and url_b.startswith("https://")
    _partners_file(root / "a-partners.json", url_b, pki_b, [LAND_OFFICE], pin=True, tls_ca=tls_ca)
    _partners_file(root / "b-partners.json", url_a, pki_a, [COMMUNE, TAX_OFFICE], pin=False, tls_ca=tls_ca)
    fast_retries = {"MOTCUA_EXCHANGE_RETRY_SECONDS": "0.3", "MOTCUA_EXCHANGE_RETRY_MAX_SECONDS": "1.5"}
    a.extra_env.update(MOTCUA_EXCHANGE_PARTNERS_FILE=str(root / "a-partners.json"), **fast_retries)
    b.extra_env.update(MOTCUA_EXCHANGE_PARTNERS_FILE=str(root / "b-partners.json"), **fast_retries)
    try:
        a.start()
        b.start()
        yield Pair(a, b, Api(a), Api(b))
    finally:
        a.close()
        b.close()


def _tasks(api: Api, username: str, code: str) -> list[dict[str, Any]]:
    r = api.get("/api/tasks", username)
    assert r.status_code == 200, r.text
    return [t for t in r.json() if t["dossier_code"] == code]


def _task(api: Api, username: str, code: str, activity: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        tasks = [t for t in _tasks(api, username, code) if t["activity_id"] == activity]
        return tasks[0] if tasks else None

    return dict(_wait(f"{username} sees {activity} of {code} on {api.server.base_url}", found))


def _complete(api: Api, username: str, task: dict[str, Any], decision: str | None, comment: str = "") -> None:
    body: dict[str, Any] = {"decision": decision}
    if comment:
        body["comment"] = comment
    r = api.post(f"/api/tasks/{task['id']}/complete", username, json=body)
    assert r.status_code == 200, r.text


def _messages(api: Api) -> list[dict[str, Any]]:
    r = api.get("/api/exchange/messages", "quantri.tinh")
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


def _history(api: Api, code: str, kind: str) -> list[dict[str, Any]]:
    r = api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh")
    assert r.status_code == 200, r.text
    return [e for e in r.json() if e["kind"] == kind]


def _documents(api: Api, code: str, user: str) -> dict[str, str]:
    r = api.get(f"/api/dossiers/{code}", user)
    assert r.status_code == 200, r.text
    return {d["sha256"]: d["kind"] for d in r.json()["documents"]}


def _outbox_rows(server: MotcuaServer) -> list[sqlite3.Row]:
    with sqlite3.connect(server.var_dir / "motcua.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM exchange_outbox ORDER BY created_at"))


def _submit(api: Api) -> str:
    files = {
        "paper.don_dang_ky": ("don-04dk.pdf", minimal_pdf("don 04"), "application/pdf"),
        "paper.giay_to_nhan_than": ("cccd.pdf", minimal_pdf("cccd"), "application/pdf"),
    }
    data = {
        "procedure_code": LAND,
        "applicant_name": "Nguyễn Văn An",
        "applicant_id_number": "001090012345",
        "details": json.dumps(LAND_DETAILS, ensure_ascii=False),
    }
    r = api.post("/api/dossiers", "tiepnhan.xa1", data=data, files=files)
    assert r.status_code == 201, r.text
    return str(r.json()["code"])


def test_a_joint_procedure_crosses_two_installations_through_a_partner_outage(pair: Pair) -> None:
    a, b = pair.api_a, pair.api_b
    code = _submit(a)
    _complete(a, "chuyenvien1.xa1", _task(a, "chuyenvien1.xa1", code, "verify_origin"), "approve")

    # hand-off 1 (commune → land office) travels as a signed envelope; B registers the dossier and starts its
    # own process; the land office's specialist works the step there, not at A
    step = _task(b, "chuyenvien.vpdk", code, "partner_step")
    assert "Kiểm tra hồ sơ địa chính" in step["name"]
    assert step["decisions"] == {"decision": ["approve", "refuse", "supplement"]}
    assert _tasks(a, "chuyenvien.vpdk", code) == []  # A's copy of the step waits for B: nobody here works it
    sent = {sha: kind for sha, kind in _documents(a, code, "tiepnhan.xa1").items() if kind in ("upload", "receipt")}
    received = _documents(b, code, "chuyenvien.vpdk")
    assert set(sent) <= set(received)  # the same bytes (SHA-256) arrived
    view_b = b.get(f"/api/dossiers/{code}", "chuyenvien.vpdk").json()
    assert view_b["applicant"]["name"] == "Nguyễn Văn An"
    _complete(b, "chuyenvien.vpdk", step, "approve", "Đủ điều kiện; đã lập phiếu chuyển thông tin địa chính")

    # B's signed reply completes A's waiting step; A goes on to the tax office (hosted at A)
    tax = _task(a, "chuyenvien.thue", code, "tax_assessment")
    completed = [e for e in _history(a, code, "task.completed") if e["details"]["task"] == "cadastral_check"]
    assert [e["actor"] for e in completed] == [f"chuyenvien.vpdk@{LAND_OFFICE}"]
    assert completed[0]["details"]["decision"] == "approve"

    # the partner goes down in the middle: A's hand-off 4 waits in the outbox and is retried with backoff
    pair.b.stop()
    _complete(a, "chuyenvien.thue", tax, None, "Không thuộc diện phải nộp tiền sử dụng đất")
    _complete(a, "tiepnhan.xa1", _task(a, "tiepnhan.xa1", code, "payment_confirmed"), None, "Đã nộp")

    def retried() -> dict[str, Any] | None:
        pending = [m for m in _messages(a) if m["direction"] == "out" and m["status"] == "pending"]
        return pending[0] if pending and pending[0]["attempts"] >= 2 else None

    waiting = _wait("A retries the envelope while B is down", retried)
    assert waiting["receiver"] == LAND_OFFICE and waiting["last_error"]
    pair.b.start()  # same database: B comes back with what it had
    b.reconnect()
    step = _task(b, "chuyenvien.vpdk", code, "partner_step")  # the same process of B, correlated
    assert "Chuẩn bị Giấy chứng nhận" in step["name"]
    assert step["decisions"] == {}
    _complete(b, "chuyenvien.vpdk", step, None)

    # back at the commune: approval, the Chairman's signature, number, seal; the result goes to B for the record
    _complete(a, "lanhdao.xa1", _task(a, "lanhdao.xa1", code, "approve"), None)
    _wait("the certificate is prepared for signing", lambda: a.get("/api/signatures/pending", "lanhdao.xa1").json())
    r = a.sign_on_device(code, "lanhdao.xa1")
    assert r.status_code == 200, r.text
    _complete(a, "vanthu.xa1", _task(a, "vanthu.xa1", code, "register_number"), None)
    _complete(a, "tiepnhan.xa1", _task(a, "tiepnhan.xa1", code, "return_result"), None)
    _wait("the dossier is returned", lambda: a.dossier(code)["status"] == "returned")

    result = [sha for sha, kind in _documents(a, code, "tiepnhan.xa1").items() if kind == "result"]
    assert len(result) == 1
    _wait("B files the signed result", lambda: result[0] in _documents(b, code, "chuyenvien.vpdk"))
    _wait("B's partner process ends", lambda: _tasks(b, "chuyenvien.vpdk", code) == [])

    # every envelope acknowledged once, with a signature by the partner that A could check
    _wait(
        "every envelope is acknowledged",
        lambda: all(m["status"] == "delivered" for m in _messages(a) if m["direction"] == "out"),
    )
    out_a = [m for m in _messages(a) if m["direction"] == "out"]
    assert len(out_a) == 3 and all(m["acknowledged"] for m in out_a)
    assert max(m["attempts"] for m in out_a) >= 3  # the one sent through the outage
    assert len(_history(a, code, "exchange.acknowledged")) == 3
    assert len(_history(b, code, "exchange.received")) == 3  # retries did not deliver anything twice
    assert len(_history(a, code, "exchange.received")) == 2  # B's two replies
    pki_b = pair.pki(pair.b)
    for row in _outbox_rows(pair.a):
        report = verify_detached(row["ack"], row["ack_signature"], pki_b.trust_roots())
        assert LAND_OFFICE in report.signer_certificate.subject.rfc4514_string()
        assert json.loads(row["ack"])["status"] == "accepted"

    # a replay of a delivered envelope is acknowledged with the first answer and processed once
    row = _outbox_rows(pair.a)[0]
    payload = _payload_of(pair, row)
    again = httpx.post(f"{pair.b.base_url}{ENVELOPES}", json=payload, timeout=30, verify=pair.b.verify)
    assert again.status_code == 200
    assert base64.b64decode(again.json()["ack"]) == row["ack"]
    assert len(_history(b, code, "exchange.received")) == 3

    # the same message id with other (validly signed) content is refused, not processed
    manifest = json.loads(base64.b64decode(payload["manifest"]))
    manifest["created_at"] = dt.datetime.now(dt.UTC).isoformat()
    data = canonical(manifest)
    signer = Pkcs12Keys(pair.pki(pair.a)).signer_for(f"agency:{COMMUNE}")
    payload |= {
        "manifest": base64.b64encode(data).decode(),
        "signature": base64.b64encode(sign_detached(data, signer)).decode(),
    }
    assert _nack(pair, payload)["reason"]["code"] == "message_id_reused"
    assert len(_history(b, code, "exchange.received")) == 3


def _payload_of(pair: Pair, row: sqlite3.Row) -> dict[str, Any]:
    """The envelope A sent, rebuilt from A's outbox and store (what a network replay would carry)."""
    manifest = json.loads(row["manifest"])
    documents = {}
    for item in manifest["documents"]:
        r = pair.api_a.get(f"/api/dossiers/{manifest['dossier_code']}/documents/{item['id']}", "tiepnhan.xa1")
        assert r.status_code == 200
        documents[item["id"]] = base64.b64encode(r.content).decode()
    return {
        "manifest": base64.b64encode(row["manifest"]).decode(),
        "signature": base64.b64encode(row["signature"]).decode(),
        "documents": documents,
    }


# ------------------------------------------------------------------ hostile envelopes


def _envelope(
    keys: Pkcs12Keys,
    *,
    sender: str = COMMUNE,
    receiver: str = LAND_OFFICE,
    message_id: str,
    document: bytes = b"%PDF-1.7 test",
    tamper: bool = False,
    signer: str | None = None,
) -> dict[str, Any]:
    manifest = canonical(
        {
            "type": ENVELOPE_TYPE,
            "message_id": message_id,
            "kind": "handoff",
            "sender": sender,
            "receiver": receiver,
            "dossier_code": "000.00.31.H99-261122-9999",
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "documents": [
                {
                    "id": "d1",
                    "kind": "upload",
                    "filename": "don.pdf",
                    "content_type": "application/pdf",
                    "sha256": sha256_hex(document),
                    "size": len(document),
                }
            ],
            "dossier": None,
            "step": {"activity": "cadastral_check", "name": "Kiểm tra"},
            "variables": {},
            "in_reply_to": None,
            "closing": False,
        }
    )
    signature = sign_detached(manifest, keys.signer_for(f"agency:{signer or sender}"))
    body = document[:-1] + b"X" if tamper else document
    return {
        "manifest": base64.b64encode(manifest).decode(),
        "signature": base64.b64encode(signature).decode(),
        "documents": {"d1": base64.b64encode(body).decode()},
    }


def _nack(pair: Pair, payload: Any, *, raw: bytes | None = None) -> dict[str, Any]:
    url = f"{pair.b.base_url}{ENVELOPES}"
    verify = pair.b.verify
    if raw is not None:
        r = httpx.post(url, content=raw, timeout=30, verify=verify)
    else:
        r = httpx.post(url, json=payload, timeout=30, verify=verify)
    assert r.status_code == 422, r.text
    ack, signature = base64.b64decode(r.json()["ack"]), base64.b64decode(r.json()["signature"])
    report = verify_detached(ack, signature, pair.pki(pair.b).trust_roots())  # signed by B, checkable by A
    assert report.signer_certificate.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)
    body = json.loads(ack)
    assert body["status"] == "refused"
    assert body["reason"]["vi"] and body["reason"]["en"]
    return dict(body)


@pytest.fixture(scope="module")
def keys_a(pair: Pair) -> Pkcs12Keys:
    return Pkcs12Keys(pair.pki(pair.a))


def test_a_tampered_document_is_refused_with_a_signed_nack(pair: Pair, keys_a: Pkcs12Keys) -> None:
    body = _nack(pair, _envelope(keys_a, message_id="hostile-tampered", tamper=True))
    assert body["reason"]["code"] == "tampered"
    assert "SHA-256" in body["reason"]["en"] and body["by"] == LAND_OFFICE


def test_a_changed_manifest_breaks_the_signature(pair: Pair, keys_a: Pkcs12Keys) -> None:
    payload = _envelope(keys_a, message_id="hostile-manifest")
    manifest = base64.b64decode(payload["manifest"]).replace(b"cadastral_check", b"cadastral_chek")
    payload["manifest"] = base64.b64encode(manifest).decode()
    assert _nack(pair, payload)["reason"]["code"] == "bad_signature"


def test_an_unknown_sender_is_refused(pair: Pair, keys_a: Pkcs12Keys) -> None:
    body = _nack(pair, _envelope(keys_a, sender=OTHER_COMMUNE, message_id="hostile-unknown"))
    assert body["reason"]["code"] == "unknown_sender"
    assert OTHER_COMMUNE in body["reason"]["en"]


def test_a_signature_by_another_agency_is_refused(pair: Pair, keys_a: Pkcs12Keys) -> None:
    # a partner's key signing in another partner's name: the certificate names the wrong unit code
    body = _nack(pair, _envelope(keys_a, sender=COMMUNE, signer=TAX_OFFICE, message_id="hostile-impostor"))
    assert body["reason"]["code"] == "foreign_certificate"


def test_a_certificate_from_a_foreign_pki_is_refused(pair: Pair, tmp_path: Path) -> None:
    foreign = DevelopmentPki(tmp_path / "foreign")
    foreign.ensure([(COMMUNE, "Ủy ban nhân dân xã giả mạo")], [], dt.datetime.now(dt.UTC))
    body = _nack(pair, _envelope(Pkcs12Keys(foreign), message_id="hostile-foreign"))
    assert body["reason"]["code"] == "untrusted_certificate"


def test_an_expired_certificate_is_refused(pair: Pair, tmp_path: Path) -> None:
    copy = tmp_path / "pki-a"
    shutil.copytree(pair.a.var_dir / "pki", copy)
    pki = DevelopmentPki(copy)
    now = dt.datetime.now(dt.UTC)
    pki.issue(
        f"agency:{COMMUNE}",
        "Ủy ban nhân dân xã Hòa An",
        not_before=now - dt.timedelta(days=800),
        not_after=now - dt.timedelta(days=400),
        replace=True,
    )
    body = _nack(pair, _envelope(Pkcs12Keys(pki), message_id="hostile-expired"))
    assert body["reason"]["code"] == "certificate_expired"


def test_a_wrong_receiver_is_refused(pair: Pair, keys_a: Pkcs12Keys) -> None:
    body = _nack(pair, _envelope(keys_a, receiver=TAX_OFFICE, message_id="hostile-receiver"))
    assert body["reason"]["code"] == "wrong_receiver"


def test_malformed_envelopes_get_a_signed_nack(pair: Pair) -> None:
    assert _nack(pair, None, raw=b"{not json")["reason"]["code"] == "malformed"
    assert _nack(pair, {"manifest": "@@@", "signature": "", "documents": {}})["reason"]["code"] == "malformed"


def test_sigterm_stops_an_https_installation_promptly_with_idle_connections_open(pair: Pair) -> None:
    """A client that keeps its TLS connection open and never answers close_notify (an idle keep-alive pool, as
    httpx keeps here) held the stop for asyncio's 30 s SSL shutdown timeout; the stop now drops such connections
    after a short grace, so an orchestrator's SIGTERM ends in a clean exit, not a SIGKILL."""
    assert pair.api_b.get("/api/health", "chuyenvien.vpdk").status_code == 200  # leaves the connection idle in the pool
    exit_code, took, killed = pair.b.stop() or (None, 0.0, False)
    try:
        assert (exit_code, killed) == (0, False), f"SIGTERM: exit {exit_code} after {took:.1f} s"
        assert took < 10.0, f"the stop took {took:.1f} s"
    finally:
        pair.b.start()  # the module's teardown stops it again
