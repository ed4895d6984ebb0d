"""The audit trail: who did what to what, and when.

Sign-ins, taking over and answering customers, transcript reads, and changes to
incidents, canned responses and users are recorded.

Entries are only ever added; admins read them at ``/api/audit`` and on the users page.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import AuditEntry


class Action(StrEnum):
    """What was done; stored as the string."""

    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    PASSWORD_CHANGED = "password_changed"
    CLAIM = "claim"
    REPLY = "reply"
    RELEASE = "release"
    CLOSE = "close"
    TRANSCRIPT_READ = "transcript_read"
    INCIDENT_CREATED = "incident_created"
    INCIDENT_CHANGED = "incident_changed"
    RESPONSE_EDITED = "response_edited"
    MACRO_CREATED = "macro_created"
    MACRO_DELETED = "macro_deleted"
    USER_ADDED = "user_added"
    USER_CHANGED = "user_changed"
    PASSWORD_RESET = "password_reset"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"


async def record(
    engine: AsyncEngine, actor: str, action: Action, target: str = "", detail: str = ""
) -> None:
    """Add one entry; ``target`` names what was acted on, ``detail`` anything more."""
    async with AsyncSession(engine) as session:
        session.add(
            AuditEntry(actor=actor[:80], action=action, target=target[:120], detail=detail[:300])
        )
        await session.commit()


async def entries(
    engine: AsyncEngine,
    limit: int = 200,
    before: int | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """The newest entries first, ``limit`` at most, older than entry ``before`` if given."""
    statement = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if before is not None:
        statement = statement.where(col(AuditEntry.id) < before)
    if actor:
        statement = statement.where(AuditEntry.actor == actor)
    if action:
        statement = statement.where(AuditEntry.action == action)
    async with AsyncSession(engine) as session:
        rows = (await session.exec(statement)).all()
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "target": row.target,
            "detail": row.detail,
        }
        for row in rows
    ]
