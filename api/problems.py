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


def install(app: FastAPI) -> None:
    @app.exception_handler(MotcuaError)
    async def _domain(request: Request, exc: MotcuaError) -> JSONResponse:
        details = {k: v for k, v in exc.details.items() if isinstance(v, str | int | float | bool | list)}
        return problem(STATUS.get(exc.kind, 400), exc.code, exc.message_vi, exc.message_en, details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        return problem(
            422,
            "motcua.validation",
            "Dữ liệu gửi lên không hợp lệ.",
            f"Invalid request: {fields}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "Không tìm thấy.", 405: "Phương thức không được hỗ trợ.", 413: "Dữ liệu quá lớn."}
        return problem(
            exc.status_code,
            f"motcua.http_{exc.status_code}",
            messages.get(exc.status_code, "Lỗi."),
            str(exc.detail),
        )
