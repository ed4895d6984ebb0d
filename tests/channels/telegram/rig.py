"""One Telegram channel wired to the real router and outbox, against the fake Bot API.

Shared by the channel's and the webhook's tests; the fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.canned import CannedReplies
from bot.channels.telegram.channel import TelegramChannel
from bot.conversations.locks import LocalLocks
from bot.conversations.router import ConversationRouter
from bot.delivery.outbox import Outbox
from bot.inbox.store import Inbox
from bot.locations.nearest_town import NearestTown
from bot.models import Message
from bot.responses.store import ResponseStore
from bot.settings import Secret, Settings
from tests.fakes.telegram_api import FakeTelegram
from tests.scratch import QUICK

CHAT = 424242
VOICE = {"file_id": "v1", "file_unique_id": "u3", "duration": 3}
SETTINGS = Settings()


class ScriptedBrain:
    """Stands in for Rasa in adapter tests: echoes, or answers what a test scripted."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.answers: dict[str, list[str]] = {}
        self.hold: asyncio.Event | None = None  # when set up, answers wait for it

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        self.heard.append(text)
        if self.hold is not None:
            await self.hold.wait()
        return self.answers.get(text, [f"You said: {text}"])


@dataclass
class Rig:
    """One Telegram channel wired to the real router and outbox, and its fake server."""

    fake: FakeTelegram
    engine: AsyncEngine
    inbox: Inbox
    brain: ScriptedBrain
    responses: ResponseStore
    channels: list[TelegramChannel] = field(default_factory=list)

    def channel(self, **kwargs: Any) -> TelegramChannel:
        """Build a channel (a new "process") with the shared database and server."""
        settings_overrides = {
            key: kwargs.pop(key) for key in ("telegram_webhook_url",) if key in kwargs
        }
        settings = Settings(
            telegram_bot_token=Secret(self.fake.token),
            telegram_api_url=self.fake.api_url,
            telegram_webhook_secret=Secret("s3cret-token_OK"),
            **settings_overrides,
        )
        wake = asyncio.Event()
        router = ConversationRouter(
            self.engine,
            self.inbox,
            self.brain,
            self.responses,
            LocalLocks(),
            wake=lambda c: wake.set(),
        )
        canned = CannedReplies(self.inbox, self.responses, wake=lambda c: wake.set())
        kwargs.setdefault("poll_timeout", 1.0)
        kwargs.setdefault("backoff", QUICK)
        kwargs.setdefault("outbox_poll_seconds", 0.05)
        kwargs.setdefault("towns", NearestTown.load(SETTINGS.data_dir / "town_coordinates.csv"))
        channel = TelegramChannel(
            settings, router, Outbox(self.engine, backoff=QUICK), canned, wake=wake, **kwargs
        )
        self.channels.append(channel)
        return channel

    async def messages(self, direction: str) -> list[Message]:
        async with AsyncSession(self.engine) as session:
            query = select(Message).where(Message.direction == direction).order_by(col(Message.id))
            return list((await session.exec(query)).all())


@contextlib.asynccontextmanager
async def running(channel: TelegramChannel) -> AsyncIterator[TelegramChannel]:
    await channel.start()
    async with asyncio.timeout(10):
        await channel.ready.wait()
    try:
        yield channel
    finally:
        await channel.stop()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Wait until ``check()`` holds (a database state has no event to wait on)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def settle(seconds: float = 0.3) -> None:
    """Give the channel time to do something it should not do."""
    await asyncio.sleep(seconds)
