"""indexes for the once-a-second jobs: late risks, notification and envelope outboxes touch only due rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:50:00.000000
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.create_index("ix_dossier_status_due", ["status", "due_at"], unique=False)
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_status_created", ["status", "created_at"], unique=False)
    with op.batch_alter_table("exchange_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_outbox_status_next", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exchange_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_outbox_status_next")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_status_created")
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_status_due")
