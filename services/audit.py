"""Checking the audit log with the configured trust: the checkpoints' CMS signatures and timestamps.

The log, its checkpoints and anchors are stored by :mod:`persistence.audit_log`; this module adds what needs the
signing adapter and the settings (trusted roots, the audit agency's seal, local CRLs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from cryptography import x509

from dossiers.audit import ChainProblem
from persistence.audit_log import AuditAnchors, AuditReport, Checkpoint, CheckpointStatus


def check_signature(
    cp: Checkpoint, trust_roots: Sequence[x509.Certificate], seals: Sequence[x509.Certificate], crls: Sequence[bytes]
) -> CheckpointStatus:
    from signing.cms import CmsInvalid, agency_code_of, verify_detached

    def status(*problems: ChainProblem, **found: Any) -> CheckpointStatus:
        return CheckpointStatus(
            cp.seq,
            cp.created_at,
            cp.trigger,
            cp.timestamped,
            found.get("signer"),
            found.get("signing_time"),
            found.get("timestamp_time"),
            timestamp_valid=bool(found.get("timestamp_valid")),
            problems=problems,
        )

    try:
        report = verify_detached(cp.statement, cp.signature, list(trust_roots), crls=list(crls))
    except CmsInvalid as exc:
        return status(ChainProblem(cp.seq, "checkpoint", f"checkpoint at {cp.seq}: signature invalid ({exc})"))
    found = {
        "signer": report.signer_common_name or report.signer_subject,
        "signing_time": report.signing_time,
        "timestamp_time": report.timestamp_time if report.timestamp_valid else None,
        "timestamp_valid": report.timestamp_valid,
    }
    problems = []
    if report.signer_certificate not in seals and agency_code_of(report.signer_certificate) != cp.agency_code:
        problems.append(
            ChainProblem(
                cp.seq,
                "checkpoint",
                f"checkpoint at {cp.seq}: signed by {report.signer_subject}, "
                f"not by the seal of agency {cp.agency_code}",
            )
        )
    if cp.timestamped and not report.timestamp_valid:
        what = "invalid" if report.timestamp_time is not None else "missing"
        problems.append(ChainProblem(cp.seq, "checkpoint", f"checkpoint at {cp.seq}: its timestamp is {what}"))
    return status(*problems, **found)


def audit_trust(
    settings: Any, pki: Any, keys: Any
) -> tuple[list[x509.Certificate], list[x509.Certificate], list[bytes]]:
    """(trust roots, the audit agency's seal certificates, local CRLs) for :meth:`SqlAuditLog.verify_report`: the
    configured roots (``MOTCUA_TRUST_ROOTS``) and, outside production, the development PKI's root — as for PDF
    signatures (services.verification)."""
    from services.verification import configured_roots

    roots = configured_roots(settings)
    if settings.environment != "production":
        roots += pki.trust_roots()
    seals: list[x509.Certificate] = []
    with contextlib.suppress(Exception):  # no key here (a verifier's machine): the subject's serialNumber decides
        seals = keys.chain_for(f"agency:{settings.audit_agency}")[:1]
    return roots, seals, list(pki.crls())


def audit_report(runtime: Any) -> AuditReport:
    """Verify the runtime's audit log and checkpoints with the configured trust (CLI, API and the auditor's desk)."""
    roots, seals, crls = audit_trust(runtime.settings, runtime.pki, runtime.keys)
    anchors = AuditAnchors(runtime.audit, runtime.store)
    report: AuditReport = runtime.audit.verify_report(
        check_signature=lambda cp: check_signature(cp, roots, seals, crls),
        anchors=anchors if anchors.supported else None,
    )
    return report
