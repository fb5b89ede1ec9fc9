"""indexes for the statistics of a period: dossiers received before its end, not finished before its start

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:00:00.000000
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.create_index("ix_dossier_received_at", ["received_at"], unique=False)
        batch_op.create_index("ix_dossier_finished_at", ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_finished_at")
        batch_op.drop_index("ix_dossier_received_at")
