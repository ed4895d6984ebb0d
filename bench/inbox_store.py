"""What the flood limit adds to storing a customer's message: the inbox with and without it.

Usage:
    .venv/bin/python bench/inbox_store.py [--messages 2000] [--customers 100] [--rounds 5]
        [--db sqlite,postgresql]

For each database (a fresh SQLite file in a temporary folder; a scratch PostgreSQL
database ``outage_bot_bench_inbox`` on 127.0.0.1, dropped afterwards) this migrates the
schema and stores ``--messages`` web messages from ``--customers`` customers, one at a
time, through the real inbox (:func:`bot.inbox.store.open_inbox`): once with the flood
limit off (0) and once at the shipped 20, alternating, ``--rounds`` times. Each round's
customers are new and send at most 20 messages, so no message is held back: what is
timed is the count each store now makes. Prints the median wall time per stored message
of each round, and the median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch_databases import LABELS, scratch_database
from bot.db import create_engine, migrate
from bot.inbox.store import open_inbox
from bot.messages import Channel, Inbound
from bot.models import MessageState

PG_DB = "outage_bot_bench_inbox"
LIMITS = (0, 20)


async def one_round(url: str, limit: int, run: int, messages: int, customers: int) -> float:
    """The median wall time, in microseconds, of storing each of ``messages``."""
    engine = create_engine(url)
    times = []
    try:
        async with open_inbox(engine, limit) as inbox:
            for n in range(messages):
                inbound = Inbound(Channel.WEB, f"r{run}-l{limit}-c{n % customers}", "down?")
                started = time.perf_counter()
                received = await inbox.receive(inbound)
                times.append(time.perf_counter() - started)
                assert received is not None and received.message.state == MessageState.RECEIVED
    finally:
        await engine.dispose()
    return statistics.median(times) * 1e6


async def bench(url: str, label: str, messages: int, customers: int, rounds: int) -> None:
    await migrate(url)
    results: dict[int, list[float]] = {limit: [] for limit in LIMITS}
    for run in range(rounds):
        for limit in LIMITS if run % 2 == 0 else reversed(LIMITS):
            results[limit].append(await one_round(url, limit, run, messages, customers))
    print(f"{label}: median wall time per stored message, µs")
    for limit, medians in results.items():
        each = ", ".join(f"{m:.0f}" for m in medians)
        print(f"  flood limit {limit:>2}: {statistics.median(medians):6.0f}   rounds: {each}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    if args.messages > 20 * args.customers:
        raise SystemExit("at most 20 messages per customer: none may be held back")
    for db in args.db.split(","):
        async with scratch_database(db, PG_DB) as url:
            await bench(url, LABELS[db], args.messages, args.customers, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
