"""The in-process workers and the timer scheduler that `motcua serve` runs move dossiers on their own."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.conftest import Api


def _eventually(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_background_workers_and_timer_scheduler(api: Api) -> None:
    runtime = api.runtime
    runtime.start_background(workers=2, timer_seconds=0.05)
    code = api.submit().json()["code"]

    def status() -> str:
        return str(api.get(f"/api/dossiers/{code}", "tiepnhan.xa1").json()["status"])

    assert _eventually(lambda: status() == "in_progress"), status()

    def warned() -> bool:
        kinds = [e["kind"] for e in api.get(f"/api/dossiers/{code}/history", "thanhtra.tinh").json()]
        return "deadline.near" in kinds

    assert not warned()
    # move the simulated clock only; nobody calls fire_due_timers by hand: the scheduler must notice
    import datetime as dt

    from dossiers.clock import SimulatedClock

    assert isinstance(runtime.clock, SimulatedClock)
    runtime.clock.advance(dt.timedelta(days=2, hours=3))  # Wednesday 11:00, past the 10:00 warning
    api.forget_tokens()
    assert _eventually(warned)
