"""Hardening found by an outside attack on a running installation (issue 14, point 8): login CSRF (token and
origin), security headers on JSON too and HSTS over HTTPS, ``/metrics`` not public, ``Allow`` on 405, the
health check telling a store it cannot write to, and procedures routed to their kind of department."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from motcua.app import DEMO_PASSWORD
from persistence.schema import api_token
from tests.conftest import Api, minimal_pdf
from tests.web import browser, login_form_token

JSON_CSP = "default-src 'none'"
CERTIFIED_COPY = "2.000815"
JUSTICE = "tuphap.xa1"  # the demo specialist of the commune's Tư pháp - Hộ tịch department
ECONOMIC = "chuyenvien1.xa1"  # Phòng Kinh tế
SOCIAL = "chuyenvien2.xa1"  # Phòng Văn hóa - Xã hội


def _problem(r: Any, status: int, *detail_parts: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["title"] and any(ord(c) > 127 for c in body["title"]), body
    for part in detail_parts:
        assert part in body["detail"], (part, body["detail"])
    return body


# ------------------------------------------------------------------ login form: CSRF token and origin


def _sessions(api: Api) -> int:
    with api.runtime.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(api_token)).scalar_one())


def _logins(api: Api) -> int:
    return sum(1 for e in api.runtime.audit.all() if e.event.kind == "user.login")


def _login_post(client: TestClient, token: str | None, **headers: str) -> Any:
    data = {"username": ECONOMIC, "password": DEMO_PASSWORD, "next": "/"}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/dang-nhap", data=data, headers=headers)


def _refused_login(api: Api, r: Any, sessions: int, logins: int, message: str) -> None:
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert message in r.text
    assert "motcua_session=" not in r.headers.get("set-cookie", "")
    assert (_sessions(api), _logins(api)) == (sessions, logins)  # no session, nothing audited as a login


def test_the_login_form_carries_a_token_bound_to_a_pre_session_cookie(api: Api) -> None:
    client = browser(api)
    page = client.get("/dang-nhap")
    cookie = page.headers["set-cookie"]
    assert "motcua_login_csrf=" in cookie and "HttpOnly" in cookie and "Secure" in cookie
    assert re.search(r'<input type="hidden" name="csrf_token" value="[0-9a-f]{40}">', page.text)
    assert login_form_token(client) == login_form_token(client)  # stable while the cookie lives


def test_a_login_without_or_with_a_wrong_token_is_refused(api: Api) -> None:
    sessions, logins = _sessions(api), _logins(api)
    stale = "Biểu mẫu đăng nhập đã cũ"
    # a cross-site form that never loaded the login page: no cookie, no token
    _refused_login(api, _login_post(browser(api), None), sessions, logins, stale)
    client = browser(api)
    login_form_token(client)
    _refused_login(api, _login_post(client, None), sessions, logins, stale)
    _refused_login(api, _login_post(client, "0" * 40), sessions, logins, stale)
    # another browser's token (the attacker's own visit to the login page) does not fit this cookie
    _refused_login(api, _login_post(client, login_form_token(browser(api))), sessions, logins, stale)
    # the refusal shows the form again with a usable token: the person can simply retry
    again = _login_post(client, None)
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', again.text)
    assert found and _login_post(client, found.group(1)).status_code == 303


def test_a_login_from_a_foreign_origin_is_refused_even_with_the_token(api: Api) -> None:
    sessions, logins = _sessions(api), _logins(api)
    client = browser(api)
    token = login_form_token(client)
    foreign = "trang web khác"
    _refused_login(api, _login_post(client, token, origin="https://evil.example"), sessions, logins, foreign)
    _refused_login(api, _login_post(client, token, origin="null"), sessions, logins, foreign)
    _refused_login(api, _login_post(client, token, referer="https://evil.example/login"), sessions, logins, foreign)
    assert "motcua_session=" in _login_post(client, token, origin="https://testserver").headers["set-cookie"]


def test_the_public_base_url_is_an_accepted_origin(api: Api) -> None:
    """Behind a proxy the server may see its own address as the Host: the public address is accepted too."""
    api.runtime.settings = api.runtime.settings.model_copy(update={"public_base_url": "https://motcua.example/"})
    client = browser(api)
    token = login_form_token(client)
    r = _login_post(client, token, origin="https://motcua.example", host="10.0.0.5:8000")
    assert r.status_code == 303, r.text[:300]
    r = _login_post(client, token, origin="https://motcua.example.evil.example", host="10.0.0.5:8000")
    assert r.status_code == 403


# ------------------------------------------------------------------ security headers


def test_json_responses_carry_nosniff_and_a_restrictive_csp(api: Api) -> None:
    for r in (
        api.client.get("/api/procedures"),
        api.client.get("/api/dossiers/nothing"),  # a problem+json refusal
        api.get("/api/dossiers/000.00.31.H99-260302-9999", ECONOMIC),
    ):
        assert r.headers["content-type"].startswith(("application/json", "application/problem+json"))
        assert r.headers["x-content-type-options"] == "nosniff"
        csp = r.headers["content-security-policy"]
        assert JSON_CSP in csp and "frame-ancestors 'none'" in csp, csp
        assert r.headers["referrer-policy"]
        assert "strict-transport-security" not in r.headers  # plain HTTP: no HSTS
    page = browser(api).get("/thu-tuc")  # pages keep their own policy
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_hsts_only_over_https(api: Api) -> None:
    secure = browser(api)
    for path in ("/api/procedures", "/thu-tuc", "/dang-nhap"):
        hsts = secure.get(path).headers.get("strict-transport-security", "")
        assert re.fullmatch(r"max-age=\d{7,}(; includeSubDomains)?", hsts), (path, hsts)
    # a header anyone can send does not make plain HTTP secure: only the server's own (or its trusted
    # proxy's, through uvicorn's --forwarded-allow-ips) view of the scheme counts
    plain = api.client.get("/api/procedures", headers={"x-forwarded-proto": "https"})
    assert "strict-transport-security" not in plain.headers


# ------------------------------------------------------------------ /metrics


def test_metrics_are_not_public(api: Api) -> None:
    _problem(api.client.get("/metrics"), 401, "MOTCUA_METRICS_TOKEN")
    _problem(api.client.get("/metrics", headers={"Authorization": "Bearer not-a-token"}), 401)
    _problem(api.get("/metrics", ECONOMIC), 403)
    _problem(api.get("/metrics", "congdan1"), 403)
    for user in ("quantri.tinh", "thanhtra.tinh"):
        r = api.get("/metrics", user)
        assert r.status_code == 200 and "motcua_http_requests_total" in r.text, user


def test_metrics_with_the_scrapers_token(runtime: Any) -> None:
    token = "scraper-" + "x" * 32
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": token})
    api = Api(runtime)
    r = api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "motcua_http_requests_total" in r.text
    _problem(api.client.get("/metrics", headers={"Authorization": f"Bearer {token}x"}), 401)
    _problem(api.client.get("/metrics"), 401)


def test_metrics_label_requests_by_route_template(api: Api) -> None:
    """Ids, codes, tokens and unknown paths never become label values (one time series each): the ``route``
    label is the template of the route that answered, or ``unmatched``."""
    from api.app import create_app

    code = api.submit().json()["code"]
    view = api.get(f"/api/dossiers/{code}", "tiepnhan.xa1")
    document_id = view.json()["documents"][0]["id"]
    assert api.get(f"/api/dossiers/{code}/documents/{document_id}", "tiepnhan.xa1").status_code == 200
    assert api.client.get(f"/thu-tuc/{CERTIFIED_COPY}").status_code == 200
    assert api.client.get("/static/js/diagram.js").status_code == 200
    desk = browser(api)
    desk.post(
        "/dang-nhap",
        data={"username": "tiepnhan.xa1", "password": DEMO_PASSWORD, "next": "/", "csrf_token": login_form_token(desk)},
    )
    assert desk.get(f"/mot-cua/ho-so/{code}").status_code == 200
    unknown = "khong-co-" + "9" * 12
    assert api.client.get(f"/{unknown}/{code}").status_code == 404
    assert api.get(f"/api/dossiers/{code}/{unknown}", "tiepnhan.xa1").status_code == 404

    text = api.get("/metrics", "quantri.tinh").text
    for concrete in (code, document_id, unknown, CERTIFIED_COPY, "diagram.js"):
        assert concrete not in text, concrete
    routes = set(re.findall(r'^motcua_http_request\w*\{[^}]*route="([^"]*)"', text, re.MULTILINE))
    expected = {
        "/api/dossiers/{code}",
        "/api/dossiers/{code}/documents/{document_id}",
        "/thu-tuc/{code}",
        "/static/{path:path}",
        "/mot-cua/ho-so/{code}",
        "unmatched",
    }
    assert expected <= routes, expected - routes
    templates = _templates(create_app(api.runtime).routes)
    assert routes <= templates | {"unmatched"}, routes - templates


def _templates(routes: list[Any]) -> set[str]:
    """Every route's path template, through included routers (newer FastAPI keeps them as branches)."""
    found = {route.path for route in routes if isinstance(getattr(route, "path", None), str)}
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= _templates(included.routes)
    return found


