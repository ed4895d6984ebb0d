"""Whether a sign-in's answer time tells if a user name exists.

Usage:
    .venv/bin/python bench/sign_in_timing.py [--rounds 30]

Creates a user on a fresh SQLite file, then times ``authenticate_password`` (what
``POST /login`` waits for) in interleaved rounds for: an existing name with a wrong
password, a name that does not exist, a disabled user, and the right password. Every
case costs one Argon2 verification, so the medians should agree within noise.

It also reports the longest the event loop went without running (a 5 ms ticker) while
the sign-ins ran: the verification runs in a thread, so customers are not held up.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import create_engine, migrate
from bot.sessions import SessionPolicy
from bot.sessions.database import DatabaseSessions
from bot.users import add_user, authenticate_password, set_disabled


async def main(rounds: int) -> None:
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    await migrate(url)
    engine = create_engine(url)
    _user, password, _token = await add_user(engine, "alice", "agent")
    await add_user(engine, "gone", "agent")
    policy = SessionPolicy(idle=timedelta(hours=1), lifetime=timedelta(hours=12))
    await set_disabled(engine, DatabaseSessions(engine, policy), "gone", True)
    cases = {
        "existing name, wrong password": ("alice", "wrong-password-1"),
        "unknown name": ("nobody-here", "wrong-password-1"),
        "disabled user": ("gone", "wrong-password-1"),
        "right password": ("alice", password),
    }
    times: dict[str, list[float]] = {case: [] for case in cases}
    await authenticate_password(engine, "nobody", "warm-up")
    stalls: list[float] = []

    async def tick() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            stalls.append((time.perf_counter() - before - 0.005) * 1000)

    ticker = asyncio.create_task(tick())
    for _ in range(rounds):
        for case, (name, given) in cases.items():
            started = time.perf_counter()
            await authenticate_password(engine, name, given)
            times[case].append((time.perf_counter() - started) * 1000)
    ticker.cancel()
    await engine.dispose()
    cuts = statistics.quantiles(stalls, n=100)
    print(
        f"event loop stalls over {len(stalls)} ticks: median {statistics.median(stalls):.1f} ms,"
        f" p99 {cuts[98]:.1f} ms, longest {max(stalls):.1f} ms"
    )
    for case, samples in times.items():
        quartiles = statistics.quantiles(samples, n=4)
        print(
            f"{case:32} median {statistics.median(samples):6.1f} ms  "
            f"IQR {quartiles[0]:6.1f}-{quartiles[2]:6.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args().rounds))
