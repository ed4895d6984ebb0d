"""Where each X polling stream has read up to (``ChannelCursor`` rows).

X's mentions and DM events are read newest first back to the last id handed to the
router; that id is kept per stream so a restart re-reads at most a few items, which the
router's unique ``(channel, external_id)`` turns into no-ops. A cursor never moves
backwards, so a slow hand-over finishing late cannot make the next poll re-read history.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import ChannelCursor, utcnow

MENTIONS_CURSOR = "x:mentions"
DM_CURSOR = "x:dm"


async def load_cursor(engine: AsyncEngine, name: str) -> str | None:
    """Return the stored position of polling stream ``name``, if any."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        row = await session.get(ChannelCursor, name)
        return row.value if row else None


async def save_cursor(engine: AsyncEngine, name: str, value: str) -> None:
    """Store the position of polling stream ``name``; it never moves backwards."""
    async with AsyncSession(engine, expire_on_commit=False) as session:
        row = await session.get(ChannelCursor, name)
        if row is None:
            row = ChannelCursor(name=name, value=value)
        elif int(value) <= int(row.value):
            return
        row.value, row.updated_at = value, utcnow()
        session.add(row)
        await session.commit()
