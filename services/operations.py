"""Operational use cases of an installation: reading a dossier's history as an API client, moving the simulated
clock of a demo or test deployment. Each records what it did where it does it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dossiers.clock import SimulatedClock
from dossiers.errors import Forbidden
from dossiers.model import Person
from dossiers.ports import Clock, Engine
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