# ------------------------------------------------------------------ 405


def test_method_not_allowed_names_the_allowed_methods(api: Api) -> None:
    r = api.client.put("/api/procedures")
    _problem(r, 405)
    assert r.headers["allow"] == "GET"
    r = api.client.delete("/dang-nhap")  # GET and POST are two routes of the same path
    _problem(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "POST"}


# ------------------------------------------------------------------ health


def test_health_is_degraded_when_the_store_cannot_be_written(runtime: Any) -> None:
    assert Api(runtime).client.get("/api/health").json()["status"] == "ok"
    objects = runtime.settings.objects_dir
    moved = objects.with_name("objects-away")
    objects.rename(moved)
    objects.write_bytes(b"not a directory")  # the store's root is a file now: nothing can be written below it
    try:
        r = Api(runtime).client.get("/api/health")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "degraded"
        assert any("store" in reason for reason in body["reasons"]), body
    finally:
        objects.unlink()
        moved.rename(objects)
    r = Api(runtime).client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["reasons"] == []


# ------------------------------------------------------------------ procedures routed to their kind of department


def _visible(api: Api, user: str, code: str) -> list[dict[str, Any]]:
    return [t for t in api.get("/api/tasks", user).json() if t["dossier_code"] == code]


def _only_for(api: Api, code: str, handler: str, others: tuple[str, ...]) -> None:
    task = api.task_for(handler, code)
    for other in others:
        assert _visible(api, other, code) == [], other
        for action, body in (("claim", None), ("complete", {"decision": "approve"})):
            r = api.post(f"/api/tasks/{task['id']}/{action}", other, json=body)
            _problem(r, 403, "another department")
    assert api.task_for(handler, code)["assignee"] is None
    assert api.decide(handler, code, "approve").status_code == 200


def test_household_business_is_decided_by_the_economic_department_only(api: Api) -> None:
    r = api.submit()
    assert r.status_code == 201, r.text
    api.work()
    _only_for(api, r.json()["code"], ECONOMIC, (SOCIAL, JUSTICE))


def test_certified_copies_are_decided_by_the_justice_department_only(api: Api) -> None:
    files = {"paper.ban_chinh": ("ban-chinh.pdf", minimal_pdf("ban chinh"), "application/pdf")}
    r = api.submit(procedure=CERTIFIED_COPY, files=files)
    assert r.status_code == 201, r.text
    api.work()
    _only_for(api, r.json()["code"], JUSTICE, (ECONOMIC, SOCIAL))
