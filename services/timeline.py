"""A dossier's processing history as its applicant reads it (*quá trình xử lý*): the steps that matter to them —
filed, received, sent back for papers and why, supplemented, result ready or refused and why, a new appointment —
in Vietnamese, from the audit log. Who did what inside the agency stays on the officials' pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dossiers.calendar import VN_TZ
from dossiers.model import DossierStatus, Person
from services.shop import OneStopShop

STATUS_STEPS: Mapping[str, str] = {
    DossierStatus.SUBMITTED.value: "Đã bổ sung; hồ sơ chờ Bộ phận Một cửa tiếp nhận lại",
    DossierStatus.IN_PROGRESS.value: "Hồ sơ được chuyển đến bộ phận chuyên môn giải quyết",
    DossierStatus.SUPPLEMENT_REQUESTED.value: "Cơ quan yêu cầu bổ sung, hoàn thiện hồ sơ",
    DossierStatus.RESULT_READY.value: "Đã có kết quả giải quyết",
    DossierStatus.RETURNED.value: "Đã trả kết quả",
    DossierStatus.REFUSED.value: "Hồ sơ bị từ chối",
    DossierStatus.WITHDRAWN.value: "Hồ sơ được rút",
    DossierStatus.STOPPED.value: "Cơ quan dừng giải quyết hồ sơ",
}


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    title: str
    note: str | None = None


def _local(value: str) -> str:
    return dt.datetime.fromisoformat(value).astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")


def applicant_steps(entries: Iterable[Mapping[str, Any]]) -> list[Step]:
    """The applicant's steps among audit entries (``kind``, ``at``, ``details``), oldest first."""
    steps: list[Step] = []
    for e in entries:
        kind, details = e["kind"], e.get("details") or {}
        at = e["at"] if isinstance(e["at"], dt.datetime) else dt.datetime.fromisoformat(e["at"])
        if kind == "dossier.submitted":
            steps.append(Step(at, "Nộp hồ sơ trực tuyến", "Hồ sơ chờ Bộ phận Một cửa kiểm tra và tiếp nhận."))
        elif kind == "dossier.received":
            due = details.get("due_at")
            steps.append(
                Step(at, "Bộ phận Một cửa tiếp nhận hồ sơ", f"Hẹn trả kết quả: {_local(due)}." if due else None)
            )
        elif kind == "dossier.supplemented":
            steps.append(Step(at, "Nộp bổ sung giấy tờ"))
        elif kind == "dossier.apology_issued":
            due = details.get("new_due_at")
            steps.append(
                Step(at, "Cơ quan xin lỗi và hẹn lại ngày trả kết quả", f"Hẹn mới: {_local(due)}." if due else None)
            )
        elif kind == "dossier.status_changed":
            status = str(details.get("status", ""))
            if status not in STATUS_STEPS:
                continue
            awaiting, reason = details.get("awaiting"), details.get("reason")
            note = f"Cần bổ sung: {awaiting}" if awaiting else f"Lý do: {reason}" if reason else None
            title = STATUS_STEPS[status]
            if status == DossierStatus.REFUSED.value and details.get("stage") == "reception":
                title = "Bộ phận Một cửa từ chối tiếp nhận hồ sơ"
            elif status == DossierStatus.SUPPLEMENT_REQUESTED.value and details.get("stage") == "reception":
                title = "Bộ phận Một cửa yêu cầu bổ sung trước khi tiếp nhận"
            steps.append(Step(at, title, note))
    return steps


def applicant_timeline(shop: OneStopShop, person: Person, code: str) -> list[Step]:
    """The steps of dossier ``code`` its applicant (or an official who may see it) reads."""
    return applicant_steps(shop.history(person, code))
