"""Operaton's REST wire format, spoken by the REST adapter (``engine``) and the external-task client
(``external_tasks``) alike.

Variables travel typed: ``str`` → String, ``bool`` → Boolean, ``int`` → Long, ``float`` → Double, ``None`` → Null,
``dict``/``list`` → Json (Spin, a serialized string); values are read back with ``deserializeValues=false`` so Json
comes home as text and is parsed here. Times are ISO-8601 with a numeric zone. A refused call becomes the domain's
``NotFound``/``Conflict``/``InvalidInput``/``Unavailable`` (:mod:`workflows.refusals`: the same as the embedded
engine's).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from dossiers.errors import InvalidInput, MotcuaError, Unavailable
from dossiers.ports import ExternalTask
from workflows.refusals import external_task_gone, external_task_taken

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


# ---------------------------------------------------------------- values


def typed(value: Any) -> dict[str, Any]:
    """One variable in Operaton's typed form."""
    if value is None:
        return {"type": "Null", "value": None}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value}
    if isinstance(value, int):
        if LONG_MIN <= value <= LONG_MAX:
            return {"type": "Long", "value": value}
        return {"type": "String", "value": str(value)}
    if isinstance(value, float):
        return {"type": "Double", "value": value}
    if isinstance(value, str):
        return {"type": "String", "value": value}
    if isinstance(value, Mapping | list | tuple):
        return {"type": "Json", "value": json.dumps(value, ensure_ascii=False, default=str)}
    if isinstance(value, dt.datetime | dt.date):
        return {"type": "String", "value": value.isoformat()}
    return {"type": "String", "value": str(value)}


def typed_variables(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: typed(value) for name, value in variables.items()}


def untyped(var: Mapping[str, Any]) -> Any:
    """A typed value as read with ``deserializeValues=false`` → plain JSON value."""
    kind = str(var.get("type") or "").lower()
    value = var.get("value")
    if value is None or kind == "null":
        return None
    if kind == "json":
        return json.loads(value) if isinstance(value, str) else value
    if kind == "object":
        fmt = str((var.get("valueInfo") or {}).get("serializationDataFormat") or "")
        if "json" in fmt and isinstance(value, str):
            return json.loads(value)
    return value


def plain_variables(variables: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    return {name: untyped(v) for name, v in (variables or {}).items()}


def parse_time(text: str | None) -> dt.datetime | None:
    """Operaton's ``2026-03-02T08:00:00.000+0700`` as an aware datetime."""
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def format_time(moment: dt.datetime) -> str:
    """An aware datetime in Operaton's query format (``yyyy-MM-dd'T'HH:mm:ss.SSSZ``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


# ---------------------------------------------------------------- external tasks


def external_tasks(rows: Iterable[Mapping[str, Any]], worker_id: str) -> list[ExternalTask]:
    """Rows of ``fetchAndLock`` (variables read with ``deserializeValues=false``) as port tasks."""
    return [
        ExternalTask(
            id=r["id"],
            topic=r["topicName"],
            activity_id=r["activityId"],
            instance_id=r["processInstanceId"],
            business_key=r.get("businessKey") or "",
            variables=plain_variables(r.get("variables")),
            retries=r.get("retries"),
            worker_id=r.get("workerId") or worker_id,
            lock_expires_at=parse_time(r.get("lockExpirationTime")),
        )
        for r in rows
    ]


def external_task_error(status: int, message: str, task_id: str) -> MotcuaError | None:
    """What a refused complete/failure/extendLock means: gone (another delivery completed it) or taken (our lock
    expired and another worker holds it). None: some other refusal."""
    lowered = message.lower()
    if status == 404 or "does not exist" in lowered or "not found" in lowered:
        return external_task_gone(task_id)
    if "locked by" in lowered or "cannot be" in lowered or "is not locked" in lowered:
        return external_task_taken(message, task_id)
    return None


# ---------------------------------------------------------------- connection


def base_url_of(url: str | None) -> str:
    """The configured REST base URL without its trailing slash (refused when not configured)."""
    if not url:
        raise InvalidInput(
            "Chưa cấu hình địa chỉ Operaton (MOTCUA_OPERATON_URL).",
            "MOTCUA_OPERATON_URL is not set (the Operaton REST base URL, …/engine-rest).",
        )
    return url.rstrip("/")


def credentials_refused(base_url: str) -> Unavailable:
    return Unavailable(
        "Operaton từ chối tên đăng nhập/mật khẩu (MOTCUA_OPERATON_USER, MOTCUA_OPERATON_PASSWORD).",
        "Operaton refused the credentials (bad MOTCUA_OPERATON_USER / MOTCUA_OPERATON_PASSWORD).",
        url=base_url,
    )


def unreachable(base_url: str, exc: Exception, what: str | None = None) -> Unavailable:
    during = f" ({what})" if what else ""
    return Unavailable(
        f"Không kết nối được máy chủ quy trình Operaton ({base_url}): {exc}",
        f"Cannot reach the Operaton engine at {base_url}{during}: {exc}",
    )
