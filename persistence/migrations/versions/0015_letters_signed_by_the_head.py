"""an index for the letters the head of the agency signed: the housekeeping round finds those left unsealed

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:00:00.000000
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pending_signature", schema=None) as batch_op:
        batch_op.create_index("ix_pending_signature_kind_completed", ["document_kind", "completed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_signature", schema=None) as batch_op:
        batch_op.drop_index("ix_pending_signature_kind_completed")
