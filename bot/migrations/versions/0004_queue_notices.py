"""queue notices (escalation.queue_notices, queue_noticed_at) and the dashboard's index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 02:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("queue_notices", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("queue_noticed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_channel_updated", ["channel", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_channel_updated")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_column("queue_noticed_at")
        batch_op.drop_column("queue_notices")
