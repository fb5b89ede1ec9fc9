"""Each step's share of a dossier's time limit (*thời gian xử lý từng bước theo quy trình nội bộ*).

A province's internal procedure (quy trình nội bộ) gives every step its working hours — reception, the
specialist's review, the leader's approval, the clerk's numbering, the return. A procedure may carry those hours
as data (catalogue ``step_times``: BPMN step id → working hours); without them the dossier's working time is
split by who does the step (:data:`DEFAULT_SHARES`). A step is due that many working hours after it began, and
never later than the dossier itself: the task list colours each task by its own step, the control sheet (Mẫu 05)
judges each hand-over against it, and statistics keep judging the dossier against its own due date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from dossiers.calendar import WorkingCalendar
from dossiers.model import Procedure

# Without an internal procedure: the review takes most of the time, approval and numbering a little, the desk the
# rest (the same split as the default internal procedures provinces publish for one-agency procedures).
DEFAULT_SHARES: Mapping[str, float] = {
    "specialist": 0.6,
    "leader": 0.2,
    "clerk": 0.1,
    "reception": 0.1,
}
MIN_STEP_SECONDS = 15 * 60  # a step always gets a quarter of an hour, even in a same-day procedure


def step_seconds(
    procedure: Procedure,
    step: str,
    role: str | None,
    calendar: WorkingCalendar,
    clock_start: dt.datetime,
    dossier_due: dt.datetime,
) -> int:
    """The working seconds step ``step`` (done by ``role``) may take in this dossier."""
    hours = dict(procedure.step_times).get(step)
    if hours is not None:
        return max(MIN_STEP_SECONDS, round(hours * 3600))
    total = calendar.working_seconds_between(clock_start, dossier_due)
    return max(MIN_STEP_SECONDS, round(total * DEFAULT_SHARES.get(role or "", 0.1)))


def step_due(
    procedure: Procedure,
    step: str,
    role: str | None,
    calendar: WorkingCalendar,
    started_at: dt.datetime,
    clock_start: dt.datetime,
    dossier_due: dt.datetime,
) -> dt.datetime:
    """When step ``step``, begun at ``started_at``, is due: its working time later, at the latest the dossier's
    own due date."""
    seconds = step_seconds(procedure, step, role, calendar, clock_start, dossier_due)
    due = calendar.add_working_seconds(calendar.clock_start(started_at), seconds)
    return min(due, dossier_due)
