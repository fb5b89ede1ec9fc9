"""Stopping a dossier's processing (*dừng giải quyết hồ sơ*, Decree 118/2025; Mẫu 05 of Circular 03/2025/TT-VPCP):
at the applicant's request — they withdraw it, on the day they asked — or by the agency, for a reason the applicant
reads. An official of the dossier's agency (the one-stop desk, the clerk or the leader) stops it from any open
status; the dossier is then finished without a result.

One unit of work: the notice (Mẫu 05: prepared for the head of the agency's personal signature when its template
says the head signs it — sealed, stored and sent to the applicant once the leader signed; otherwise in the officer's
name, sealed by the agency at once), the status (``withdrawn`` at the
applicant's request, ``stopped`` by the agency: neither counts as on time or late — :mod:`dossiers.statistics`
counts both apart from the results), the audit entry ``dossier.stopped``, the message to the applicant and the end of
the process on the engine (its tasks leave every list, its timers and service steps go). The embedded engine ends it
in the same transaction; a remote engine (Operaton) right after the commit — if that fails, stopping again finishes
the job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict, Forbidden, InvalidInput
from dossiers.lifecycle import STOPPABLE, check_transition
from dossiers.model import STATUS_LABELS_VI, STOPPED_STATUSES, DossierStatus, Person, Role
from dossiers.ports import Clock, Engine
from dossiers.text_rules import clean_comment
from persistence import dossier_records as records
from persistence.uow import Database, transaction
from services.notifications import Outbox, notify_applicant
from services.paperwork import Paperwork
from services.shop import OneStopShop

log = structlog.get_logger(__name__)

# who may stop a dossier of their agency: the desk that receives the applicant's request, the clerk, the leader
STOPPING_ROLES = frozenset({Role.RECEPTION, Role.CLERK, Role.LEADER})
APPLICANT_REASON = "Ông/Bà đề nghị rút hồ sơ, dừng giải quyết."


@dataclass(frozen=True)
class StopRequest:
    """What the official states: ``requested_by_applicant`` (they withdraw it; ``requested_on``: the day they
    asked, today when not given) or the agency stops it (``reason`` required)."""

    requested_by_applicant: bool
    reason: str | None = None
    requested_on: dt.date | None = None


class Stopping:
    """Stops a dossier's processing: Mẫu 05, the status, the audit entry, the applicant's message, the process."""

    def __init__(
        self, desk: OneStopShop, db: Database, engine: Engine, clock: Clock, paperwork: Paperwork, outbox: Outbox
    ) -> None:
        self.desk = desk
        self.db = db
        self.engine = engine
        self.clock = clock
        self.paperwork = paperwork
        self.outbox = outbox

    @property
    def _engine_shares_db(self) -> bool:
        return bool(getattr(self.engine, "shares_database", False))

    def stop(self, official: Person, code: str, request: StopRequest) -> dict[str, Any]:
        """Stop dossier ``code``; returns the dossier's view. Refused (Vietnamese first) for anyone but an official
        of the dossier's agency in a stopping role, for a finished dossier, and for the agency's stop without a
        reason."""
        reason, requested_at = self._checked(request)
        row = self._authorized(official, code)
        target = DossierStatus.WITHDRAWN if request.requested_by_applicant else DossierStatus.STOPPED
        status = DossierStatus(row.status)
        if status in STOPPED_STATUSES:
            # stopped already: a remote engine that was unreachable then is asked again to end the process
            self._end_process_after_commit(code, reason)
            raise _not_stoppable(code, status)
        if status not in STOPPABLE:
            raise _not_stoppable(code, status)
        if requested_at is not None and requested_at.date() < row.received_at.astimezone(VN_TZ).date():
            raise InvalidInput(
                "Ngày công dân đề nghị dừng giải quyết không được trước ngày nộp hồ sơ.",
                "The day the applicant asked cannot be before the dossier was filed.",
                field="requested_at",
            )
        document_id, pending_id = self._notice(code, reason, official.username, requested_at)
        now = self.clock.now()
        with transaction(self.db) as conn:
            locked = records.lock_dossier(conn, code)
            current = DossierStatus(locked.status)
            if current not in STOPPABLE:
                raise _not_stoppable(code, current)
            check_transition(current, target)
            records.update_dossier(conn, code, status=target.value, awaiting=None, finished_at=now, updated_at=now)
            self.desk.record(
                "dossier.status_changed",
                official.username,
                code,
                status=target.value,
                previous=current.value,
                reason=reason,
                stage="stop",
            )
            self.desk.record(
                "dossier.stopped",
                official.username,
                code,
                by_applicant=request.requested_by_applicant,
                requested_at=requested_at.date().isoformat() if requested_at else None,
                reason=reason,
                previous=current.value,
                document_id=document_id,
                pending_signature=pending_id,
            )
            with_notice = document_id is not None or pending_id is not None
            self._notify(
                conn, code, reason, request.requested_by_applicant, with_notice, deferred=pending_id is not None
            )
            if self._engine_shares_db:
                self.engine.cancel(code, reason)
        if not self._engine_shares_db:
            self._end_process_after_commit(code, reason)
        log.info(
            "dossier.stopped", dossier=code, by_applicant=request.requested_by_applicant, official=official.username
        )
        return self.desk.dossier_view(code)

    # ------------------------------------------------------------------ steps

    def _checked(self, request: StopRequest) -> tuple[str, dt.datetime | None]:
        text = clean_comment(request.reason, field="reason", label_vi="Lý do", label_en="The reason").strip()
        if not request.requested_by_applicant:
            if not text:
                raise InvalidInput(
                    "Hãy ghi rõ lý do dừng giải quyết hồ sơ: công dân sẽ đọc nội dung này trong thông báo (Mẫu 05).",
                    "The agency's stop needs a reason: the applicant reads it in the notice (form 05).",
                    field="reason",
                )
            if request.requested_on is not None:
                raise InvalidInput(
                    "Ngày đề nghị chỉ ghi khi công dân đề nghị rút hồ sơ.",
                    "requested_at is only for a stop at the applicant's request.",
                    field="requested_at",
                )
            return text, None
        today = self.clock.now().astimezone(VN_TZ).date()
        day = request.requested_on or today
        if day > today:
            raise InvalidInput(
                "Ngày công dân đề nghị dừng giải quyết không được sau ngày hôm nay.",
                "The day the applicant asked cannot be in the future.",
                field="requested_at",
            )
        return text or APPLICANT_REASON, dt.datetime.combine(day, dt.time(0, 0), tzinfo=VN_TZ)

    def _authorized(self, official: Person, code: str) -> Any:
        if official.role not in STOPPING_ROLES:
            raise Forbidden(
                "Chỉ cán bộ Bộ phận Một cửa, văn thư hoặc lãnh đạo của cơ quan giải quyết được dừng giải quyết hồ sơ.",
                "Only the desk, the clerk or the leader of the handling agency may stop a dossier's processing.",
                dossier_code=code,
            )
        row = self.desk.authorize_dossier(official, code)
        if row.agency_code != official.agency_code:
            raise Forbidden(
                "Hồ sơ thuộc cơ quan khác: chỉ cơ quan giải quyết được dừng giải quyết hồ sơ.",
                "This dossier belongs to another agency: only the handling agency may stop it.",
                dossier_code=code,
            )
        return row

    def _notice(
        self, code: str, reason: str, actor: str, requested_at: dt.datetime | None
    ) -> tuple[str | None, str | None]:
        """Mẫu 05 of 2025, once per dossier: (its document id, None) when the agency seals it at once, (None, the
        pending signature's id) when the head signs it first. A dossier received before 15 September 2025 is
        under the 2018 set, which has no such form: it stops without one (the message and the audit entry say
        why)."""
        key = f"{code}/stop"
        try:
            if self.paperwork.head_signs(code, "stop_notice"):
                return None, self.paperwork.request_stop_notice_signature(code, reason, key, requested_at=requested_at)
            return self.paperwork.stop_notice(code, reason, actor, key, requested_at=requested_at), None
        except KeyError:
            log.info("dossier.stop_without_notice", dossier=code, reason="the 2018 form set has no Mẫu 05")
            return None, None

    def _notify(
        self, conn: Any, code: str, reason: str, by_applicant: bool, with_notice: bool, *, deferred: bool = False
    ) -> None:
        """Tell the applicant; ``deferred``: the head signs the notice first, the message goes with it once sealed."""
        row = records.load_dossier(conn, code)
        what = "theo đề nghị của Ông/Bà" if by_applicant else "theo quyết định của cơ quan giải quyết"
        notice = " Thông báo dừng giải quyết hồ sơ (Mẫu 05) có trên trang hồ sơ của bạn." if with_notice else ""
        subject = f"Hồ sơ dừng giải quyết — {code}"
        body = f"Hồ sơ {code} đã dừng giải quyết {what}. Lý do: {reason}{notice}"
        if deferred:
            self.paperwork.defer_message(f"{code}/stop", subject, body, by_applicant=by_applicant, reason=reason)
        else:
            notify_applicant(self.outbox, row, subject, body, f"{code}/stop")

    def _end_process_after_commit(self, code: str, reason: str) -> None:
        """A remote engine is not part of our transaction: end the process once the stop is committed."""
        if self._engine_shares_db:
            return
        self.engine.cancel(code, reason)


def _not_stoppable(code: str, status: DossierStatus) -> Conflict:
    return Conflict(
        f"Không thể dừng giải quyết hồ sơ đang ở trạng thái “{STATUS_LABELS_VI[status]}”: hồ sơ đã kết thúc "
        "hoặc đã có kết quả.",
        f"Dossier {code} cannot be stopped in status '{status.value}'.",
        dossier_code=code,
        status=status.value,
    )
