"""The periodic jobs of a serve or worker process, wired from the runtime: each use case is given what it needs.

:func:`operations_tick` runs late-notice detection, the sealing of letters their head signed but a failure left
unsealed, notification delivery, envelope delivery and the pruning of
finished processes' engine state; each job is guarded on its own, so a failing one does not stop the others (the
next tick retries).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import structlog

from services.late import find_late_risks
from services.notifications import build_dispatcher

if TYPE_CHECKING:
    from motcua.app import Runtime

log = structlog.get_logger(__name__)


def operations_tick(runtime: Runtime) -> None:
    """One housekeeping round of this module's jobs: late notices, notification delivery, envelopes to partner
    installations. Each job is guarded on its own, so a failing one does not stop the others."""
    try:
        find_late_risks(
            runtime.db,
            runtime.engine,
            runtime.shop,
            runtime.clock.now(),
            window_hours=runtime.settings.late_notice_working_hours,
        )
    except Exception:  # noqa: BLE001 - the next tick retries
        log.warning("late.find_failed", exc_info=True)
    try:
        runtime.paperwork.finish_signed_letters()  # before delivery: their messages go out in this round
    except Exception:  # noqa: BLE001 - the next tick retries
        log.warning("letter.finish_round_failed", exc_info=True)
    try:
        build_dispatcher(runtime.settings, runtime.db, runtime.clock, runtime.shop.record).dispatch()
    except Exception:  # noqa: BLE001 - the next tick retries
        log.warning("notification.dispatch_failed", exc_info=True)
    if runtime.exchange is not None:
        try:
            runtime.exchange.deliver_due()  # envelopes to partner installations, with backoff
        except Exception:  # noqa: BLE001 - the next tick retries
            log.warning("exchange.delivery_round_failed", exc_info=True)
    prune_engine_state(runtime)


def prune_engine_state(runtime: Runtime) -> int:
    """Drop the engine state of processes finished longer ago than MOTCUA_ENGINE_STATE_RETENTION_DAYS (the
    embedded engine's; Operaton cleans its own history): one batch of due rows per round, guarded."""
    prune = getattr(runtime.engine, "prune_finished", None)
    if not callable(prune):
        return 0
    retention = dt.timedelta(days=runtime.settings.engine_state_retention_days)
    try:
        return int(prune(runtime.clock.now() - retention))
    except Exception:  # noqa: BLE001 - the next tick retries
        log.warning("engine.prune_failed", exc_info=True)
        return 0
