"""finished embedded-engine instances drop their SpiffWorkflow state after a retention, keeping a small summary

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from persistence.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wf_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finished_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("pruned_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.JSON(), nullable=True))
        batch_op.create_index("ix_wf_instance_prune", ["pruned_at", "finished_at"], unique=False)
    # instances that completed before: their last save is when they finished
    op.execute("UPDATE wf_instance SET finished_at = updated_at WHERE status = 'completed'")


def downgrade() -> None:
    # a pruned state cannot come back: those instances keep '' (nothing reads a finished instance's state but the
    # diagram, which then shows what the audit log says)
    with op.batch_alter_table("wf_instance", schema=None) as batch_op:
        batch_op.drop_index("ix_wf_instance_prune")
        batch_op.drop_column("summary")
        batch_op.drop_column("pruned_at")
        batch_op.drop_column("finished_at")
