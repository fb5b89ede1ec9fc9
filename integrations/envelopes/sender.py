"""Posting a signed envelope to a partner installation and checking its answer.

The partner answers with a signed acknowledgment (ACK or NACK); it is accepted only when the signature chains to
the partner's roots and names the partner, and the acknowledgment answers this very envelope (message id and the
manifest's SHA-256). Anything else raises: the sender keeps the envelope and retries it (:mod:`services.exchange`).
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from integrations.envelopes.manifest import ACK_TYPE, b64, sha256_hex, unb64
from integrations.envelopes.partners import Partner, check_partner_signature


@dataclass(frozen=True)
class Acknowledgment:
    """The partner's signed answer to one envelope: its bytes, its signature and its parsed body."""

    ack: bytes
    signature: bytes
    body: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.body.get("status") == "accepted"


def post_envelope(
    partner: Partner,
    manifest: bytes,
    signature: bytes,
    documents: Mapping[str, bytes],
    *,
    at: dt.datetime,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
) -> Acknowledgment:
    """POST the envelope to the partner's exchange URL (its TLS CA when configured) and return its verified
    acknowledgment (checked at ``at``); raises on any failure, an unexpected HTTP status included (200 and 422
    carry an ACK or a NACK; 503 is the partner's passing failure, retried)."""
    message_id = json.loads(manifest)["message_id"]
    payload = {
        "manifest": b64(manifest),
        "signature": b64(signature),
        "documents": {doc_id: b64(data) for doc_id, data in documents.items()},
    }
    verify: Any = ssl.create_default_context(cafile=partner.tls_ca) if partner.tls_ca else True
    with httpx.Client(timeout=timeout, transport=transport, verify=verify) as client:
        response = client.post(partner.url, json=payload)
    if response.status_code not in (200, 422):
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    answer = response.json()
    ack = unb64(answer.get("ack"), "acknowledgment")
    ack_signature = unb64(answer.get("signature"), "acknowledgment signature")
    check_partner_signature(ack, ack_signature, partner, partner.agency, at)
    body = json.loads(ack)
    if (
        body.get("type") != ACK_TYPE
        or body.get("message_id") != message_id
        or body.get("manifest_sha256") != sha256_hex(manifest)
    ):
        raise RuntimeError("the acknowledgment does not answer this envelope")
    return Acknowledgment(ack, ack_signature, body)
