"""Child processes kept running: the Rasa children and ``serve --workers N``'s workers.

A child that dies is started again after a second, then after a delay that doubles (up
to 30 s, :data:`bot.delivery.backoff.CHILD_PROCESS`) while it keeps dying soon after
starting, so a child that cannot start does not spin; once it has run for
``stable_after`` seconds, its next death is a new problem and the delay starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.delivery.backoff import CHILD_PROCESS

log = logging.getLogger(__name__)

Spawn = Callable[[], Awaitable[asyncio.subprocess.Process]]


class Supervised:
    """One child process, started again whenever it dies, until :meth:`stop`.

    Attributes:
        name: how the log names it ("Rasa on :5005", "the primary worker").
        restarts: how many times it was started again.
    """

    def __init__(self, spawn: Spawn, name: str, stable_after: float = 60.0) -> None:
        """``spawn`` starts the child (again); ``stable_after``: see the module."""
        self._spawn = spawn
        self.name = name
        self._stable_after = stable_after
        self._process: asyncio.subprocess.Process | None = None
        self._keeper: asyncio.Task[None] | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The running child's process id, if there is one."""
        return self._process.pid if self._process else None

    async def start(self) -> None:
        """Start the child and keep it running; returns once it is started."""
        self._process = await self._spawn()
        self._keeper = asyncio.create_task(self._keep(), name=f"supervise {self.name}")

    async def _keep(self) -> None:
        failures = 0
        while True:
            assert self._process is not None
            started = time.monotonic()
            code = await self._process.wait()
            failures = 1 if time.monotonic() - started > self._stable_after else failures + 1
            delay = CHILD_PROCESS.delay(failures)
            log.error(
                "%s exited with code %s; starting it again in %.0f s", self.name, code, delay
            )
            await asyncio.sleep(delay)
            self.restarts += 1
            self._process = await self._spawn()

    async def stop(self, within: float = 10.0) -> None:
        """Stop watching, then terminate the child (killed if still there after ``within`` s)."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it may be exiting on its own
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=within)
        except TimeoutError:
            process.kill()
            await process.wait()
