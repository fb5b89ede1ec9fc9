"""online dossiers wait for reception: who filed them, when reception accepted them, what a supplement awaits

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 09:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

from persistence.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("accepted_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("awaiting", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_dossier_submitted_by"), ["submitted_by"], unique=False)
    # Before this revision every dossier was received when it was registered, online ones in the citizen's name.
    op.execute("UPDATE dossier SET accepted_at = received_at")
    op.execute("UPDATE dossier SET submitted_by = received_by WHERE channel = 'online'")


def downgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_submitted_by"))
        batch_op.drop_column("awaiting")
        batch_op.drop_column("accepted_at")
        batch_op.drop_column("submitted_by")
