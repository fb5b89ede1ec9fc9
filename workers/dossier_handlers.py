"""Handlers of the dossier topics used by the procedure BPMN files.

Each handler is idempotent: status changes are no-ops when the dossier already has the target status
(a redelivered task), and documents are issued once per idempotency key.
"""

from __future__ import annotations

from dossiers.lifecycle import warning_at
from dossiers.model import DossierStatus
from dossiers.ports import Clock, Exchange
from services.paperwork import Paperwork
from services.results import ResultRegistry
from services.shop import OneStopShop
from services.supplements import Supplements
from workers.joint_handlers import joint_handlers
from workers.result_handlers import result_handlers
from workers.runtime import Complete, Handler, Outcome, TaskContext

WORKER_ACTOR = "system:worker"


def _code(ctx: TaskContext) -> str:
    return str(ctx.variables.get("dossier_code") or ctx.business_key)


def _text(ctx: TaskContext, name: str) -> str | None:
    value = ctx.variables.get(name)
    return None if value is None else str(value)


def handlers_for(
    shop: OneStopShop,
    supplements: Supplements,
    paperwork: Paperwork,
    exchange: Exchange,
    clock: Clock,
    results: ResultRegistry,
) -> dict[str, Handler]:
    def move(target: DossierStatus) -> Handler:
        def handle(ctx: TaskContext) -> Outcome:
            shop.change_status(_code(ctx), target, WORKER_ACTOR, task=ctx.activity_id)
            return Complete()

        return handle

    def accept(ctx: TaskContext) -> Outcome:
        supplements.file_uploads(_code(ctx), WORKER_ACTOR)
        _, row = shop.change_status(_code(ctx), DossierStatus.IN_PROGRESS, WORKER_ACTOR, task=ctx.activity_id)
        return Complete(
            {
                "due_at": row.due_at.isoformat(),
                "warn_at": warning_at(shop.calendar, row.clock_start, row.due_at).isoformat(),
            }
        )

    def receipt(ctx: TaskContext) -> Outcome:
        return Complete({"receipt_document_id": paperwork.receipt(_code(ctx), WORKER_ACTOR)})

    def request_supplement(ctx: TaskContext) -> Outcome:
        code = _code(ctx)
        doc_id = paperwork.supplement_request(
            code, ctx.idempotency_key, _text(ctx, "review_by"), _text(ctx, "comment"), WORKER_ACTOR
        )
        awaiting = _text(ctx, "comment") or "Bổ sung, hoàn thiện hồ sơ theo Phiếu yêu cầu bổ sung."
        shop.change_status(
            code, DossierStatus.SUPPLEMENT_REQUESTED, WORKER_ACTOR, task=ctx.activity_id, awaiting=awaiting
        )
        return Complete({"supplement_request_document_id": doc_id})

    def resume(ctx: TaskContext) -> Outcome:
        supplements.file_uploads(_code(ctx), WORKER_ACTOR)  # the supplementary papers
        _, row = shop.change_status(_code(ctx), DossierStatus.IN_PROGRESS, WORKER_ACTOR, task=ctx.activity_id)
        now = clock.now()
        return Complete(
            {"due_at": row.due_at.isoformat(), "warn_at": warning_at(shop.calendar, now, row.due_at).isoformat()}
        )

    def refuse(ctx: TaskContext) -> Outcome:
        code = _code(ctx)
        reason = _text(ctx, "comment")
        doc_id = paperwork.refusal(code, _text(ctx, "review_by"), reason, WORKER_ACTOR)
        shop.change_status(code, DossierStatus.REFUSED, WORKER_ACTOR, task=ctx.activity_id, reason=reason)
        return Complete({"refusal_document_id": doc_id})

    def warn_due(ctx: TaskContext) -> Outcome:
        code = _code(ctx)
        shop.record_once(
            ctx.idempotency_key,
            {"warned": code},
            "deadline.near",
            WORKER_ACTOR,
            code,
            due_at=ctx.variables.get("due_at"),
        )
        return Complete()

    return {
        "dossier.accept": accept,
        "documents.receipt": receipt,
        "dossier.request_supplement": request_supplement,
        "dossier.resume": resume,
        "dossier.refuse": refuse,
        "dossier.result_ready": move(DossierStatus.RESULT_READY),
        "dossier.close": move(DossierStatus.RETURNED),
        "dossier.warn_due": warn_due,
        **joint_handlers(shop, paperwork, exchange, clock),  # construction permit, joint land procedure (exchange)
        **result_handlers(results),  # every procedure's result: result.prepare, result.seal (and old names)
    }
