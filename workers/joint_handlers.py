"""Topics of the construction permit and the joint (inter-agency) land procedure → :mod:`services.joint_work`.

- ``exchange.send`` / ``exchange.reply`` — a hand-off between agencies, a partner's reply (the task's
  idempotency key is the message id: a redelivered task delivers nothing twice);
- ``step.plan``, ``step.reschedule``, ``step.escalate`` — a step's own deadline, moved after a supplement, its
  timer fired;
- ``documents.inspection_record``, ``documents.tax_notice`` — the site inspection record, the tax notice;
- the results (the permit, the land certificate) are the generic ``result.prepare`` / ``result.seal`` topics of
  :mod:`workers.result_handlers` (their renderers are built-ins of :mod:`services.results`).
"""

from __future__ import annotations

from dossiers.ports import Clock, Exchange
from services.exchange import PartnerDirectory
from services.joint_work import JointProcedures
from services.paperwork import Paperwork
from services.shop import OneStopShop
from workers.runtime import Complete, Handler, Outcome, TaskContext

WORKER_ACTOR = "system:worker"


def _code(ctx: TaskContext) -> str:
    return str(ctx.variables.get("dossier_code") or ctx.business_key)


def joint_handlers(
    shop: OneStopShop,
    paperwork: Paperwork,
    exchange: Exchange,
    clock: Clock,
    partners: PartnerDirectory | None = None,
) -> dict[str, Handler]:
    """The handlers by topic; ``exchange``: the in-process adapter, or signed envelopes to partners."""
    work = JointProcedures(shop, paperwork, exchange, partners or PartnerDirectory(), clock, WORKER_ACTOR)

    def send(ctx: TaskContext) -> Outcome:
        return Complete(work.hand_off(_code(ctx), ctx.activity_id, ctx.variables, ctx.idempotency_key))

    def reply(ctx: TaskContext) -> Outcome:
        return Complete(work.reply(_code(ctx), ctx.variables, ctx.idempotency_key))

    def plan(ctx: TaskContext) -> Outcome:
        return Complete(work.plan_step(_code(ctx), ctx.activity_id))

    def reschedule(ctx: TaskContext) -> Outcome:
        return Complete(work.reschedule(_code(ctx), ctx.variables))

    def escalate(ctx: TaskContext) -> Outcome:
        work.escalate(_code(ctx), ctx.activity_id, ctx.variables, ctx.idempotency_key)
        return Complete()

    def inspection_record(ctx: TaskContext) -> Outcome:
        return Complete(work.inspection_record(_code(ctx), ctx.variables, ctx.task_id))

    def tax_notice(ctx: TaskContext) -> Outcome:
        return Complete({"tax_notice_document_id": work.tax_notice(_code(ctx), ctx.variables)})

    return {
        "exchange.send": send,
        "exchange.reply": reply,
        "step.plan": plan,
        "step.reschedule": reschedule,
        "step.escalate": escalate,
        "documents.inspection_record": inspection_record,
        "documents.tax_notice": tax_notice,
    }
