"""A supervised child is started again when it dies, with backoff, and stopped for good."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from bot.supervision import Supervised


async def sleeper() -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )


async def until(condition: object, within: float = 10.0) -> None:
    for _ in range(int(within * 20)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_killed_child_is_started_again_and_stop_ends_it() -> None:
    child = Supervised(sleeper, "a sleeper")
    await child.start()
    first = child.pid
    assert first is not None

    os.kill(first, signal.SIGKILL)
    await until(lambda: child.restarts == 1 and child.pid != first)
    second = child.pid
    assert second is not None

    await child.stop(within=5)

    assert child.restarts == 1
    with pytest.raises(ProcessLookupError):  # ended and reaped
        os.kill(second, 0)


async def test_a_child_that_keeps_dying_is_started_again_ever_more_slowly() -> None:
    async def dies() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(sys.executable, "-c", "raise SystemExit(3)")

    child = Supervised(dies, "a failing child")
    started = asyncio.get_running_loop().time()
    await child.start()
    await until(lambda: child.restarts == 2, within=10)  # after 1 s, then 2 s more
    elapsed = asyncio.get_running_loop().time() - started
    await child.stop()

    assert elapsed >= 3.0, elapsed
