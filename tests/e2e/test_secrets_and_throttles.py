"""No shared secret in the code, public result links bound to their document, and throttles that hold across
API processes (issue 14, points 3 and 6) — through the HTTP API, as the outside attack did.

The attack used the secret key the source code shipped as its default: it signed a ``{"status": "paid"}``
payment callback and minted a ten-year public link to a citizen's ID card scan. Then 40 wrong passwords to
``POST /api/auth/token`` were followed by the right one, and the public rating endpoint answered any number of
code + ID number guesses. The limits were in each process's memory, so a second API process counted afresh.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dossiers.clock import SimulatedClock
from motcua.app import DEMO_PASSWORD, Runtime, build_runtime
from persistence.rate_limits import Limit, RateLimiter
from persistence.schema import audit_log, document
from persistence.uow import transaction
from services.public_lookup import result_link_token
from tests.conftest import MONDAY_MORNING, Api, minimal_pdf
from tests.web import browser, log_in

OLD_DEV_SECRET = b"motcua-development-secret-change-me"  # what the source code shipped as MOTCUA_SECRET_KEY
ID_NUMBER = "001090012345"
CERTIFICATION = "2.000815"  # a fee of 2.000 VND


def _old_key(label: bytes) -> bytes:
    return hmac.new(OLD_DEV_SECRET, label, hashlib.sha256).digest()


def _old_link(code: str, document_id: str, expires: dt.datetime) -> str:
    """A public result link as the attacker minted it: the old format under the old built-in secret."""
    payload = f"{code}|{document_id}|{int(expires.timestamp())}".encode()
    mac = hmac.new(_old_key(b"motcua/public-result-link"), payload, hashlib.sha256).digest()[:20]
    return base64.urlsafe_b64encode(payload + b"|" + mac).decode().rstrip("=")


def _documents(api: Api, code: str) -> dict[str, Any]:
    """The dossier's documents by kind, and the uploads by file name."""
    with transaction(api.runtime.db) as conn:
        rows = conn.execute(select(document).where(document.c.dossier_code == code)).all()
    return {r.kind: r for r in rows} | {r.filename: r for r in rows if r.kind == "upload"}


