"""Result topics of the civil status and certification procedures → :class:`services.civil_status.CivilStatusPapers`.

``birth_registration``, ``marriage_registration`` and ``certified_copy`` share every dossier topic with the other
procedures (``dossier.accept``, ``documents.receipt``, ``dossier.refuse`` …, :mod:`workers.dossier_handlers`);
theirs are ``result.prepare_birth_certificate``, ``result.prepare_marriage_certificate``,
``result.prepare_certified_copy`` (the leader's signature is then made on their device: ``POST
/api/signatures/{id}`` completes the ``sign_result`` user task) and ``result.seal_civil_status`` (after the records
clerk's ``register_number`` task). A redelivered task changes nothing and takes no second number.
"""

from __future__ import annotations

from dossiers.ports import Clock, DocumentStore
from services.civil_status import CivilStatusPapers
from services.paperwork import Paperwork
from services.shop import OneStopShop
from workers.runtime import Complete, Handler, Outcome, TaskContext

WORKER_ACTOR = "system:worker"


def _code(ctx: TaskContext) -> str:
    return str(ctx.variables.get("dossier_code") or ctx.business_key)


def civil_status_handlers(
    shop: OneStopShop, paperwork: Paperwork, clock: Clock, store: DocumentStore
) -> dict[str, Handler]:
    papers = CivilStatusPapers(shop, paperwork, clock, store, WORKER_ACTOR)

    def prepare_birth(ctx: TaskContext) -> Outcome:
        return Complete({"leader_signature_id": papers.prepare_birth_certificate(_code(ctx), ctx.variables)})

    def prepare_marriage(ctx: TaskContext) -> Outcome:
        return Complete({"leader_signature_id": papers.prepare_marriage_certificate(_code(ctx), ctx.variables)})

    def prepare_copy(ctx: TaskContext) -> Outcome:
        return Complete({"leader_signature_id": papers.prepare_certified_copy(_code(ctx), ctx.variables)})

    def seal(ctx: TaskContext) -> Outcome:
        return Complete({"result_document_id": papers.seal(_code(ctx), ctx.variables)})

    return {
        "result.prepare_birth_certificate": prepare_birth,
        "result.prepare_marriage_certificate": prepare_marriage,
        "result.prepare_certified_copy": prepare_copy,
        "result.seal_civil_status": seal,
    }
