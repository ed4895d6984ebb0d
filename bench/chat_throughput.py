"""Messages/s and reply latency through POST /api/chat, beside Rasa's own REST channel.

Usage:
    .venv/bin/python bench/chat_throughput.py [--messages 400] [--concurrency 1,8,64]
        [--rounds 3] [--rasa-processes N] [--paired 1000]

Starts real Rasa servers (trained model from intents/; as many as ``outage-bot serve``
would, one per core, unless told) and ``outage-bot serve --demo`` as its own process on
loopback (so this client's CPU is not counted against the app), with a fresh SQLite
database under a temporary folder (or DATABASE_URL), then
for each concurrency level sends the same mix of realistic messages through

  * our full path: client -> POST /api/chat -> router -> Rasa -> actions/NLG -> reply
  * Rasa's REST channel: client -> POST /webhooks/rest/webhook (same Rasa processes, each
    customer pinned to one as our app pins conversations; same actions and NLG
    endpoints, so Rasa still calls our app for them)

and prints messages/s, p50 and p99 per path: the median of ``--rounds`` runs of each,
the two paths taking turns (this machine's noise between runs is ±30 %); with
``--paired``, also one customer whose conversations alternate between the paths (mean
latencies, so the paths see the same moments of the machine). Each simulated
customer sends a short conversation in order, so the dialogue (forms, slots) is
exercised as in real use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.rasa.brain import server_for
from bot.rasa.process import start_children, stop_children, train
from bot.settings import Settings
from tests.scratch import free_port, free_ports

CONVERSATION = [
    "hi",
    "broadband down in 0161?",
    "when will it be fixed?",
    "any outage in leeds",
    "thanks",
]


async def start_app(
    database_url: str, port: int, rasa_url: str, var: Path
) -> asyncio.subprocess.Process:
    """``outage-bot serve --demo`` as its own process, logging to ``var``/app.log."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--demo",
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "OUTAGE_BOT_PORT": str(port),
            "RASA_URL": rasa_url,
        },
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(var / "app.log").open("wb"),
    )


async def stop_app(app: asyncio.subprocess.Process) -> None:
    app.terminate()
    await app.wait()


