"""surge: hand-offs know their area and incident; answers to everyone waiting about one

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 02:08:48.978231
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ESCALATION_INCIDENT = "fk_escalation_incident_id_incident"

# Hand-offs still waiting learn their area and incident from the customer's latest report
# (what the outage check found), the best the database knew before this revision.
_LATEST_REPORT = (
    "(SELECT report.{column} FROM report WHERE report.conversation_id = "
    "escalation.conversation_id ORDER BY report.id DESC LIMIT 1)"
)


def upgrade() -> None:
    op.create_table(
        "bulk_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("conversations", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "idempotency_key"),
    )
    with op.batch_alter_table("bulk_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulk_answer_incident_id"), ["incident_id"], unique=False
        )

    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)
        )
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(_ESCALATION_INCIDENT, "incident", ["incident_id"], ["id"])
    op.execute(
        f"UPDATE escalation SET area_code = {_LATEST_REPORT.format(column='area_code')}, "
        f"incident_id = {_LATEST_REPORT.format(column='incident_id')} "
        "WHERE state != 'closed'"
    )


def downgrade() -> None:
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_constraint(_ESCALATION_INCIDENT, type_="foreignkey")
        batch_op.drop_column("incident_id")
        batch_op.drop_column("area_code")

    with op.batch_alter_table("bulk_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_answer_incident_id"))

    op.drop_table("bulk_answer")
