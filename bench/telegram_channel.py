"""Messages/s the Telegram adapter sustains against the fake Bot API: updates in, replies out.

Usage:
    .venv/bin/python bench/telegram_channel.py [--messages 600] [--chats 150]
        [--scratch-database postgresql://postgres@127.0.0.1/outage_bot_bench]

Starts the fake Bot API (tests/fakes/telegram_api.py) on loopback and a fresh, migrated
SQLite database in a temporary folder (or ``--scratch-database URL``, which the bench
EMPTIES before each case: never point it at real data), then runs the real
TelegramChannel (python-telegram-bot 22, long polling) with the real router, outbox and
canned response store. The brain answers at once with a fixed sentence, so the numbers
are the channel's own cost (getUpdates, router writes, outbox claims and marks,
sendMessage), not Rasa's; bench/chat_throughput.py measures the brain.

For each case it queues N customer messages from C chats, starts the adapter and times
(a) until every message is stored in the inbox and (b) until every reply is on the fake
server and marked sent in the outbox:

  * telegram limits: PTB's AIORateLimiter with Telegram's own limit (30 messages/s), as
    in production, so this is the rate a real bot can answer at
  * limiter off: the same with the flood limit lifted, the adapter's own ceiling
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import AIORateLimiter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.canned import CannedReplies
from bot.channels.telegram.channel import TelegramChannel
from bot.conversations.locks import LocalLocks
from bot.conversations.router import ConversationRouter
from bot.db import create_engine, migrate
from bot.delivery.outbox import Outbox
from bot.inbox.store import open_inbox
from bot.models import Message
from bot.responses.store import ResponseStore
from bot.settings import ROOT, Secret, Settings
from tests.fakes.telegram_api import FakeTelegram
from tests.scratch import empty_tables


class InstantBrain:
    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        return ["Sorry, there is a known fault in your area. Engineers are on it."]


async def count(engine: AsyncEngine, direction: str, state: str | None = None) -> int:
    async with AsyncSession(engine) as session:
        query = select(func.count()).select_from(Message).where(Message.direction == direction)
        if state is not None:
            query = query.where(Message.state == state)
        return int((await session.exec(query)).one())


async def run_case(
    url: str, name: str, limiter: AIORateLimiter, messages: int, chats: int, concurrency: int
) -> tuple[float, float]:
    engine = create_engine(url)
    await empty_tables(engine)
    fake = FakeTelegram()
    await fake.start()
    try:
        async with open_inbox(engine) as inbox:
            for n in range(messages):
                chat = 10_000 + n % chats
                await fake.inject(fake.message(chat, f"is broadband down in 0161? ({n})"))
            responses = await ResponseStore.open(engine, ROOT / "data")
            wake = asyncio.Event()
            router = ConversationRouter(
                engine, inbox, InstantBrain(), responses, LocalLocks(), wake=lambda c: wake.set()
            )
            settings = Settings(
                telegram_bot_token=Secret(fake.token), telegram_api_url=fake.api_url
            )
            channel = TelegramChannel(
                settings,
                router,
                Outbox(engine),
                CannedReplies(inbox, responses, wake=lambda c: wake.set()),
                wake=wake,
                rate_limiter=limiter,
                poll_timeout=1.0,
                concurrency=concurrency,
            )
            started = time.perf_counter()
            await channel.start()
            stored_at = 0.0
            while True:
                if not stored_at and await count(engine, "in") >= messages:
                    stored_at = time.perf_counter() - started
                if await count(engine, "out", "sent") >= messages:
                    break
                await asyncio.sleep(0.05)
            done = time.perf_counter() - started
            await channel.stop()
            assert len(fake.sent) == messages, (len(fake.sent), messages)
            print(
                f"{name:<16} {messages / stored_at:>10.0f} {messages / done:>10.1f} {done:>8.2f}",
                flush=True,
            )
            return messages / stored_at, messages / done
    finally:
        await fake.close()
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--chats", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--scratch-database", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.scratch_database or f"sqlite:///{folder}/bench.db"
        await migrate(url)
        backend = url.split(":", 1)[0]
        print(
            f"python-telegram-bot 22 against the fake Bot API; {args.messages} messages from "
            f"{args.chats} chats; {backend}; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs"
        )
        print(f"{'case':<16} {'stored/s':>10} {'replied/s':>10} {'total s':>8}")
        await run_case(
            url,
            "telegram limits",
            AIORateLimiter(max_retries=2),
            args.messages,
            args.chats,
            args.concurrency,
        )
        await run_case(
            url,
            "limiter off",
            AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=2),
            args.messages,
            args.chats,
            args.concurrency,
        )


if __name__ == "__main__":
    asyncio.run(main())
