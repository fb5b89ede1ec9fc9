"""a finished two-step signature keeps no prepared PDF (the signed document is in the object store)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:30:00.000000
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE pending_signature SET state = '' WHERE completed_at IS NOT NULL")


def downgrade() -> None:
    pass  # the dropped states are not needed (nothing reads a finished signature's state) and cannot come back
