"""The fake Bot API server and the rig around one channel (:mod:`tests.channels.telegram.rig`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inbox.store import Inbox
from bot.responses.store import ResponseStore
from tests.channels.telegram.rig import SETTINGS, Rig, ScriptedBrain
from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def rig(fake: FakeTelegram, engine: AsyncEngine, inbox: Inbox) -> AsyncIterator[Rig]:
    responses = await ResponseStore.open(engine, SETTINGS.data_dir)
    rig = Rig(fake, engine, inbox, ScriptedBrain(), responses)
    yield rig
    for channel in rig.channels:
        with contextlib.suppress(Exception):
            await channel.stop()
