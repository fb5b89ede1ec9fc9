"""Reception of online dossiers (*tiếp nhận hồ sơ trực tuyến*): a dossier filed online waits in its agency's
reception queue until an officer checks it (Decree 61/2018 as amended by Decree 118/2025, art. 15–16):

* **accept** — the dossier is received now, in the officer's name: the time limit runs from this moment (the
  working calendar's clock start), its process starts, and the process issues the receipt (Mẫu 01) naming the
  officer;
* **ask for papers** — the supplement request (Mẫu 02) is issued in the officer's name with what is missing; the
  citizen supplements on their page and the dossier is back in the queue (no time limit ran);
* **refuse** — the refusal (Mẫu 03) with the reason; the dossier ends there and never counts as received.

Each outcome is audited and announced to the applicant (the notification outbox). Counter and postal dossiers are
received by the officer who registers them and never pass through here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import structlog

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict, Forbidden, InvalidInput
from dossiers.lifecycle import check_transition, due_at
from dossiers.model import DossierStatus, Person, Role
from dossiers.ports import Clock, Engine
from persistence import dossier_records as records
from persistence.uow import Database, transaction
from services.intake import Intake
from services.notifications import Outbox, notify_applicant
from services.paperwork import Paperwork
from services.shop import OneStopShop

log = structlog.get_logger(__name__)

ACCEPT, SUPPLEMENT, REFUSE = "accept", "supplement", "refuse"
DECISIONS = (ACCEPT, SUPPLEMENT, REFUSE)
MAX_COMMENT = 2000
QUEUE_LIMIT = 500


class Reception:
    """The reception queue of online dossiers and the three outcomes of checking one."""

    def __init__(
        self,
        desk: OneStopShop,
        db: Database,
        engine: Engine,
        clock: Clock,
        record: Callable[..., None],
        intake: Intake,
        paperwork: Paperwork,
        outbox: Outbox,
    ) -> None:
        self.desk = desk
        self.db = db
        self.engine = engine
        self.clock = clock
        self.record = record
        self.intake = intake
        self.paperwork = paperwork
        self.outbox = outbox

    # ------------------------------------------------------------------ the queue

    def queue(self, officer: Person) -> list[Any]:
        """The officer's agency's online dossiers waiting for reception, oldest first."""
        self._check_officer(officer)
        with transaction(self.db, read_only=True) as conn:
            return records.reception_queue(
                conn, officer.agency_code or "", [DossierStatus.SUBMITTED.value], QUEUE_LIMIT
            )

    def waiting_for_papers(self, officer: Person) -> list[Any]:
        """The agency's dossiers waiting for supplementary papers — online (the citizen uploads them) or at the
        counter (the applicant brings them and the desk records them on the dossier's page)."""
        self._check_officer(officer)
        with transaction(self.db, read_only=True) as conn:
            return records.waiting_for_papers(
                conn, officer.agency_code or "", DossierStatus.SUPPLEMENT_REQUESTED.value, QUEUE_LIMIT
            )

    # ------------------------------------------------------------------ the outcomes

    def decide(self, officer: Person, code: str, decision: str, comment: str | None = None) -> dict[str, Any]:
        """Accept, ask for papers or refuse a dossier waiting in the queue; returns the dossier's view."""
        self._check_officer(officer)
        text = (comment or "").strip()
        if decision not in DECISIONS:
            raise InvalidInput(
                "Hãy chọn: tiếp nhận, yêu cầu bổ sung hoặc từ chối tiếp nhận.",
                f"decision must be one of {', '.join(DECISIONS)}.",
                decision=decision,
            )
        if len(text) > MAX_COMMENT:
            raise InvalidInput(
                f"Nội dung ghi chú dài quá {MAX_COMMENT} ký tự.",
                f"The comment exceeds {MAX_COMMENT} characters.",
                field="comment",
            )
        if decision in (SUPPLEMENT, REFUSE) and not text:
            what = "giấy tờ cần bổ sung" if decision == SUPPLEMENT else "lý do từ chối"
            raise InvalidInput(
                f"Hãy ghi rõ {what}: công dân sẽ đọc nội dung này.",
                "A supplement request names the papers asked for; a refusal gives its reason.",
                field="comment",
            )
        row = self.desk.authorize_dossier(officer, code)
        if row.agency_code != officer.agency_code:
            raise Forbidden(
                "Cán bộ chỉ tiếp nhận hồ sơ của cơ quan mình.",
                "A reception officer receives dossiers of their own agency only.",
                dossier_code=code,
            )
        if row.status != DossierStatus.SUBMITTED.value or row.accepted_at is not None:
            raise Conflict(
                "Hồ sơ không còn chờ tiếp nhận (đã được xử lý).",
                f"Dossier {code} is not waiting for reception (status {row.status}).",
                dossier_code=code,
                status=row.status,
            )
        if decision == ACCEPT:
            self._accept(officer, code)
        elif decision == SUPPLEMENT:
            self._ask_for_papers(officer, code, text)
        else:
            self._refuse(officer, code, text)
        return self.desk.dossier_view(code)

    def _accept(self, officer: Person, code: str) -> None:
        now = self.clock.now()
        calendar = self.desk.calendar
        with transaction(self.db) as conn:
            row = records.lock_dossier(conn, code)
            check_transition(DossierStatus(row.status), DossierStatus.RECEIVED)
            proc = self.desk.procedure_of(row)
            due = due_at(proc, calendar, now)
            records.update_dossier(
                conn,
                code,
                status=DossierStatus.RECEIVED.value,
                received_at=now,
                clock_start=calendar.clock_start(now),
                due_at=due,
                paused_at=None,
                paused_seconds=0,
                accepted_at=now,
                received_by=officer.username,
                awaiting=None,
                updated_at=now,
            )
            self.record(
                "dossier.received",
                officer.username,
                code,
                procedure=proc.code,
                rule_version=proc.rule_version,
                agency=row.agency_code,
                structure=row.structure_version,
                channel=row.channel,
                due_at=due.isoformat(),
                submitted_at=row.received_at.isoformat(),
            )
            self._notify(
                conn,
                code,
                "accepted",
                "Hồ sơ đã được tiếp nhận",
                f"Hồ sơ {code} đã được tiếp nhận lúc {_local(now)}. Hẹn trả kết quả: {_local(due)}. "
                "Giấy tiếp nhận và hẹn trả kết quả có trên trang hồ sơ của bạn.",
            )
            if self.intake.engine_shares_db:
                self.intake._start_in(conn, code)
        if not self.intake.engine_shares_db:
            self.intake.start_or_defer(code)
        log.info("dossier.accepted_online", dossier=code, officer=officer.username)

    def _ask_for_papers(self, officer: Person, code: str, items: str) -> None:
        serial = self._supplement_count(code) + 1
        self.paperwork.supplement_request(
            code, f"{code}/reception-supplement/{serial}", officer.username, items, officer.username
        )
        with transaction(self.db) as conn:
            target = DossierStatus.SUPPLEMENT_REQUESTED
            self.desk.change_status(code, target, officer.username, stage="reception", awaiting=items)
            self._notify(
                conn,
                code,
                f"supplement/{serial}",
                "Hồ sơ cần bổ sung giấy tờ",
                f"Hồ sơ {code} chưa được tiếp nhận vì cần bổ sung: {items} "
                "Phiếu yêu cầu bổ sung (Mẫu 02) có trên trang hồ sơ; hãy nộp bổ sung tại đó.",
            )

    def _refuse(self, officer: Person, code: str, reason: str) -> None:
        self.paperwork.refusal(code, officer.username, reason, officer.username)
        with transaction(self.db) as conn:
            self.desk.change_status(code, DossierStatus.REFUSED, officer.username, stage="reception", reason=reason)
            self._notify(
                conn,
                code,
                "refused",
                "Hồ sơ không được tiếp nhận",
                f"Hồ sơ {code} không được tiếp nhận. Lý do: {reason} "
                "Phiếu từ chối (Mẫu 03) có trên trang hồ sơ của bạn.",
            )

    # ------------------------------------------------------------------ helpers

    def _notify(self, conn: Any, code: str, event: str, subject: str, body: str) -> None:
        """Queue the message in the outcome's transaction: it exists exactly when the outcome was committed."""
        row = records.load_dossier(conn, code)
        notify_applicant(self.outbox, row, f"{subject} — {code}", body, f"{code}/reception/{event}")

    def _supplement_count(self, code: str) -> int:
        return sum(1 for d in self.desk.dossier_view(code)["documents"] if d["kind"] == "supplement_request")

    @staticmethod
    def _check_officer(officer: Person) -> None:
        if officer.role != Role.RECEPTION:
            raise Forbidden(
                "Chỉ cán bộ Bộ phận Một cửa tiếp nhận hồ sơ trực tuyến.",
                "Only reception officers receive online dossiers.",
            )


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%H:%M ngày %d/%m/%Y")
