"""The ``payment`` rows a dossier's fee is settled by, as the fee rule and the payment summary read them (the
adapters of :mod:`integrations.payments` write them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from persistence.schema import payment


def paid_total(conn: Connection, dossier_code: str) -> int:
    """The sum of the dossier's paid payments (0 when none)."""
    total = conn.execute(
        select(func.coalesce(func.sum(payment.c.amount_vnd), 0)).where(
            payment.c.dossier_code == dossier_code, payment.c.status == "paid"
        )
    ).scalar_one()
    return int(total)


def of_dossier(conn: Connection, dossier_code: str) -> list[Any]:
    """Every payment of the dossier, oldest first."""
    return list(
        conn.execute(select(payment).where(payment.c.dossier_code == dossier_code).order_by(payment.c.created_at)).all()
    )
