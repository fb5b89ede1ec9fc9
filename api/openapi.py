"""The OpenAPI document tells the truth about errors: every operation declares the ``application/problem+json``
responses it can give, with one shared ``Problem`` schema.

Routes declare what only they know (a multipart body, a binary download, a 429 of a rate-limited lookup) where
they are defined; the responses every route of a kind shares are added here from what the route *is*, so a new
route cannot forget them:

* 400 when the operation takes a body (the parser cannot read a broken one);
* 401 and 403 when the operation takes a bearer token (FastAPI lists it under ``security``);
* 404 when the path names a resource (a path parameter);
* 409 for a state-changing method (the resource may be in the wrong state: a claimed task, a finished dossier);
* 413 for a method with a body (``api.limits.BodySizeLimit`` answers before the route runs);
* 422 everywhere (FastAPI's own validation, and the domain's ``InvalidInput``), with the Problem schema instead
  of FastAPI's ``HTTPValidationError``;
* 503 when a collaborator is unavailable (the engine, the object store).

A schemathesis run over every operation and role (``tests/e2e/test_openapi_fuzz.py``) keeps this honest: an
undeclared status, content type or body shape fails it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_JSON = "application/problem+json"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
ZIP = "application/zip"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: `title` in Vietnamese, `detail` in English, a stable `code`; "
    "some problems add members naming the field or the limit.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "URI of the problem type."},
        "title": {"type": "string", "description": "What went wrong, in Vietnamese."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong, in English, naming the field or value."},
        "code": {"type": "string", "description": "Stable machine-readable code (`motcua.…`)."},
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    400: "Yêu cầu không đọc được — the body cannot be parsed (broken JSON or multipart).",
    401: "Không có hoặc sai mã truy cập — missing, expired or revoked bearer token.",
    403: "Không được phép — the caller's role or agency may not do this.",
    404: "Không tìm thấy — no such resource (or not visible to the caller).",
    409: "Xung đột trạng thái — the resource is not in a state that allows this.",
    413: "Quá lớn — the request body exceeds the limit.",
    422: "Dữ liệu không hợp lệ — the request is malformed or breaks a rule; `detail` names the field.",
    429: "Quá nhiều yêu cầu — rate limited; see `Retry-After`.",
    503: "Tạm thời không phục vụ được — a collaborator (engine, store) is unavailable; retry later.",
}
STATE_CHANGING = {"post", "put", "patch", "delete"}
BINARY = {"schema": {"type": "string", "format": "binary"}}


def download(description: str, *media_types: str) -> dict[str, Any]:
    """A 200 response whose body is a file of one of ``media_types`` (default: what citizens may upload)."""
    types = media_types or (PDF, "image/jpeg", "image/png")
    return {"description": description, "content": {media: BINARY for media in types}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """An ``openapi_extra`` declaring a JSON body for a route that reads its raw bytes itself (to check a signature
    over them or to bound their nesting before parsing)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def multipart(
    properties: dict[str, Any], required: list[str], description: str = "", *, files: bool = False
) -> dict[str, Any]:
    """An ``openapi_extra`` declaring a ``multipart/form-data`` body (routes that stream uploads read the form
    themselves, so FastAPI cannot infer it); ``files``: any number of ``paper.<key>`` file fields."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if files:
        schema["patternProperties"] = {r"^paper\.[a-z0-9_]{1,60}$": {"type": "string", "format": "binary"}}
    if description:
        schema["description"] = description
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One declared problem response (for a route's own ``responses=``)."""
    return {
        "description": description or DESCRIPTIONS.get(status, "Problem"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=problems(429)`` on a route: the given statuses as problem responses."""
    return {status: problem_response(status) for status in statuses}


def _statuses_for(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {422, 503}
    if operation.get("security"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if method in STATE_CHANGING:
        statuses |= {409, 413}
    if "requestBody" in operation:
        statuses.add(400)  # a body the parser cannot read (broken JSON or multipart)
    return statuses


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the shared problem responses and the ``Problem`` schema to an OpenAPI document (in place)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "delete", "patch", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses_for(path, method, operation)):
                declared = responses.get(str(status))
                if declared is None or _is_validation_error(declared):
                    responses[str(status)] = problem_response(status)
                else:  # a route's own declaration (its own description) answers as a problem too
                    declared.setdefault("content", {}).setdefault(PROBLEM_JSON, {"schema": PROBLEM_REF})
    return schema


def _is_validation_error(response: dict[str, Any]) -> bool:
    content = response.get("content") or {}
    schema = (content.get("application/json") or {}).get("schema") or {}
    return bool(str(schema.get("$ref", "")).endswith("/HTTPValidationError"))


def install(app: FastAPI) -> None:
    """Generate the document once, with the problem responses added."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            app.openapi_schema = document_problems(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
