"""chat identity: web-chat customers hold a secret issued by the server

Web conversations from before get an identity whose digest no secret has (empty), so
nobody can take them over by knowing the sender name; their customers start a new chat.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_identity",
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("first_message", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("sender"),
    )
    op.execute(
        "INSERT INTO chat_identity (sender, secret_hash, first_message, created_at, confirmed_at) "
        "SELECT external_user_id, '', NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        "FROM conversation WHERE channel = 'web'"
    )


def downgrade() -> None:
    op.drop_table("chat_identity")
