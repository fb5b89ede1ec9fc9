"""Dossier status transitions and deadline arithmetic (pure)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from dossiers.calendar import VN_TZ, WorkingCalendar
from dossiers.errors import Conflict
from dossiers.model import DossierStatus, Procedure

S = DossierStatus
ALLOWED: dict[DossierStatus, frozenset[DossierStatus]] = {
    # an online dossier before reception accepts it: accepted, sent back for papers, refused or withdrawn
    S.SUBMITTED: frozenset({S.RECEIVED, S.SUPPLEMENT_REQUESTED, S.REFUSED, S.WITHDRAWN, S.STOPPED}),
    S.RECEIVED: frozenset({S.IN_PROGRESS, S.REFUSED, S.WITHDRAWN, S.STOPPED}),
    S.IN_PROGRESS: frozenset({S.SUPPLEMENT_REQUESTED, S.RESULT_READY, S.REFUSED, S.WITHDRAWN, S.STOPPED}),
    # back to processing, or (asked for at reception, before acceptance) back to the reception queue
    S.SUPPLEMENT_REQUESTED: frozenset({S.IN_PROGRESS, S.SUBMITTED, S.REFUSED, S.WITHDRAWN, S.STOPPED}),
    S.RESULT_READY: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    S.REFUSED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.STOPPED: frozenset(),
}

# Where processing may stop (Mẫu 05 of 2025: withdrawn at the applicant's request, or stopped by the agency): any
# open status; a dossier with its result ready, handed over, refused or stopped already is finished.
STOPPABLE = frozenset(s for s, targets in ALLOWED.items() if S.STOPPED in targets)


def check_transition(current: DossierStatus, target: DossierStatus) -> bool:
    """True when the status changes; False when it is already ``target`` (a redelivered task);
    raises ``Conflict`` for a transition the rules do not allow."""
    if current == target:
        return False
    if target not in ALLOWED[current]:
        raise Conflict(
            f"Không thể chuyển hồ sơ từ trạng thái '{current}' sang '{target}'.",
            f"A dossier cannot go from '{current}' to '{target}'.",
        )
    return True


def due_at(procedure: Procedure, calendar: WorkingCalendar, received_at: dt.datetime) -> dt.datetime:
    """Appointment date for the receipt: same day, N working days or N calendar days."""
    if procedure.time_limit_days == 0:
        return calendar.same_day_due(received_at)
    if procedure.working_days:
        return calendar.add_working_days(received_at, procedure.time_limit_days)
    return calendar.add_calendar_days(received_at, procedure.time_limit_days)


def warning_at(calendar: WorkingCalendar, start: dt.datetime, due: dt.datetime) -> dt.datetime:
    """When to warn that a dossier is near its due date: when a quarter of its working time, at most one
    working day, remains."""
    begin = calendar.clock_start(start)
    if begin >= due:
        return due
    total = calendar.working_seconds_between(begin, due)
    remaining = min(total // 4, calendar.hours.seconds_per_day)
    return calendar.add_working_seconds(begin, total - remaining)


def shifted_due(
    calendar: WorkingCalendar, due: dt.datetime, paused_from: dt.datetime, resumed_at: dt.datetime
) -> tuple[dt.datetime, int]:
    """The due date moves by the working time the clock was paused (supplement request)."""
    paused = calendar.working_seconds_between(paused_from, resumed_at)
    return calendar.add_working_seconds(due, paused) if paused else due, paused


class Timeliness(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


def timeliness(finished_at: dt.datetime, due: dt.datetime) -> Timeliness:
    """Before the due day: early; on the due day up to the due moment: on time; after: late."""
    if finished_at > due:
        return Timeliness.LATE
    if finished_at.astimezone(VN_TZ).date() < due.astimezone(VN_TZ).date():
        return Timeliness.EARLY
    return Timeliness.ON_TIME
