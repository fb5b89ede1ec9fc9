"""the procedure designer's drafts and publications

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from persistence.schema import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedure_draft",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("saved_by", sa.String(length=80), nullable=False),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_procedure_draft")),
    )
    op.create_table(
        "procedure_publication",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("process_key", sa.String(length=120), nullable=False),
        sa.Column("deployed", sa.JSON(), nullable=False),
        sa.Column("bpmn_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_publication")),
    )
    with op.batch_alter_table("procedure_publication", schema=None) as batch_op:
        batch_op.create_index("ix_procedure_publication_code", ["code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("procedure_publication", schema=None) as batch_op:
        batch_op.drop_index("ix_procedure_publication_code")
    op.drop_table("procedure_publication")
    op.drop_table("procedure_draft")
