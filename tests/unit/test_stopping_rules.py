"""The rules of stopping a dossier's processing (Mẫu 05 of 2025): from which statuses it may stop, and how a stopped
dossier counts — no result, so neither on time nor late, in the withdrawn column, and no longer in progress."""

from __future__ import annotations

import datetime as dt

import pytest

from dossiers.calendar import VN_TZ
from dossiers.errors import Conflict
from dossiers.lifecycle import STOPPABLE, check_transition
from dossiers.model import FINAL_STATUSES, STATUS_LABELS_VI
from dossiers.model import DossierStatus as S
from dossiers.statistics import DossierRecord, Period, indicators_of


def test_processing_stops_only_from_an_open_status() -> None:
    assert {S.SUBMITTED, S.RECEIVED, S.IN_PROGRESS, S.SUPPLEMENT_REQUESTED} == STOPPABLE
    for status in STOPPABLE:
        assert check_transition(status, S.STOPPED) and check_transition(status, S.WITHDRAWN)
    for status in (S.RESULT_READY, S.RETURNED, S.REFUSED, S.WITHDRAWN):
        with pytest.raises(Conflict):
            check_transition(status, S.STOPPED)
    with pytest.raises(Conflict):
        check_transition(S.STOPPED, S.IN_PROGRESS)
    assert S.STOPPED in FINAL_STATUSES and STATUS_LABELS_VI[S.STOPPED] == "Dừng giải quyết"


@pytest.mark.parametrize("status", [S.STOPPED, S.WITHDRAWN])
def test_a_stopped_dossier_is_neither_on_time_nor_late(status: S) -> None:
    march = Period(dt.datetime(2026, 3, 1, tzinfo=VN_TZ), dt.datetime(2026, 4, 1, tzinfo=VN_TZ))
    received = dt.datetime(2026, 3, 2, 9, tzinfo=VN_TZ)
    due = dt.datetime(2026, 3, 5, 17, tzinfo=VN_TZ)
    record = DossierRecord(
        code="D1",
        agency_code="A1",
        procedure_code="P1",
        department_code=None,
        status=status,
        channel="counter",
        return_channel="counter",
        received_at=received,
        due_at=due,
        finished_at=due + dt.timedelta(days=3),  # stopped after its due date: still not late
    )
    got = indicators_of(record, march)
    assert (got.received, got.withdrawn) == (1, 1)
    assert (got.resolved, got.early, got.on_time, got.late, got.refused) == (0, 0, 0, 0, 0)
    assert (got.in_progress, got.overdue) == (0, 0)
    assert got.carried_over + got.received == got.resolved + got.refused + got.withdrawn + got.in_progress
