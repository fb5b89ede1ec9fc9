"""Which agencies a dossier was exchanged with, read from the audit log: the in-process and envelope exchanges
record ``exchange.delivered``/``exchange.received``, the desk lets those agencies' officials read the dossier."""

from __future__ import annotations

from dossiers.ports import AuditLog

DELIVERED = "exchange.delivered"
"""The audit event of one delivery (details: message id, sender, receiver, documents with SHA-256)."""
RECEIVED = "exchange.received"
"""The audit event of an envelope accepted from a partner installation (see :mod:`services.receiving`)."""


def delivered_to(audit: AuditLog, dossier_code: str) -> set[str]:
    """The agencies a dossier was handed to here, or that received it here from a partner (from the audit log)."""
    return {
        str(e.event.details.get("receiver"))
        for e in audit.for_dossier(dossier_code, include_queued=False)  # every authorization asks: never waits
        if e.event.kind in (DELIVERED, RECEIVED) and e.event.details.get("receiver")
    }
