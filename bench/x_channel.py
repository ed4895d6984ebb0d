"""Messages/s the X adapter sustains against the fake X API v2: mentions in, replies out.

Usage:
    .venv/bin/python bench/x_channel.py [--messages 500] [--customers 100] [--poll 0.2]
        [--scratch-database postgresql://postgres@127.0.0.1/outage_bot_bench]

Starts the fake X API (tests/fakes/x_api.py) on loopback and a fresh, migrated SQLite
database in a temporary folder (or ``--scratch-database URL``, which the bench EMPTIES
before each case: never point it at real data), then runs the real XChannel with the
real router and outbox. The brain answers at once with a fixed sentence, so the numbers
are the channel's own cost (tweepy requests, router writes, outbox claims and marks),
not Rasa's; bench/chat_throughput.py measures the brain.

For each case it injects N customer messages, starts the adapter and times until every
reply is on the fake API and marked sent in the outbox:

  * mentions -> one public reply each
  * DMs      -> one DM each
  * mentions whose reply is a three-tweet thread (three posts per message)
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
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.x.channel import XChannel
from bot.conversations.locks import LocalLocks
from bot.conversations.router import ConversationRouter
from bot.db import create_engine, migrate
from bot.delivery.outbox import Outbox
from bot.inbox.store import open_inbox
from bot.messages import Channel
from bot.models import Message
from bot.responses.store import ResponseStore
from bot.settings import ROOT
from tests.fakes.x_api import FakeXApi, x_settings
from tests.scratch import empty_tables

SHORT = "Sorry, there's a broadband fault in Manchester (0161). We expect it fixed by 17:30."
LONG = " ".join([SHORT] * 8)  # about 690 characters: a 3-tweet thread


class InstantBrain:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        return [self.answer]


async def run_case(
    database_url: str, kind: str, messages: int, customers: int, poll: float
) -> tuple[float, int]:
    engine = create_engine(database_url)
    await empty_tables(engine)
    fake = FakeXApi()
    await fake.start()
    try:
        async with open_inbox(engine) as inbox:
            wake = asyncio.Event()
            responses = await ResponseStore.open(engine, ROOT / "data")
            brain = InstantBrain(LONG if kind == "threads" else SHORT)
            router = ConversationRouter(
                engine, inbox, brain, responses, LocalLocks(), wake=lambda c: wake.set()
            )
            settings = x_settings(fake.base_url, poll)
            for i in range(messages):
                customer = str(5000 + i % customers)
                if kind == "dms":
                    fake.dm(customer, f"no dial tone on 0161, message {i}")
                else:
                    fake.mention(customer, f"broadband down in 0161? message {i}")
            channel = XChannel(settings, router, Outbox(engine), engine, responses, wake)
            started = time.perf_counter()
            await channel.start()
            try:
                while True:
                    async with AsyncSession(engine) as session:
                        query = select(func.count()).where(
                            Message.direction == "out",
                            Message.channel == Channel.X.value,
                            Message.state == "sent",
                        )
                        sent = (await session.exec(query)).one()
                    if sent >= messages:
                        break
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
            finally:
                await channel.stop()
            posts = len(fake.our_tweets()) + len(fake.our_dms())
            return elapsed, posts
    finally:
        await fake.close()
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--poll", type=float, default=0.2, help="X_POLL_SECONDS for the run")
    parser.add_argument("--scratch-database", help="a database URL the bench may empty")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{args.messages} messages from {args.customers} customers, poll {args.poll}s")
    print(f"{'case':<10} {'database':<10} {'seconds':>8} {'msg/s':>8} {'posts/s':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("mentions", "dms", "threads"):
            url = args.scratch_database or f"sqlite:///{Path(folder) / kind}.db"
            await migrate(url)
            elapsed, posts = await run_case(url, kind, args.messages, args.customers, args.poll)
            database = url.split(":", 1)[0]
            print(
                f"{kind:<10} {database:<10} {elapsed:>8.2f} "
                f"{args.messages / elapsed:>8.1f} {posts / elapsed:>8.1f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
