"""Requests/s of the status page under concurrent load, beside /healthz on the same server.

Usage:
    .venv/bin/python bench/status_page.py [--seconds 10] [--connections 64] [--rounds 3]
        [--incidents 12] [--fixed 25] [--client wrk|aiohttp]

Fills a fresh SQLite database (or ``DATABASE_URL``) with a bad day's incidents (one big
outage over 150 area codes, ``--incidents`` in all with a few updates each, ``--fixed``
fixed in the last week), starts ``outage-bot serve`` as its own process on loopback with
``RASA_URL`` pointing at a closed port (so ``/healthz`` is as cheap as it gets: one
``SELECT 1`` and a refused connection), then loads each path with ``--connections``
concurrent keep-alive connections for ``--seconds``, the paths taking turns for
``--rounds`` rounds (this machine's noise between runs is ±30 %), and prints the median
requests/s and latencies per path and each path's ratio to ``/healthz``.

The client is ``wrk`` (``apt-get install wrk``) when installed, else an aiohttp client in
this process (which then competes with the server for the CPUs, so its figures are
lower). Also prints what a change of incidents costs: reading them again and rendering
the page, JSON and feed once.

Target (issue 17): /status and /api/status at least half of /healthz's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_throughput import percentile, start_app, stop_app, wait_for_app
from bot.db import create_engine, migrate
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import IncidentStatus, utcnow
from bot.settings import Settings
from bot.status import page
from bot.status.board import StatusBoard
from bot.status.feed import atom_feed, status_json
from tests.scratch import free_port

PATHS = [
    ("/healthz", {}),
    ("/status", {}),
    ("/status", {"Accept-Encoding": "gzip"}),
    ("/api/status", {}),
    ("/status/feed.atom", {}),
    ("/status/area/020", {}),
    ("/status?q=LS1+4AP", {}),
]
DEAD_RASA = "http://127.0.0.1:9"


async def seed(database_url: str, incidents: int, fixed: int) -> None:
    """A bad day: one outage over 150 codes, smaller ones, and a week of fixed ones."""
    await migrate(database_url)
    engine = create_engine(database_url)
    settings = Settings()
    locator = Locator.from_data(settings.data_dir)
    book = Incidents(engine, locator)
    rng = random.Random(17)
    codes = sorted(locator.area_codes)
    now = utcnow()
    try:
        for number in range(incidents + fixed):
            started = now - timedelta(hours=rng.uniform(1, 6 * 24 if number >= incidents else 8))
            areas = rng.sample(codes, 150 if number == 0 else rng.randint(1, 20))
            record = await book.create(
                title=f"Broadband and phone outage {number + 1}",
                areas=areas,
                services=["broadband", "phone"],
                cause="a power failure at a partner's site",
                now=started,
            )
            reference = record.incident.reference
            for step, status in enumerate(
                (IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING), start=1
            ):
                await book.update(
                    reference,
                    status=status,
                    eta=now + timedelta(hours=rng.uniform(1, 12)),
                    now=started + timedelta(minutes=20 * step),
                )
            if number >= incidents:
                await book.resolve(reference, now=started + timedelta(hours=1))
    finally:
        await engine.dispose()


async def change_cost(database_url: str, rounds: int = 20) -> float:
    """Median ms to read the incidents again and render the page, JSON and feed once."""
    settings = Settings()
    engine = create_engine(database_url)
    locator = Locator.from_data(settings.data_dir)
    book = Incidents(engine, locator)
    times = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            snapshot = await StatusBoard(engine, book, locator).current()
            listing = page.listing(snapshot.incidents, settings.tz)
            page.status_page(snapshot, settings.tz, listing).encode()
            status_json(snapshot, "https://example.com")
            atom_feed(snapshot, "https://example.com", settings.tz)
            times.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return statistics.median(times) * 1000


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    """A wrk duration ("812.00us", "3.10ms", "1.20s", "1.01m") in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if found is None:
        raise RuntimeError(f"cannot read wrk's duration {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _percentile(output: str, share: int) -> str:
    """One line of wrk's latency distribution ("    99%   12.30ms")."""
    found = re.search(rf"^\s+{share}%\s+(\S+)$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {share}% latency in wrk's output:\n{output}")
    return found.group(1)


async def with_wrk(
    url: str, headers: dict[str, str], seconds: int, connections: int
) -> tuple[float, float, float]:
    """Requests/s, p50 and p99 ms from one ``wrk`` run; refuses runs with errors."""
    options = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    process = await asyncio.create_subprocess_exec(
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        *options,
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    output = (await process.communicate())[0].decode()
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"{url} failed under load:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50, p99 = (_ms(_percentile(output, share)) for share in (50, 99))
    return rate, p50, p99


async def with_aiohttp(
    url: str, headers: dict[str, str], seconds: int, connections: int
) -> tuple[float, float, float]:
    """The same measurement from this process, for machines without ``wrk``."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url} answered {response.status}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return (
        len(latencies) / seconds,
        percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=12)
    parser.add_argument("--fixed", type=int, default=25)
    parser.add_argument("--client", choices=["wrk", "aiohttp"], default=None)
    args = parser.parse_args()
    client = args.client or ("wrk" if shutil.which("wrk") else "aiohttp")
    load = with_wrk if client == "wrk" else with_aiohttp
    var = Path(tempfile.mkdtemp(prefix="outage-bench-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'bench.db'}"
    await seed(database_url, args.incidents, args.fixed)
    print(
        f"# {time.strftime('%Y-%m-%d')} {platform.node()} {os.cpu_count()} cores, "
        f"{database_url.split(':')[0]}, client {client}, {args.connections} connections, "
        f"{args.seconds} s x {args.rounds} rounds per path; {args.incidents} active and "
        f"{args.fixed} fixed incidents"
    )
    print(
        f"change of incidents: read again and render page, JSON, feed: "
        f"{await change_cost(database_url):.1f} ms"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = await start_app(database_url, port, DEAD_RASA, var)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_for_app(session, f"{base}/healthz")
            for path, headers in PATHS:  # warm each representation once
                async with session.get(base + path, headers=headers) as response:
                    await response.read()
        runs: dict[int, list[tuple[float, float, float]]] = {i: [] for i in range(len(PATHS))}
        for _ in range(args.rounds):
            for index, (path, headers) in enumerate(PATHS):
                runs[index].append(
                    await load(base + path, headers, args.seconds, args.connections)
                )
    finally:
        await stop_app(app)
    healthz = statistics.median(rate for rate, _, _ in runs[0])
    print(f"{'path':<28} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'vs /healthz':>11}")
    for index, (path, headers) in enumerate(PATHS):
        rate = statistics.median(r for r, _, _ in runs[index])
        p50 = statistics.median(p for _, p, _ in runs[index])
        p99 = statistics.median(p for _, _, p in runs[index])
        label = path + (" (gzip)" if headers else "")
        print(f"{label:<28} {rate:>8.0f} {p50:>7.1f} {p99:>7.1f} {rate / healthz:>10.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