def client() -> aiohttp.ClientSession:
    """One client for every simulated customer, with room for the highest concurrency."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))


def heading(database_url: str, messages: int) -> str:
    return (
        f"# {time.strftime('%Y-%m-%d')} {platform.node()} {os.cpu_count()} cores, "
        f"{database_url.split(':')[0]}, {messages} messages per run"
    )


async def wait_for_app(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(600):
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the app did not start; see app.log in the temporary folder")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def converse(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    rest: bool,
    sender: str,
    latencies: list[float],
) -> None:
    """One customer's conversation, in order, each reply's latency added to ``latencies``.

    On our path the chat secret from the first answer goes with every later message, as
    a customer's page sends it.
    """
    headers: dict[str, str] = {}
    for text in CONVERSATION:
        payload = {"sender": sender, "message": text} if rest else {"sender": sender, "text": text}
        url = server_for(sender, urls)
        started = time.perf_counter()
        async with session.post(url, json=payload, headers=headers) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        latencies.append(time.perf_counter() - started)
        if not rest and not headers:
            headers = {"X-Chat-Secret": json.loads(body)["chat_secret"]}


async def paired(
    session: aiohttp.ClientSession, ours: Sequence[str], theirs: Sequence[str], messages: int
) -> tuple[float, float]:
    """Mean reply latency of each path for one customer, conversations alternating paths.

    With one customer throughput is the inverse of latency, and taking turns every five
    messages leaves neither path the machine's quieter moments: steadier than rounds.
    """
    mine: list[float] = []
    rest: list[float] = []
    for n in range(max(1, messages // len(CONVERSATION))):
        turns = [(ours, False, mine), (theirs, True, rest)]
        for urls, is_rest, latencies in turns if n % 2 == 0 else turns[::-1]:
            await converse(session, urls, is_rest, f"bench-{uuid.uuid4().hex[:10]}", latencies)
    return sum(mine) / len(mine), sum(rest) / len(rest)


async def run_path(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    rest: bool,
    messages: int,
    concurrency: int,
) -> tuple[float, float, float]:
    """Messages/s, p50 and p99 for customers each sent to ``server_for`` them in ``urls``."""
    latencies: list[float] = []
    per_customer = len(CONVERSATION)
    customers = max(concurrency, messages // per_customer)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(customers):
        queue.put_nowait(f"bench-{uuid.uuid4().hex[:10]}")

    async def customer_loop() -> None:
        while True:
            try:
                sender = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await converse(session, urls, rest, sender, latencies)

    started = time.perf_counter()
    await asyncio.gather(*(customer_loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)


def prepared() -> tuple[Settings, Path, int]:
    """The settings with a current model (trained if need be), a scratch folder, a port.

    The Rasa children and the app (a process of its own, see :func:`start_app`) keep
    their secrets in different folders, so both get the same ones from the environment.
    """
    for name in ("OUTAGE_BOT_CALLBACK_SECRET", "RASA_TOKEN"):
        os.environ.setdefault(name, secrets.token_urlsafe(32))
    base = Settings.from_env()
    train(base.intents_dir)
    return base, Path(tempfile.mkdtemp(prefix="outage-bench-")), free_port()


def median_run(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The run with the median messages/s, with its own latencies."""
    return sorted(runs)[len(runs) // 2]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="runs of each path per level, taking turns; the median run is reported",
    )
    parser.add_argument(
        "--rasa-processes",
        type=int,
        default=None,
        help="Rasa processes for both paths (default: as `serve` starts, one per core)",
    )
    parser.add_argument(
        "--paired",
        type=int,
        default=0,
        help="then this many messages per path from one customer, the paths taking turns",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    base, var, app_port = prepared()
    processes = args.rasa_processes or base.rasa_processes
    settings = replace(
        base,
        database_url=os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'bench.db'}",
        port=app_port,
        rasa_port=free_ports(processes),
        var_dir=var,
        rasa_processes=processes,
    )
    rasa = await start_children(settings, f"http://127.0.0.1:{app_port}")
    rasa_urls = [child.url for child in rasa]
    app = await start_app(settings.database_url, app_port, ",".join(rasa_urls), var)
    ours = [f"http://127.0.0.1:{app_port}/api/chat"]
    theirs = [f"{url}/webhooks/rest/webhook" for url in rasa_urls]
    try:
        async with client() as session:
            for child in rasa:
                await child.wait_ready(session)
            await wait_for_app(session, f"http://127.0.0.1:{app_port}/healthz")
            print(heading(settings.database_url, args.messages) + f", {len(rasa)} Rasa")
            print("concurrency | path | msg/s | p50 ms | p99 ms")
            await run_path(session, ours, False, 50, 4)
            await run_path(session, theirs, True, 50, 4)
            for level in levels:
                mine: list[tuple[float, float, float]] = []
                rest: list[tuple[float, float, float]] = []
                for round_ in range(args.rounds):
                    # Taking turns, and each path first in every other round, so neither
                    # gets the machine's quieter moments or a warmer Rasa more often.
                    for path in ("ours", "rest") if round_ % 2 == 0 else ("rest", "ours"):
                        if path == "ours":
                            mine.append(await run_path(session, ours, False, args.messages, level))
                        else:
                            rest.append(
                                await run_path(session, theirs, True, args.messages, level)
                            )
                for name, runs in (("/api/chat", mine), ("rasa rest", rest)):
                    rate, p50, p99 = median_run(runs)
                    print(f"{level} | {name} | {rate:.1f} | {p50 * 1000:.0f} | {p99 * 1000:.0f}")
                ratios = sorted(m[0] / r[0] for m, r in zip(mine, rest, strict=True))
                spread = f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f})" if len(ratios) > 1 else ""
                ratio = median_run(mine)[0] / median_run(rest)[0]
                print(f"{level} | ratio | {ratio:.2f}x {spread} | | ")
            if args.paired:
                ours_latency, rest_latency = await paired(session, ours, theirs, args.paired)
                print(
                    f"1 paired | /api/chat {1 / ours_latency:.1f} msg/s, "
                    f"{ours_latency * 1000:.2f} ms | rasa rest {1 / rest_latency:.1f} msg/s, "
                    f"{rest_latency * 1000:.2f} ms | ratio {rest_latency / ours_latency:.2f}x"
                )
    finally:
        await stop_app(app)
        await stop_children(rasa)


if __name__ == "__main__":
    asyncio.run(main())
