"""Errors as ``application/problem+json`` (RFC 9457) with a Vietnamese and an English message."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dossiers.errors import MotcuaError

STATUS = {
    "invalid": 422,
    "not_found": 404,
    "forbidden": 403,
    "unauthorized": 401,
    "conflict": 409,
    "too_large": 413,
    "unavailable": 503,
    "too_many": 429,
}


RESERVED = ("type", "title", "status", "detail", "code")


def problem(
    status: int, code: str, title_vi: str, detail_en: str, details: dict[str, Any] | None = None, **extra: Any
) -> JSONResponse:
    """``details``/``extra`` never replace the standard members: one named like them gets a ``_value`` suffix."""
    body: dict[str, Any] = {
        "type": f"https://motcua.example/problems/{code}",
        "title": title_vi,
        "status": status,
        "detail": detail_en,
        "code": code,
    }
    for key, value in {**(details or {}), **extra}.items():
        body[f"{key}_value" if key in RESERVED else key] = value
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


HTTP_MESSAGES = {
    400: "Yêu cầu không đọc được (biểu mẫu hoặc dữ liệu gửi lên sai định dạng hoặc quá lớn).",
    404: "Không tìm thấy.",
    405: "Phương thức không được hỗ trợ.",
    413: "Dữ liệu quá lớn.",
}


def domain_problem(request: Request, exc: MotcuaError) -> JSONResponse:
    details = {k: v for k, v in exc.details.items() if isinstance(v, str | int | float | bool | list)}
    response = problem(STATUS.get(exc.kind, 400), exc.code, exc.message_vi, exc.message_en, details)
    if response.status_code == 429 and isinstance(details.get("retry_after"), int):
        response.headers["Retry-After"] = str(details["retry_after"])  # a rate limit says when to come back
    return response


def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
    return problem(
        422, "motcua.validation", "Dữ liệu gửi lên không hợp lệ.", f"Invalid request: {fields}", errors=errors
    )


def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = str(exc.detail)
    allowed = allowed_methods(request) if exc.status_code == 405 else ""
    if allowed:
        detail = f"Method {request.method} is not allowed here; allowed: {allowed}."
    response = problem(
        exc.status_code, f"motcua.http_{exc.status_code}", HTTP_MESSAGES.get(exc.status_code, "Lỗi."), detail
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    if allowed:
        response.headers["Allow"] = allowed  # RFC 9110: a 405 names the methods the resource supports
    return response


def internal_problem(request: Request, exc: Exception) -> JSONResponse:
    """An unexpected error: what went wrong stays in the server's log (Starlette logs it after this answer),
    the client learns only that it happened and the request id to quote."""
    request_id = request_id_of(request)
    return problem(
        500,
        "motcua.internal",
        "Hệ thống gặp lỗi khi xử lý yêu cầu. Vui lòng thử lại sau.",
        "Internal error" + (f"; request id {request_id}" if request_id else "") + ".",
        request_id=request_id,
    )


def request_id_of(request: Request) -> str:
    """The id the request is logged under (api.app's middleware binds it to the log context)."""
    import structlog

    bound = structlog.contextvars.get_contextvars().get("request_id")
    return str(bound or request.headers.get("x-request-id") or "")[:64]


def install(app: FastAPI) -> None:
    @app.exception_handler(MotcuaError)
    async def _domain(request: Request, exc: MotcuaError) -> JSONResponse:
        return domain_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_problem(request, exc)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return internal_problem(request, exc)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route of this path accepts, asked of the router itself (a path's GET and POST may be
    two routes, in included routers: Starlette's own ``Allow`` names only the first route's methods)."""
    from starlette.routing import Match

    routes = request.app.router.routes
    allowed = [
        method
        for method in HTTP_METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return ", ".join(allowed)
