"""Errors as pages for people: a browser that asks for HTML outside ``/api/`` gets a Vietnamese page (what
happened, what to do, a way home or back) instead of ``application/problem+json``; a 401 there sends the visitor to
log in. API clients — anything under ``/api/``, or a request that does not accept ``text/html`` (``fetch``, curl,
the tests' clients) — keep the problem documents of :mod:`api.problems`. A 500 page never shows what failed, only
the request id the administrator finds it under in the log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.problems import (
    STATUS,
    domain_problem,
    http_problem,
    internal_problem,
    request_id_of,
    validation_problem,
)
from api.web.render import environment, language, page
from dossiers.errors import MotcuaError

log = structlog.get_logger()

Message = tuple[str, str]

# status → (heading, what to do)
PAGES: dict[int, tuple[Message, Message]] = {
    400: (
        ("Yêu cầu không hợp lệ", "Bad request"),
        (
            "Hãy quay lại trang trước, kiểm tra thông tin đã nhập rồi gửi lại.",
            "Go back, check what you entered, send it again.",
        ),
    ),
    403: (
        ("Bạn không có quyền truy cập trang này", "You may not open this page"),
        (
            "Trang này dành cho người có vai trò khác. Hãy đăng nhập bằng tài khoản được giao việc này, hoặc liên hệ "
            "quản trị viên của cơ quan nếu bạn cần quyền truy cập.",
            "This page is for another role. Log in with the account for this work, or ask your administrator.",
        ),
    ),
    404: (
        ("Không tìm thấy trang", "Page not found"),
        (
            "Địa chỉ có thể đã gõ sai, hoặc trang, hồ sơ, tài liệu này không còn. Hãy kiểm tra lại địa chỉ hoặc "
            "bắt đầu lại từ trang chủ.",
            "The address may be mistyped, or the page, dossier or document is gone. Check it or start from the home "
            "page.",
        ),
    ),
    405: (
        ("Không thực hiện được thao tác này", "This action is not possible here"),
        ("Hãy mở lại trang từ trình đơn rồi thao tác lại.", "Open the page again from the menu and retry."),
    ),
    409: (
        ("Thao tác không còn thực hiện được", "The action no longer applies"),
        (
            "Dữ liệu vừa được người khác thay đổi. Hãy tải lại trang để xem tình trạng mới nhất.",
            "Someone changed the data meanwhile. Reload the page to see where things stand.",
        ),
    ),
    413: (
        ("Tệp hoặc dữ liệu gửi lên quá lớn", "Too large"),
        ("Hãy gửi tệp nhỏ hơn (nén hoặc quét với độ phân giải thấp hơn).", "Send a smaller file."),
    ),
    422: (
        ("Thông tin chưa hợp lệ", "Invalid input"),
        ("Hãy quay lại trang trước, sửa thông tin theo hướng dẫn rồi gửi lại.", "Go back, correct it and send again."),
    ),
    429: (
        ("Quá nhiều yêu cầu", "Too many requests"),
        ("Hãy chờ vài phút rồi thử lại.", "Wait a few minutes and try again."),
    ),
    500: (
        ("Hệ thống gặp lỗi", "Something went wrong"),
        (
            "Yêu cầu của bạn chưa được xử lý do lỗi của hệ thống. Hãy thử lại sau ít phút; nếu vẫn lỗi, hãy báo "
            "quản trị viên kèm mã yêu cầu dưới đây.",
            "Your request was not handled because of an error on our side. Try again in a few minutes; if it "
            "persists, tell the administrator the request id below.",
        ),
    ),
    503: (
        ("Dịch vụ tạm thời gián đoạn", "Service unavailable"),
        ("Hãy thử lại sau ít phút.", "Try again in a few minutes."),
    ),
}
GENERIC_PAGE: tuple[Message, Message] = (
    ("Không thực hiện được yêu cầu", "The request could not be handled"),
    ("Hãy quay lại trang trước hoặc bắt đầu lại từ trang chủ.", "Go back, or start again from the home page."),
)
HTTP_DETAILS: dict[int, Message] = {
    404: ("Không có trang nào ở địa chỉ này.", "There is no page at this address."),
    405: ("Địa chỉ này không nhận thao tác vừa gửi.", "This address does not take that action."),
    413: ("Dữ liệu gửi lên vượt quá giới hạn cho phép.", "The request is larger than allowed."),
    400: ("Biểu mẫu hoặc dữ liệu gửi lên sai định dạng.", "The form or data could not be read."),
}


def wants_page(request: Request) -> bool:
    """A person's browser navigating the site: it accepts HTML and the path is not the API's."""
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return False
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == "text/html" for part in accept.split(","))


def _back_link(request: Request) -> str | None:
    """The page the visitor came from, when it is one of this site's (the Referer, same host only)."""
    referer = request.headers.get("referer") or ""
    parts = urlsplit(referer)
    if not referer or parts.netloc != request.url.netloc:
        return None
    if request.method == "GET" and parts.path == request.url.path:
        return None  # the failing page itself (a form posting to its own address does go back to it)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def error_page(request: Request, status: int, detail: Message | None = None) -> HTMLResponse:
    heading, advice = PAGES.get(status, GENERIC_PAGE)
    context: dict[str, Any] = {
        "status": status,
        "heading": heading,
        "advice": advice,
        "detail": detail if detail and detail[0] != heading[0] else None,
        "request_id": request_id_of(request) if status >= 500 else "",
        "back": _back_link(request),
    }
    runtime = request.app.state.runtime
    try:
        return page(request, runtime, "error.html", status_code=status, **context)
    except Exception:  # noqa: BLE001 - the database or the session may be what failed: a page without a person
        log.warning("error_page.plain", status=status, exc_info=True)
        lang = language(request)

        def t(vi: str, en: str | None = None) -> str:
            return en if lang == "en" and en else vi

        html = environment.get_template("error.html").render(request=request, lang=lang, t=t, person=None, **context)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/dang-nhap?next={quote(target)}", status_code=303)


def install_error_pages(app: FastAPI) -> None:
    """Replace the problem handlers of :func:`api.problems.install` by ones that answer browsers with pages."""

    @app.exception_handler(MotcuaError)
    async def _domain(request: Request, exc: MotcuaError) -> Response:
        if not wants_page(request):
            return domain_problem(request, exc)
        status = STATUS.get(exc.kind, 400)
        if status == 401:
            return _to_login(request)
        response = error_page(request, status, (exc.message_vi, exc.message_en))
        retry_after = exc.details.get("retry_after")
        if status == 429 and isinstance(retry_after, int):
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not wants_page(request):
            return validation_problem(request, exc)
        return error_page(request, 422, ("Địa chỉ hoặc biểu mẫu có thông tin không hợp lệ.", "Invalid request."))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_page(request):
            return http_problem(request, exc)
        if exc.status_code == 401:
            return _to_login(request)
        response = error_page(request, exc.status_code, HTTP_DETAILS.get(exc.status_code))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        if not wants_page(request):
            return internal_problem(request, exc)
        return error_page(request, 500)
