"""Our own cost per web-chat message: POST /api/chat with a Rasa that costs nothing.

Usage:
    .venv/bin/python bench/chat_overhead.py [--messages 1000] [--concurrency 1,8,64]

Starts ``outage-bot serve --demo`` as its own process on loopback, with RASA_URL pointing
at a fake Rasa served from this process (two fixed texts for every message, a model in
``/status``), and a fresh SQLite database under a temporary folder (or DATABASE_URL).
Then, at each concurrency level, simulated customers send the same 5-message
conversations as ``bench/chat_throughput.py`` through ``POST /api/chat``. With Rasa out
of the way, what is left is the app: HTTP, the router, the database. Prints messages/s,
p50 and p99 latency, and the CPU time per message (user + system, from /proc) of the app
process and, with a PostgreSQL on this machine, of its processes: together the figure
that decides how close we get to Rasa's own REST channel when the cores are busy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_throughput import client, heading, run_path, start_app, stop_app, wait_for_app
from tests.scratch import free_port

FAKE_TEXTS = ["Sorry, there is a problem in your area.", "We expect it fixed by 6pm."]


async def rasa_rest(request: web.Request) -> web.Response:
    sender = (await request.json())["sender"]
    return web.json_response([{"recipient_id": sender, "text": text} for text in FAKE_TEXTS])


async def rasa_status(request: web.Request) -> web.Response:
    return web.json_response({"model_file": "models/fake.tar.gz"})


async def fake_rasa(port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa_rest)
    app.router.add_get("/status", rasa_status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_seconds() -> float:
    """CPU time so far of this machine's PostgreSQL processes (server, backends, WAL writer).

    Its CPU is taken from the same cores as Rasa's, so it counts against our path as
    much as the app's own; 0 where no PostgreSQL runs here (SQLite).
    """
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if "(postgres)" in text:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # the process ended while we looked
    return total


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--concurrency", default="1,8,64")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]

    var = Path(tempfile.mkdtemp(prefix="outage-overhead-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'bench.db'}"
    app_port, rasa_port = free_port(), free_port()
    rasa = await fake_rasa(rasa_port)
    app = await start_app(database_url, app_port, f"http://127.0.0.1:{rasa_port}", var)
    chat = [f"http://127.0.0.1:{app_port}/api/chat"]
    try:
        async with client() as session:
            await wait_for_app(session, f"http://127.0.0.1:{app_port}/healthz")
            print(heading(database_url, args.messages) + ", fake Rasa")
            print("concurrency | msg/s | p50 ms | p99 ms | app CPU ms/msg | PostgreSQL CPU ms/msg")
            await run_path(session, chat, False, 100, 4)
            for level in levels:
                cpu, database = cpu_seconds(app.pid), postgres_seconds()
                started = time.perf_counter()
                rate, p50, p99 = await run_path(session, chat, False, args.messages, level)
                sent = rate * (time.perf_counter() - started)
                app_ms = (cpu_seconds(app.pid) - cpu) / sent * 1000
                database_ms = (postgres_seconds() - database) / sent * 1000
                print(
                    f"{level} | {rate:.1f} | {p50 * 1000:.1f} | {p99 * 1000:.1f} "
                    f"| {app_ms:.2f} | {database_ms:.2f}"
                )
    finally:
        await stop_app(app)
        await rasa.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
