"""Operational use cases of an installation: reading a dossier's history as an API client, moving the simulated
clock of a demo or test deployment, retrying a failed step. Each records what it did where it does it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from dossiers.clock import SimulatedClock
from dossiers.errors import Forbidden, InvalidInput, NotFound
from dossiers.model import Person
from dossiers.ports import Clock, Engine, Incident
from services.shop import OneStopShop


def read_history(shop: OneStopShop, person: Person, code: str) -> list[dict[str, Any]]:
    """A dossier's history (its audit trail), recorded as a read of personal data (Decree 13/2023)."""
    events = shop.history(person, code)
    shop.record("dossier.read", person.username, code, part="history")
    return events


def advance_simulated_clock(
    clock: Clock, engine: Engine, shop: OneStopShop, person: Person, delta: dt.timedelta
) -> tuple[dt.datetime, int]:
    """Move the simulated clock and fire the timers that fell due (demo and test deployments only)."""
    if not isinstance(clock, SimulatedClock):
        raise Forbidden("Đồng hồ hệ thống là đồng hồ thật.", "This deployment runs on the real clock.")
    now = clock.advance(delta)
    fired = engine.fire_due_timers(now)
    shop.record("clock.advanced", person.username, now=now.isoformat(), timers_fired=fired)
    return now, fired


def retry_incident(
    engine: Engine, record: Callable[..., None], incident_id: str, actor: str, retries: int = 3
) -> Incident:
    """An operator fixed the cause (a printer, a certificate, a full disk): give the step new retries."""
    found = [i for i in engine.incidents() if i.id == incident_id]
    if not found:
        raise NotFound("Không có sự cố đang mở với mã này.", "No open incident with this id.", incident_id=incident_id)
    incident = found[0]
    if incident.task_id is None:
        raise InvalidInput(
            "Sự cố này không thuộc một bước tự động nên không thể chạy lại.",
            "This incident is not a failed service task; it cannot be retried here.",
            incident_id=incident_id,
        )
    engine.set_retries(incident.task_id, max(1, retries))
    record(
        "incident.retried",
        actor,
        incident.business_key or None,
        incident_id=incident.id,
        activity_id=incident.activity_id,
        retries=max(1, retries),
    )
    return incident
