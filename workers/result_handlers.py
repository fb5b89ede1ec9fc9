"""The generic result topics → :class:`services.results.ResultRegistry`.

- ``result.prepare`` — render the procedure's result (its template, or its built-in renderer), create every field
  and prepare the approving leader's (``approve_by``) personal signature for their device; sets
  ``leader_signature_id``. The leader then signs on their device (``POST /api/signatures/{id}`` completes the
  ``sign_result`` user task).
- ``result.seal`` — after the records clerk's ``register_number`` task (``register_number_by``): number, date and
  seal the leader-signed result; sets ``result_document_id``.

What to render and who signs comes from the dossier's procedure (its catalogue entry's ``result``), not from the
topic. The per-procedure topic names of the BPMN files written before the registry stay registered as aliases
(:data:`PREPARE_ALIASES`, :data:`SEAL_ALIASES`), so a process in flight keeps working.
"""

from __future__ import annotations

from services.results import ResultRegistry
from workers.runtime import Complete, Handler, Outcome, TaskContext

PREPARE_TOPIC = "result.prepare"
SEAL_TOPIC = "result.seal"
PREPARE_ALIASES = (
    "result.prepare_certificate",
    "result.prepare_birth_certificate",
    "result.prepare_marriage_certificate",
    "result.prepare_certified_copy",
    "result.prepare_permit",
    "result.prepare_land_certificate",
)
SEAL_ALIASES = ("result.seal_civil_status", "result.seal_permit", "result.seal_land_certificate")


def _code(ctx: TaskContext) -> str:
    return str(ctx.variables.get("dossier_code") or ctx.business_key)


def result_handlers(results: ResultRegistry) -> dict[str, Handler]:
    """The two generic topics and their aliases."""

    def prepare(ctx: TaskContext) -> Outcome:
        return Complete({"leader_signature_id": results.prepare(_code(ctx), ctx.variables)})

    def seal(ctx: TaskContext) -> Outcome:
        return Complete({"result_document_id": results.seal(_code(ctx), ctx.variables)})

    return {
        PREPARE_TOPIC: prepare,
        SEAL_TOPIC: seal,
        **dict.fromkeys(PREPARE_ALIASES, prepare),
        **dict.fromkeys(SEAL_ALIASES, seal),
    }
