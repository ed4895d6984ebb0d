"""Rasa's throughput with its conversations in Redis (scaled out) beside in its memory.

Usage:
    .venv/bin/python bench/rasa_tracker_store.py [--messages 400] [--concurrency 8,64]
        [--rounds 3] [--redis-url redis://127.0.0.1:6379/11]

Starts two real Rasa servers with the trained model, alike but for the tracker store:
one keeps conversations in memory (``ExpiringTrackerStore``, the embedded default),
the other in Redis with Rasa's Redis lock store (``SharedTrackerStore``, what ``serve``
generates when ``REDIS_URL`` is set). Both call the same ``outage-bot serve --demo`` for
actions and NLG. For each concurrency level the same conversations
(``bench/chat_throughput.py``'s) go straight to each server's REST channel, the two
taking turns for ``--rounds`` runs each; prints messages/s, p50 and p99 of the median
run and the ratio Redis / memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.chat_throughput import (
    client,
    heading,
    median_run,
    prepared,
    run_path,
    start_app,
    stop_app,
    wait_for_app,
)
from bot.rasa.process import RasaProcess, stop_children
from tests.scratch import free_ports


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--concurrency", default="8,64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    base, var, app_port = prepared()
    app_url = f"http://127.0.0.1:{app_port}"
    ports = free_ports(2)
    stores = {
        "memory": RasaProcess(
            replace(base, var_dir=var / "memory", rasa_port=ports, redis_url=None), app_url, 0
        ),
        "redis": RasaProcess(
            replace(base, var_dir=var / "redis", rasa_port=ports, redis_url=args.redis_url),
            app_url,
            1,
        ),
    }
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'bench.db'}"
    for rasa in stores.values():
        await rasa.start()
    app = await start_app(database_url, app_port, stores["memory"].url, var)
    paths = {name: [f"{rasa.url}/webhooks/rest/webhook"] for name, rasa in stores.items()}
    try:
        async with client() as session:
            for rasa in stores.values():
                await rasa.wait_ready(session, within=900)  # a busy machine loads slowly
            await wait_for_app(session, f"{app_url}/healthz")
            print(heading(database_url, args.messages) + ", 1 Rasa per tracker store")
            print("concurrency | tracker store | msg/s | p50 ms | p99 ms")
            for urls in paths.values():  # warm-up
                await run_path(session, urls, True, 50, 4)
            for level in levels:
                runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in paths}
                for round_ in range(args.rounds):
                    # Taking turns, each first in every other round: neither gets the
                    # machine's quieter moments more often.
                    order = list(paths) if round_ % 2 == 0 else list(paths)[::-1]
                    for name in order:
                        runs[name].append(
                            await run_path(session, paths[name], True, args.messages, level)
                        )
                for name, measured in runs.items():
                    rate, p50, p99 = median_run(measured)
                    print(f"{level} | {name} | {rate:.1f} | {p50 * 1000:.0f} | {p99 * 1000:.0f}")
                ratio = median_run(runs["redis"])[0] / median_run(runs["memory"])[0]
                print(f"{level} | redis / memory | {ratio:.2f}x | |")
    finally:
        await stop_app(app)
        await stop_children(list(stores.values()))


if __name__ == "__main__":
    asyncio.run(main())
