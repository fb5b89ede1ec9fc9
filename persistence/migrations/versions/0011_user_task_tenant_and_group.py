"""user tasks keep their agency (tenant) and sole candidate group, indexed: a task list reads one agency's role

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 12:00:00.000000
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEX = "ix_wf_user_task_tenant_group_due"


def upgrade() -> None:
    with op.batch_alter_table("wf_user_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("candidate_group", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("tenant", sa.String(length=40), nullable=True))
        batch_op.create_index(INDEX, ["tenant", "candidate_group", "due_at", "created_at"], unique=False)
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """The open tasks: the tenant is the acting agency the task's variables name (``current_agency``), else the
    dossier's agency; the candidate group is the task's only one (None when it has several)."""
    task = sa.table(
        "wf_user_task",
        sa.column("id", sa.String),
        sa.column("business_key", sa.String),
        sa.column("candidate_groups", sa.String),
        sa.column("candidate_group", sa.String),
        sa.column("tenant", sa.String),
        sa.column("variables", sa.Text),
    )
    dossier = sa.table("dossier", sa.column("code", sa.String), sa.column("agency_code", sa.String))
    rows = conn.execute(
        sa.select(task.c.id, task.c.candidate_groups, task.c.variables, dossier.c.agency_code).select_from(
            task.outerjoin(dossier, dossier.c.code == task.c.business_key)
        )
    ).all()
    for row in rows:
        variables = row.variables
        if isinstance(variables, str):
            variables = json.loads(variables or "{}")
        variables = variables if isinstance(variables, dict) else {}
        groups = [g for g in (row.candidate_groups or "").split(",") if g]
        tenant = variables.get("current_agency") or variables.get("agency_code") or row.agency_code
        conn.execute(
            sa.update(task)
            .where(task.c.id == row.id)
            .values(
                candidate_group=groups[0] if len(groups) == 1 else None,
                tenant=None if tenant is None else str(tenant),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("wf_user_task", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
        batch_op.drop_column("tenant")
        batch_op.drop_column("candidate_group")
