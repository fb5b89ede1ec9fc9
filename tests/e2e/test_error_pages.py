"""Errors are pages for people and problem documents for programs: a browser (``Accept: text/html``) outside
``/api/`` gets a Vietnamese page in the site's layout — what happened, what to do, a way home — for 403, 404, 422
and 500 (with no trace of what failed); the same request from an API client, or anything under ``/api/``, keeps
``application/problem+json``."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.e2e.test_web_audit import desk_app
from tests.web import csrf, log_in

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"accept": "application/json"}
SECRET = "mật-khẩu-trong-lỗi /etc/passwd"
ENGLISH = ("Not Found", "Forbidden", "Internal Server Error", "Traceback", "RuntimeError", "null", "undefined")


def _client(api: Api, username: str | None = None, *, raise_errors: bool = True) -> TestClient:
    app = desk_app(api)
    client = TestClient(
        app.state.asgi, base_url="https://testserver", follow_redirects=False, raise_server_exceptions=raise_errors
    )
    if username:
        assert log_in(client, username).status_code == 303
    return client


def _visible(html: str) -> str:
    """The page's text as read (tags and attributes dropped)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[-1]))


def _assert_page(r: object, status: int, *phrases: str) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    html: str = r.text  # type: ignore[attr-defined]
    assert '<html lang="vi">' in html and '<main id="main">' in html and 'href="/"' in html
    text = _visible(html)
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    for english in ENGLISH:
        assert english not in text, (english, text)
    return text


def _assert_problem(r: object, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    return body


def test_an_unknown_address_is_a_vietnamese_page_for_a_browser_and_a_problem_for_a_program(api: Api) -> None:
    client = _client(api)
    _assert_page(client.get("/khong-co-trang-nay", headers=HTML), 404, "Không tìm thấy trang", "Về trang chủ")
    _assert_problem(client.get("/khong-co-trang-nay"), 404)  # no Accept: text/html
    _assert_problem(client.get("/khong-co-trang-nay", headers=JSON), 404)
    _assert_problem(client.get("/api/khong-co", headers=HTML), 404)  # the API's paths stay the API's


def test_a_page_of_another_role_is_a_403_page_with_the_reason(api: Api) -> None:
    client = _client(api, "congdan1")
    text = _assert_page(
        client.get("/quan-tri", headers=HTML),
        403,
        "Bạn không có quyền truy cập trang này",
        "Trang này không dành cho vai trò của bạn.",
        "Về trang chủ",
    )
    assert "citizen" not in text.split()  # the role is not named by its code
    body = _assert_problem(client.get("/quan-tri", headers=JSON), 403)
    assert body["title"] == "Trang này không dành cho vai trò của bạn."


def test_a_forged_form_is_a_403_page_and_the_previous_page_is_offered(api: Api) -> None:
    client = _client(api, "quantri.tinh")
    csrf(client, "/quan-tri")
    headers = HTML | {"referer": "https://testserver/quan-tri/lich"}
    r = client.post("/quan-tri/lich", data={"csrf_token": "f" * 40, "day": "02/09/2026"}, headers=headers)
    _assert_page(r, 403, "Bạn không có quyền truy cập trang này", "Quay lại trang trước")
    assert 'href="/quan-tri/lich"' in r.text


def test_a_missing_document_is_a_404_page_with_what_was_not_found(api: Api) -> None:
    client = _client(api, "chuyenvien1.xa1")
    r = client.get("/can-bo/ho-so/000.00.32.H99-260101-9999/tai-lieu/khong-co", headers=HTML)
    assert r.status_code in (403, 404), r.text
    _assert_page(r, r.status_code, "Về trang chủ")


def test_a_server_error_is_a_page_without_its_cause_and_the_api_keeps_a_problem(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(api, "tiepnhan.xa1", raise_errors=False)

    def broken(*_: object, **__: object) -> None:  # a bug deep in a use case, on a real page and a real route
        raise RuntimeError(SECRET)

    monkeypatch.setattr(api.runtime.shop, "procedures", broken)
    r = client.get("/thu-tuc", headers=HTML | {"x-request-id": "yeu-cau-123"})
    text = _assert_page(r, 500, "Hệ thống gặp lỗi", "Mã yêu cầu", "yeu-cau-123", "Về trang chủ")
    assert SECRET not in r.text and "Traceback" not in r.text
    assert "(Cán bộ tiếp nhận)" in text  # the site's layout, the signed-in person in its header
    for answer in (client.get("/thu-tuc"), client.get("/api/procedures", headers=HTML)):
        body = _assert_problem(answer, 500)
        assert SECRET not in answer.text and body["code"] == "motcua.internal"


def test_an_expired_visit_of_a_page_goes_to_the_login_page(api: Api) -> None:
    client = _client(api)
    r = client.get("/can-bo/nhiem-vu", headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/dang-nhap?next=")
