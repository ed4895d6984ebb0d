"""Database cost of the conversation router and the outbox, without Rasa.

Usage:
    .venv/bin/python bench/router_throughput.py [--messages 500] [--customers 50]
        [--concurrency 1,8] [--db sqlite,postgresql]

For each database (a fresh SQLite file in a temporary folder; a scratch PostgreSQL
database ``outage_bot_bench_router`` on 127.0.0.1, dropped afterwards) this migrates the
schema, opens the real ResponseStore, and pushes ``--messages`` Telegram messages from
``--customers`` customers through ``ConversationRouter.handle`` with an instant brain
that returns two texts, at each concurrency level. Then it delivers every queued reply
with ``Outbox.claim`` + ``mark_sent`` (batches of 20, as the delivery loop does).
Prints messages/s (replies/s for the outbox) and p50/p99 latency per call.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch_databases import LABELS, scratch_database
from bot.conversations.locks import LocalLocks
from bot.conversations.router import ConversationRouter
from bot.db import create_engine, migrate
from bot.delivery.outbox import Outbox
from bot.inbox.store import open_inbox
from bot.messages import Channel, Inbound
from bot.models import Message
from bot.responses.store import ResponseStore
from bot.settings import Settings

PG_DB = "outage_bot_bench_router"


class InstantBrain:
    """Answers at once with two texts, so only our own work is timed."""

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        return [f"You said: {text}", "Anything else?"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, count: int, elapsed: float, latencies: list[float], unit: str) -> None:
    print(
        f"  {label:<28} {count / elapsed:8.1f} {unit}/s   "
        f"p50 {percentile(latencies, 0.5) * 1000:7.2f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:7.2f} ms"
    )


async def route(
    router: ConversationRouter, run: int, messages: int, customers: int, concurrency: int
) -> None:
    inbounds = [
        Inbound(
            channel=Channel.TELEGRAM,
            external_user_id=f"bench-{i % customers}",
            text=f"is broadband down in 0161? ({run}-{i})",
            external_id=f"r{run}-m{i}",
            display_name=f"Customer {i % customers}",
        )
        for i in range(messages)
    ]
    queue: asyncio.Queue[Inbound] = asyncio.Queue()
    for inbound in inbounds:
        queue.put_nowait(inbound)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            inbound = queue.get_nowait()
            started = time.perf_counter()
            handled = await router.handle(inbound)
            latencies.append(time.perf_counter() - started)
            assert len(handled.replies) == 2, handled

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    line(
        f"router.handle c={concurrency}", messages, time.perf_counter() - started, latencies, "msg"
    )


async def pending(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        query = select(func.count()).where(Message.direction == "out", Message.state == "pending")
        return int((await session.exec(query)).one())


async def deliver(engine: AsyncEngine) -> None:
    outbox = Outbox(engine)
    total = await pending(engine)
    latencies: list[float] = []
    sent = 0
    started = time.perf_counter()
    while True:
        begun = time.perf_counter()
        batch = await outbox.claim(Channel.TELEGRAM, 20)
        if not batch:
            break
        for outbound in batch:
            await outbox.mark_sent(outbound.message_id, f"t{outbound.message_id}")
        latencies.append(time.perf_counter() - begun)
        sent += len(batch)
    elapsed = time.perf_counter() - started
    assert sent == total and await pending(engine) == 0, (sent, total)
    line(f"outbox claim+sent ({total})", sent, elapsed, latencies or [0.0], "reply")
    print("    (latency is per batch of 20)")


async def bench(url: str, label: str, messages: int, customers: int, levels: list[int]) -> None:
    await migrate(url)
    engine = create_engine(url)
    try:
        async with open_inbox(engine) as inbox:
            responses = await ResponseStore.open(engine, Settings().data_dir)
            router = ConversationRouter(engine, inbox, InstantBrain(), responses, LocalLocks())
            print(f"{label}:")
            for run, concurrency in enumerate(levels):
                await route(router, run, messages, customers, concurrency)
                await deliver(engine)
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    for db in args.db.split(","):
        async with scratch_database(db, PG_DB) as url:
            await bench(url, LABELS[db], args.messages, args.customers, levels)


if __name__ == "__main__":
    asyncio.run(main())
