"""dossiers found by code, name without diacritics, ID number and phone; the steps an official handled

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from dossiers.search_text import dossier_search_text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000  # rows written per statement while the existing dossiers are given their search text


def upgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.String(length=400), server_default="", nullable=False))
    backfill(op.get_bind())
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.create_index("ix_dossier_agency_received", ["agency_code", "received_at", "search_text"], unique=False)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_kind_actor", ["kind", "actor"], unique=False)


def backfill(conn: sa.Connection) -> int:
    """Every existing dossier's search text, by the same rule as a new dossier's; how many rows were written."""
    table = sa.table(
        "dossier",
        sa.column("code", sa.String),
        sa.column("applicant_name", sa.String),
        sa.column("applicant_id_number", sa.String),
        sa.column("applicant_phone", sa.String),
        sa.column("search_text", sa.String),
    )
    statement = (
        sa.update(table).where(table.c.code == sa.bindparam("b_code")).values(search_text=sa.bindparam("b_text"))
    )
    written, last = 0, ""
    while True:  # by code, a batch at a time: the table is never held in memory at once
        rows = conn.execute(
            sa.select(table.c.code, table.c.applicant_name, table.c.applicant_id_number, table.c.applicant_phone)
            .where(table.c.code > last)
            .order_by(table.c.code)
            .limit(BATCH)
        ).all()
        if not rows:
            return written
        conn.execute(
            statement,
            [
                {
                    "b_code": r.code,
                    "b_text": dossier_search_text(r.code, r.applicant_name, r.applicant_id_number, r.applicant_phone),
                }
                for r in rows
            ],
        )
        written, last = written + len(rows), rows[-1].code


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_kind_actor")
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_agency_received")
        batch_op.drop_column("search_text")
