"""Handlers of the dossier topics used by the procedure BPMN files.

Each handler is idempotent: status changes are no-ops when the dossier already has the target status
(a redelivered task), and one-off side effects are recorded under the task's idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable

from dossiers.lifecycle import warning_at
from dossiers.model import DossierStatus
from motcua.db import transaction
from motcua.services import OneStopShop
from workers.runtime import Complete, Handler, Outcome, TaskContext

WORKER_ACTOR = "system:worker"


def _code(ctx: TaskContext) -> str:
    return str(ctx.variables.get("dossier_code") or ctx.business_key)


def _move(shop: OneStopShop, target: DossierStatus) -> Callable[[TaskContext], Outcome]:
    def handle(ctx: TaskContext) -> Outcome:
        shop.change_status(_code(ctx), target, WORKER_ACTOR, task=ctx.activity_id)
        return Complete()

    return handle


def handlers_for(shop: OneStopShop) -> dict[str, Handler]:
    def accept(ctx: TaskContext) -> Outcome:
        _, row = shop.change_status(_code(ctx), DossierStatus.IN_PROGRESS, WORKER_ACTOR, task=ctx.activity_id)
        return Complete(
            {
                "due_at": row.due_at.isoformat(),
                "warn_at": warning_at(shop.calendar, row.clock_start, row.due_at).isoformat(),
            }
        )

    def resume(ctx: TaskContext) -> Outcome:
        _, row = shop.change_status(_code(ctx), DossierStatus.IN_PROGRESS, WORKER_ACTOR, task=ctx.activity_id)
        now = shop.clock.now()
        return Complete(
            {
                "due_at": row.due_at.isoformat(),
                "warn_at": warning_at(shop.calendar, now, row.due_at).isoformat(),
            }
        )

    def warn_due(ctx: TaskContext) -> Outcome:
        code = _code(ctx)
        with transaction(shop.db):
            if shop.once(ctx.idempotency_key, {"warned": code}):
                shop.record("deadline.near", WORKER_ACTOR, code, due_at=ctx.variables.get("due_at"))
        return Complete()

    return {
        "dossier.accept": accept,
        "dossier.request_supplement": _move(shop, DossierStatus.SUPPLEMENT_REQUESTED),
        "dossier.resume": resume,
        "dossier.refuse": _move(shop, DossierStatus.REFUSED),
        "dossier.result_ready": _move(shop, DossierStatus.RESULT_READY),
        "dossier.close": _move(shop, DossierStatus.RETURNED),
        "dossier.warn_due": warn_due,
    }
