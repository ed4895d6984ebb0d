"""staff access: sessions, API tokens of their own, sign-in failures, audit trail

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:30:00

API tokens move out of ``user_account`` into ``api_token`` (so a user may have several,
each with an expiry and a revocation); existing tokens keep working.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("expires_at", _TIME(), nullable=True),
        sa.Column("revoked_at", _TIME(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)
    op.execute(
        "INSERT INTO api_token (user_id, token_hash, created_at) "
        "SELECT id, token_hash, created_at FROM user_account"
    )
    # Altered in place, not through Alembic's batch copy: on SQLite that copy drops the
    # table, and with foreign keys on, dropping it would cascade to the tokens just moved.
    op.drop_index("ix_user_account_token_hash", table_name="user_account")
    op.execute("ALTER TABLE user_account DROP COLUMN token_hash")
    op.add_column(
        "user_account",
        sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "user_account",
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("user_account", sa.Column("last_sign_in_at", _TIME(), nullable=True))

    op.create_table(
        "staff_session",
        sa.Column("id_hash", _TEXT(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.Column("last_seen_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TIME(), nullable=False),
        sa.Column("username", _TEXT(length=80), nullable=False),
        sa.Column("address", _TEXT(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failure_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_failure_username"), ["username"])
        batch_op.create_index(batch_op.f("ix_sign_in_failure_address"), ["address"])

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TIME(), nullable=False),
        sa.Column("actor", _TEXT(length=80), nullable=False),
        sa.Column("action", _TEXT(length=40), nullable=False),
        sa.Column("target", _TEXT(length=120), nullable=False),
        sa.Column("detail", _TEXT(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_action"), ["action"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_entry")
    op.drop_table("sign_in_failure")
    op.drop_table("staff_session")
    for column in ("last_sign_in_at", "disabled", "must_change_password"):
        op.execute(f"ALTER TABLE user_account DROP COLUMN {column}")
    # Nullable now (making it NOT NULL would need the batch copy; see upgrade).
    op.add_column("user_account", sa.Column("token_hash", _TEXT(length=64), nullable=True))
    # A user keeps the newest of their tokens; users without one get an unusable digest.
    op.execute(
        "UPDATE user_account SET token_hash = COALESCE("
        "(SELECT token_hash FROM api_token WHERE api_token.user_id = user_account.id "
        "ORDER BY id DESC LIMIT 1), 'revoked-' || id)"
    )
    op.create_index("ix_user_account_token_hash", "user_account", ["token_hash"], unique=True)
    op.drop_table("api_token")
