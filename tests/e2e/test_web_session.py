"""Browser sessions: login and logout, the cookie's flags, CSRF on forms and on the API when the cookie
authenticates, the login rate limit, expired sessions back to the login page, no open redirect."""

from __future__ import annotations

from motcua.app import DEMO_PASSWORD
from tests.conftest import Api
from tests.web import browser, csrf, log_in


def test_login_sets_a_safe_session_cookie_and_sends_each_role_to_its_desk(api: Api) -> None:
    client = browser(api)
    page = client.get("/dang-nhap")
    assert page.status_code == 200 and 'lang="vi"' in page.text and "Tên đăng nhập" in page.text
    r = log_in(client, "chuyenvien1.xa1")
    assert r.status_code == 303 and r.headers["location"] == "/can-bo/nhiem-vu"
    cookie = r.headers["set-cookie"]
    assert "motcua_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    me = client.get("/api/me")  # the pages' scripts call the API with the cookie
    assert me.status_code == 200 and me.json()["username"] == "chuyenvien1.xa1"
    assert log_in(browser(api), "congdan1").headers["location"] == "/cong-dan"
    assert log_in(browser(api), "thanhtra.tinh").headers["location"] == "/thanh-tra"


def test_wrong_password_shows_the_message_and_the_limit_stops_guessing(api: Api) -> None:
    client = browser(api)
    for _ in range(5):
        r = log_in(client, "lanhdao.xa1", "wrong")
        assert r.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in r.text
    blocked = log_in(client, "lanhdao.xa1", DEMO_PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and "Đăng nhập sai quá nhiều lần" in blocked.text
    assert log_in(client, "vanthu.xa1").status_code == 303  # another user from the same address still may


def test_logout_needs_the_csrf_token_and_ends_the_session(api: Api) -> None:
    client = browser(api)
    log_in(client, "tiepnhan.xa1")
    token = csrf(client)
    forged = client.post("/dang-xuat", data={"csrf_token": "0" * 40})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert client.get("/api/me").status_code == 200  # still logged in
    out = client.post("/dang-xuat", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/dang-nhap"
    assert client.get("/api/me").status_code == 401  # the token was revoked, not only the cookie dropped


def test_the_api_with_a_session_cookie_needs_the_csrf_header_for_changes(api: Api) -> None:
    client = browser(api)
    log_in(client, "tiepnhan.xa1")
    body = {"procedure_code": "x"}
    refused = client.post("/api/dossiers", data=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    allowed = client.post("/api/dossiers", data=body, headers={"X-CSRF-Token": csrf(client)})
    assert allowed.status_code == 422  # past CSRF: now the dossier itself is checked
    # a bearer token (API clients) needs no CSRF token: it is never sent by a browser on its own
    assert api.post("/api/dossiers", "tiepnhan.xa1", data=body).status_code == 422


def test_an_expired_session_returns_to_login_and_comes_back(api: Api) -> None:
    client = browser(api)
    log_in(client, "chuyenvien1.xa1")
    api.advance(hours=13)  # past the 12 h token lifetime on the simulated clock
    r = client.get("/can-bo/nhiem-vu?sap_xep=han")
    assert r.status_code == 303
    assert r.headers["location"] == "/dang-nhap?next=/can-bo/nhiem-vu%3Fsap_xep%3Dhan&het_han=1"
    page = client.get(r.headers["location"])
    assert "Phiên đăng nhập đã hết hạn" in page.text
    back = log_in(client, "chuyenvien1.xa1", next_url="/can-bo/nhiem-vu?sap_xep=han")
    assert back.headers["location"] == "/can-bo/nhiem-vu?sap_xep=han"


def test_no_open_redirect_after_login(api: Api) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = log_in(browser(api), "chuyenvien1.xa1", next_url=target)
        assert r.headers["location"] == "/can-bo/nhiem-vu", target


def test_english_on_request_and_pages_are_not_cached_or_framed(api: Api) -> None:
    client = browser(api)
    r = client.get("/dang-nhap?lang=en")
    assert 'lang="en"' in r.text and "User name" in r.text
    assert client.get("/dang-nhap").text.count('lang="en"') == 1  # remembered
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
