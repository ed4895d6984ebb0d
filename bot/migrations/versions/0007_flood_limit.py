"""flood limit: an index of each conversation's inbound messages by time

Messages over the limit are stored with the state ``flooded``, a new value of a plain
string column: no change there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_message_conversation_recent",
        "message",
        ["conversation_id", "direction", "created_at"],
        unique=False,
        sqlite_where=sa.text("direction = 'in'"),
        postgresql_where=sa.text("direction = 'in'"),
    )


def downgrade() -> None:
    op.drop_index("ix_message_conversation_recent", table_name="message")