def _problem(r: Any, status: int, title_part: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert title_part in body["title"], body
    return body


# ------------------------------------------------------------------ the built-in secret is gone


def test_a_callback_signed_with_the_old_built_in_secret_is_refused(api: Api) -> None:
    files = {"paper.ban_chinh": ("ban-chinh.pdf", minimal_pdf("ban chinh"), "application/pdf")}
    code = api.submit(procedure=CERTIFICATION, files=files).json()["code"]
    intent = api.post(f"/api/dossiers/{code}/payments/online", "tiepnhan.xa1")
    assert intent.status_code == 201, intent.text
    body = json.dumps({"reference": intent.json()["reference"], "status": "paid", "amount_vnd": 2000}).encode()
    forged = hmac.new(_old_key(b"motcua/payment-callback"), body, hashlib.sha256).hexdigest()
    r = api.client.post(
        "/api/payments/callback",
        content=body,
        headers={"content-type": "application/json", "X-Motcua-Signature": forged},
    )
    _problem(r, 403, "")
    assert r.json()["code"] == "motcua.bad_signature"
    summary = api.get(f"/api/dossiers/{code}/payments", "tiepnhan.xa1").json()
    assert [p["status"] for p in summary["payments"]] == ["pending"]  # nothing was marked paid


def test_a_ten_year_link_minted_with_the_old_secret_does_not_open_an_id_card_scan(api: Api) -> None:
    code = api.submit().json()["code"]
    scan = _documents(api, code)["cccd.pdf"]  # the applicant's ID card (cccd.pdf)
    ten_years = api.runtime.clock.now() + dt.timedelta(days=3650)
    r = api.client.get(f"/api/public/results/{_old_link(code, scan.id, ten_years)}")
    _problem(r, 404, "Liên kết tải kết quả không hợp lệ")
    assert b"%PDF" not in r.content


def test_the_secret_is_per_installation(api: Api) -> None:
    settings = api.runtime.settings
    secret = (settings.var_dir / "secret_key").read_text().strip()
    assert settings.secret_key == secret and secret.encode() != OLD_DEV_SECRET
    assert (settings.var_dir / "secret_key").stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------ public result links


def test_a_public_link_opens_only_its_result_with_its_bytes_for_hours(api: Api) -> None:
    code = api.submit().json()["code"]
    api.work()
    assert api.decide("chuyenvien1.xa1", code, "approve").status_code == 200
    assert api.decide("lanhdao.xa1", code, "approve").status_code == 200
    api.issue_result(code)
    docs = _documents(api, code)
    result, scan = docs["result"], docs["cccd.pdf"]
    found = api.client.get("/api/public/tracking", params={"code": code, "id_number": ID_NUMBER}).json()
    link = found["result"]["download_url"]
    expires_at = dt.datetime.fromisoformat(found["result"]["expires_at"])
    assert expires_at - api.runtime.clock.now() == dt.timedelta(hours=api.runtime.settings.public_link_hours)
    ok = api.client.get(link)
    assert ok.status_code == 200 and hashlib.sha256(ok.content).hexdigest() == result.sha256

    soon = api.runtime.clock.now() + dt.timedelta(hours=1)
    # a correct MAC (made with the installation's key) for a scan: the public page never serves one
    token = result_link_token(api.runtime, code, scan.id, scan.sha256, soon)
    _problem(api.client.get(f"/api/public/results/{token}"), 404, "không hợp lệ")
    # a correct MAC but an expiry years away: not a link this installation hands out
    far = result_link_token(api.runtime, code, result.id, result.sha256, soon + dt.timedelta(days=3650))
    _problem(api.client.get(f"/api/public/results/{far}"), 404, "không hợp lệ")
    # bound to the document's bytes: if the row came to name other bytes, the link dies
    with transaction(api.runtime.db) as conn:
        conn.execute(update(document).where(document.c.id == result.id).values(sha256="0" * 64))
    try:
        _problem(api.client.get(link), 404, "không hợp lệ")
    finally:
        with transaction(api.runtime.db) as conn:
            conn.execute(update(document).where(document.c.id == result.id).values(sha256=result.sha256))
    assert api.client.get(link).status_code == 200


# ------------------------------------------------------------------ logins


def test_api_logins_have_the_failed_login_throttle_and_failures_are_audited(api: Api) -> None:
    def attempt(password: str) -> Any:
        return api.client.post("/api/auth/token", json={"username": "tiepnhan.xa1", "password": password})

    statuses = [attempt(f"wrong-{i}").status_code for i in range(40)]
    assert statuses == [401] * 5 + [429] * 35
    r = attempt(DEMO_PASSWORD)  # the right one, after 40 wrong ones
    body = _problem(r, 429, "Đăng nhập sai quá nhiều lần")
    assert "Too many failed logins" in body["detail"]
    assert 1 <= int(r.headers["Retry-After"]) <= 300 and body["retry_after"] == int(r.headers["Retry-After"])
    with transaction(api.runtime.db) as conn:
        failed = conn.execute(select(audit_log).where(audit_log.c.kind == "user.login_failed")).all()
    assert [(e.actor, e.details) for e in failed] == [
        ("tiepnhan.xa1", {"address": "testclient", "channel": "api"})
    ] * 5  # every checked wrong password, with the client address, never the password
    assert not any("wrong-" in json.dumps(e.details) for e in failed)
    # another user name from the same address still logs in: the user's limit is per name
    assert api.client.post("/api/auth/token", json={"username": "vanthu.xa1", "password": DEMO_PASSWORD}).is_success


def test_a_successful_login_clears_the_users_failures(api: Api) -> None:
    for _ in range(4):
        assert api.client.post("/api/auth/token", json={"username": "vanthu.xa1", "password": "x"}).status_code == 401
    assert api.client.post("/api/auth/token", json={"username": "vanthu.xa1", "password": DEMO_PASSWORD}).is_success
    for _ in range(4):
        assert api.client.post("/api/auth/token", json={"username": "vanthu.xa1", "password": "x"}).status_code == 401


# ------------------------------------------------------------------ two API processes, one database


@pytest.fixture
def second_process(api: Api) -> Iterator[Runtime]:
    """Another API process of the same installation: its own runtime (engine, pools, app) on the same files."""
    other = build_runtime(api.runtime.settings, clock=SimulatedClock(MONDAY_MORNING))
    try:
        yield other
    finally:
        other.close()


def test_failed_logins_count_across_processes_and_between_web_and_api(api: Api, second_process: Runtime) -> None:
    from api.app import asgi

    web_a, web_b = browser(api), TestClient(asgi(second_process), base_url="https://testserver", follow_redirects=False)
    api_b = TestClient(asgi(second_process))
    assert [log_in(web_a, "lanhdao.xa1", "sai").status_code for _ in range(2)] == [401, 401]
    assert [log_in(web_b, "lanhdao.xa1", "sai").status_code for _ in range(2)] == [401, 401]
    wrong = api_b.post("/api/auth/token", json={"username": "lanhdao.xa1", "password": "sai"})
    assert wrong.status_code == 401  # the fifth failure, through the API of the other process
    blocked = log_in(web_a, "lanhdao.xa1")  # the right password, in the first process's web login
    assert blocked.status_code == 429 and "Đăng nhập sai quá nhiều lần" in blocked.text
    assert int(blocked.headers["Retry-After"]) >= 1
    _problem(
        api_b.post("/api/auth/token", json={"username": "lanhdao.xa1", "password": DEMO_PASSWORD}),
        429,
        "Đăng nhập sai quá nhiều lần",
    )


def test_public_lookups_count_across_processes(api: Api, second_process: Runtime) -> None:
    from api.app import asgi

    code = api.submit().json()["code"]
    params = {"code": code, "id_number": ID_NUMBER}
    limit = api.runtime.settings.public_lookups_per_minute
    other = TestClient(asgi(second_process))
    first_half = [api.client.get("/api/public/tracking", params=params).status_code for _ in range(limit // 2)]
    second_half = [other.get("/api/public/tracking", params=params).status_code for _ in range(limit - limit // 2)]
    assert first_half + second_half == [200] * limit
    for client in (api.client, other):
        body = _problem(client.get("/api/public/tracking", params=params), 429, "Quá nhiều lượt tra cứu")
        assert body["code"] == "motcua.rate_limited"


def test_the_public_rating_endpoint_has_the_lookup_limit(api: Api) -> None:
    code = api.submit().json()["code"]
    limit = api.runtime.settings.public_lookups_per_minute
    guesses = [
        api.client.post(f"/api/public/dossiers/{code}/rating", json={"id_number": f"0010900{i:05d}", "level": 5})
        for i in range(limit)
    ]
    assert [g.status_code for g in guesses] == [404] * limit  # wrong ID numbers
    right = api.client.post(f"/api/public/dossiers/{code}/rating", json={"id_number": ID_NUMBER, "level": 5})
    body = _problem(right, 429, "Quá nhiều lượt tra cứu")  # no answer about the dossier's status either
    assert "dossier_status" not in body and int(right.headers["Retry-After"]) >= 1
    # the rating shares the budget of the address's lookups
    assert api.client.get("/api/public/tracking", params={"code": code, "id_number": ID_NUMBER}).status_code == 429


def test_the_sliding_window_in_the_database(api: Api) -> None:
    now = [1_000_000.0]
    limiter = RateLimiter(api.runtime.db, clock=lambda: now[0])
    a, b = Limit("a", 3, 60.0), Limit("b", 3, 60.0)
    assert [limiter.hit(a) for _ in range(3)] == [None, None, None]
    assert limiter.hit(a) == pytest.approx(60.0)
    assert limiter.hit(b) is None
    now[0] += 30.0
    assert limiter.hit(a) == pytest.approx(30.0)  # sliding: the first hit leaves the window at 60 s
    now[0] += 30.0
    assert [limiter.hit(a) for _ in range(4)] == [None, None, None, pytest.approx(60.0)]
    other_process = RateLimiter(api.runtime.db, clock=lambda: now[0])
    assert other_process.hit(a) == pytest.approx(60.0)  # the same rows
    assert limiter.count("b", 60.0) == 0  # its one hit left the window
    ids = other_process.reserve(b, b, b)
    assert isinstance(ids, list) and limiter.count("b", 60.0) == 3
    assert other_process.reserve(b) == pytest.approx(60.0)  # blocked: nothing recorded
    other_process.release(ids)  # a login that succeeded takes its attempt back
    assert limiter.count("b", 60.0) == 0
