"""Inter-agency exchange (*một cửa liên thông*, DESIGN §9): the in-process delivery adapter and the routing of
hand-offs to partner agencies.

:class:`InProcessExchange` implements the :class:`dossiers.ports.Exchange` port for agencies that share one
Motcua installation: it checks the manifest (every document belongs to the dossier and has the SHA-256 the
sender named, as a receiver of a signed envelope would), records the delivery once per message id (the
``side_effect`` table keeps the receipt) and appends one ``exchange.delivered`` audit entry. Delivery is what
lets the receiving agency's officials act: their task lists show the dossier's steps while the process
variable ``current_agency`` names their agency (set by the ``exchange.send`` worker from the receipt), and
they may read a dossier delivered to them. A later adapter sends signed envelopes with the same contract;
the BPMN files, which only name the ``exchange.send`` topic, do not change.

:class:`PartnerDirectory` answers "which agency of this kind serves that commune" from
``motcua/data/exchange_partners.json`` (data, not code: a province edits it with its own branches).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from sqlalchemy import insert, select

from dossiers.errors import Conflict, InvalidInput, NotFound
from dossiers.ports import ExchangeDocument, ExchangeReceipt
from motcua.services import OneStopShop
from persistence.schema import document, side_effect
from persistence.uow import transaction

DELIVERED = "exchange.delivered"
"""The audit event of one delivery (details: message id, sender, receiver, documents with SHA-256)."""
RECEIVED = "exchange.received"
"""The audit event of an envelope accepted from a partner installation (see :mod:`motcua.envelopes`)."""
ORIGIN = "origin"
"""The partner kind naming the agency that received the dossier (hand-offs back to the commune)."""


def _key(message_id: str) -> str:
    return f"exchange/{message_id}"[:200]


def _receipt(data: Mapping[str, Any], duplicate: bool) -> ExchangeReceipt:
    return ExchangeReceipt(
        message_id=str(data["message_id"]),
        sender_agency=str(data["sender_agency"]),
        receiver_agency=str(data["receiver_agency"]),
        dossier_code=str(data["dossier_code"]),
        delivered_at=dt.datetime.fromisoformat(str(data["delivered_at"])),
        documents=tuple(str(d) for d in data.get("documents", ())),
        duplicate=duplicate,
    )


class InProcessExchange:
    """Delivers at once inside this installation; idempotent by message id."""

    def __init__(self, shop: OneStopShop, actor: str = "system:exchange") -> None:
        self.shop = shop
        self.actor = actor

    def send(
        self,
        sender_agency: str,
        receiver_agency: str,
        dossier_code: str,
        message_id: str,
        documents: Sequence[ExchangeDocument],
        context: Mapping[str, Any] | None = None,
    ) -> ExchangeReceipt:
        if not message_id:
            raise InvalidInput("Thiếu mã thông điệp liên thông.", "An exchange message needs a message id.")
        if sender_agency == receiver_agency:
            raise InvalidInput(
                "Cơ quan gửi và nhận liên thông trùng nhau.",
                f"Sender and receiver are the same agency ({sender_agency}).",
            )
        self.shop.agency(sender_agency)  # NotFound for an agency outside the structure in force
        self.shop.agency(receiver_agency)
        with transaction(self.shop.db) as conn:
            found = conn.execute(select(side_effect.c.result).where(side_effect.c.key == _key(message_id))).first()
            if found is not None:
                first = _receipt(found.result, duplicate=True)
                if (first.dossier_code, first.receiver_agency) != (dossier_code, receiver_agency):
                    raise Conflict(
                        "Mã thông điệp liên thông đã được dùng cho hồ sơ hoặc cơ quan khác.",
                        f"Message {message_id} was already used for another dossier or receiver.",
                    )
                return first
            self._check_manifest(conn, dossier_code, documents)
            now = self.shop.clock.now()
            receipt = {
                "message_id": message_id,
                "sender_agency": sender_agency,
                "receiver_agency": receiver_agency,
                "dossier_code": dossier_code,
                "delivered_at": now.isoformat(),
                "documents": [d.sha256 for d in documents],
            }
            conn.execute(insert(side_effect).values(key=_key(message_id), result=receipt, created_at=now))
            self.shop.record(
                DELIVERED,
                self.actor,
                dossier_code,
                message_id=message_id,
                sender=sender_agency,
                receiver=receiver_agency,
                documents=[{"id": d.id, "kind": d.kind, "sha256": d.sha256} for d in documents],
            )
        return _receipt(receipt, duplicate=False)

    @staticmethod
    def _check_manifest(conn: Any, dossier_code: str, documents: Sequence[ExchangeDocument]) -> None:
        """Every document belongs to the dossier and is the one the sender named (same SHA-256)."""
        if not documents:
            return
        rows = conn.execute(
            select(document.c.id, document.c.sha256).where(
                document.c.dossier_code == dossier_code, document.c.id.in_([d.id for d in documents])
            )
        ).all()
        stored = {r.id: r.sha256 for r in rows}
        for d in documents:
            if d.id not in stored:
                raise NotFound(
                    f"Tài liệu {d.id} không thuộc hồ sơ {dossier_code}.",
                    f"Document {d.id} is not part of dossier {dossier_code}.",
                )
            if stored[d.id] != d.sha256:
                raise Conflict(
                    f"Tài liệu {d.filename} không khớp mã băm đã gửi.",
                    f"Document {d.id} does not match the SHA-256 in the manifest.",
                )


def delivered_to(shop: OneStopShop, dossier_code: str) -> set[str]:
    """The agencies a dossier was handed to here, or that received it here from a partner (from the audit log)."""
    return {
        str(e.event.details.get("receiver"))
        for e in shop.audit.for_dossier(dossier_code)
        if e.event.kind in (DELIVERED, RECEIVED) and e.event.details.get("receiver")
    }


class PartnerDirectory:
    """Which agency of a kind (``land_registration``, ``tax``, …) serves the agency that received a dossier.

    Data shape (``motcua/data/exchange_partners.json``)::

        {"partners": {"land_registration": {"000.00.31.H99": "000.40.00.H99", "*": "000.40.00.H99"}}}

    ``"*"`` is the default for agencies not listed. The kind ``origin`` is the receiving agency itself.
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        if data is None:
            text = resources.files("motcua").joinpath("data", "exchange_partners.json").read_text(encoding="utf-8")
            data = json.loads(text)
        raw = data.get("partners", {})
        if not isinstance(raw, Mapping):
            raise ValueError("exchange partners: 'partners' must be an object")
        self.routes: dict[str, dict[str, str]] = {
            str(kind): {str(k): str(v) for k, v in table.items() if not str(k).startswith("_")}
            for kind, table in raw.items()
            if not str(kind).startswith("_") and isinstance(table, Mapping)
        }

    def resolve(self, kind: str, origin_agency: str) -> str:
        if kind == ORIGIN:
            return origin_agency
        table = self.routes.get(kind)
        found = None if table is None else table.get(origin_agency, table.get("*"))
        if found is None:
            raise NotFound(
                f"Chưa cấu hình cơ quan liên thông loại '{kind}' cho cơ quan {origin_agency}.",
                f"No partner agency of kind '{kind}' is configured for agency {origin_agency}.",
            )
        return found
