"""Time the customer's incident lookup (area code -> active incidents) with 100,000 incidents.

Usage:
    .venv/bin/python bench/incident_lookup.py [--incidents 100000] [--lookups 20000]
        [--sqlite PATH] [--postgres URL] [--skip-postgres]

Fills a SQLite file and a PostgreSQL database (created/emptied; default
``outage_bot_bench`` on the local server) with incidents spread over every area code
(1% still open, the rest resolved over the past year), then times, over random area
codes:

- ``db query``: one indexed query per lookup (``bot.incidents.book.query_active_for``);
- ``index``: ``AreaIndex.active_for`` on the live in-memory index, checking the database
  for changes inline once a second (no ``watch`` task running);
- ``watched``: the same with ``AreaIndex.watch()`` running, as the service runs it: lookups
  never wait for the database;
- ``check``: one change check (what each worker pays once a second);
- ``reload``: one rebuild of the index (paid only when incidents change).

Target (issue 2): lookup <= 1 ms p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import delete, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import create_engine, migrate, safe_url
from bot.incidents.book import Incidents
from bot.incidents.index import query_active_for
from bot.locations.areas import read_area_codes
from bot.locations.locator import Locator
from bot.models import Incident, IncidentArea, TimelineEntry, utcnow
from bot.settings import ROOT, Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def recreate_pg(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def rows(count: int, codes: list[str], seed: int = 7) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    now = utcnow()
    incidents: list[dict] = []
    areas: list[dict] = []
    for number in range(1, count + 1):
        started = now - timedelta(minutes=rng.randrange(60, 365 * 24 * 60))
        active = rng.random() < 0.01
        resolved = None if active else started + timedelta(minutes=rng.randrange(30, 2 * 24 * 60))
        if resolved is not None and resolved > now:
            resolved = now - timedelta(minutes=rng.randrange(1, 600))
        incidents.append(
            {
                "id": number,
                "reference": f"INC-BENCH-{number:06d}",
                "title": f"Bench incident {number}",
                "cause": "a bench fault",
                "services": "broadband,phone",
                "status": "investigating" if active else "resolved",
                "started_at": started,
                "updated_at": resolved or started,
                "resolved_at": resolved,
                "eta": None,
            }
        )
        for code in rng.sample(codes, rng.randint(1, 4)):
            areas.append({"incident_id": number, "area_code": code})
    return incidents, areas


async def populate(url: str, incidents: list[dict], areas: list[dict]) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        for table in (TimelineEntry, IncidentArea, Incident):
            await conn.execute(delete(table))
        for start in range(0, len(incidents), 5000):
            await conn.execute(insert(Incident), incidents[start : start + 5000])
        for start in range(0, len(areas), 10000):
            await conn.execute(insert(IncidentArea), areas[start : start + 10000])
        if engine.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT setval('incident_id_seq', (SELECT max(id) FROM incident))")
            )
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return (
        f"  {name:<10} n={len(samples):>6}  median {statistics.median(ordered) * 1e6:8.1f} µs"
        f"  p99 {p99 * 1e6:8.1f} µs  max {ordered[-1] * 1e6:8.1f} µs"
    )


async def timed_lookups(book: Incidents, picks: list[str]) -> tuple[list[float], int]:
    """Look up ``picks`` for at least 2.5 s, so once-a-second refreshes are included."""
    samples: list[float] = []
    found = 0
    deadline = time.perf_counter() + 2.5
    while len(samples) < len(picks) or time.perf_counter() < deadline:
        code = picks[len(samples) % len(picks)]
        started = time.perf_counter()
        found += len(await book.index.active_for(code))
        samples.append(time.perf_counter() - started)
        if len(samples) % 1000 == 0:
            await asyncio.sleep(0.005)  # let other tasks (the watcher) run, as between messages
    return samples, found


async def measure(url: str, codes: list[str], lookups: int, locator: Locator) -> None:
    engine = create_engine(url)
    rng = random.Random(11)
    picks = [rng.choice(codes) for _ in range(lookups)]
    try:
        for code in picks[:200]:  # warm the pool and the caches
            await query_active_for(engine, code)
        db_samples = []
        for code in picks[: lookups // 10]:
            started = time.perf_counter()
            await query_active_for(engine, code)
            db_samples.append(time.perf_counter() - started)

        book = Incidents(engine, locator, refresh_seconds=1.0)
        refresh_samples = []
        for _ in range(5):
            book.index.invalidate()
            started = time.perf_counter()
            await book.index.active_for(codes[0])
            refresh_samples.append(time.perf_counter() - started)
        check_samples = []
        for _ in range(20):
            started = time.perf_counter()
            await book.index.refresh_if_changed()
            check_samples.append(time.perf_counter() - started)
        inline, found = await timed_lookups(book, picks)
        watcher = asyncio.create_task(book.index.watch())
        watched, _ = await timed_lookups(book, picks)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        print(f"{safe_url(url)}")
        print(summary("db query", db_samples))
        print(summary("index", inline) + f"  (found {found} in total)")
        print(summary("watched", watched))
        print(summary("check", check_samples))
        print(summary("reload", refresh_samples))
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--sqlite", default=str(ROOT / "var" / "bench" / "incidents.db"))
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/outage_bot_bench"
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    settings = Settings()
    codes = sorted(read_area_codes(settings.data_dir))
    locator = Locator.from_data(settings.data_dir)
    incidents, areas = rows(args.incidents, codes)
    open_count = sum(1 for i in incidents if i["resolved_at"] is None)
    print(
        f"{len(incidents)} incidents ({open_count} open), {len(areas)} incident areas, "
        f"{len(codes)} area codes"
    )
    urls = [f"sqlite:///{args.sqlite}"]
    if not args.skip_postgres:
        await recreate_pg(args.postgres)
        urls.append(args.postgres)
    for url in urls:
        await migrate(url)
        started = time.perf_counter()
        await populate(url, incidents, areas)
        print(f"populated {safe_url(url)} in {time.perf_counter() - started:.1f} s")
        await measure(url, codes, args.lookups, locator)


if __name__ == "__main__":
    asyncio.run(main())
