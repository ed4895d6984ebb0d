"""A rolling model update: each Rasa server in turn loads the newly trained model.

One server at a time is taken out of rotation (every worker stops sending it new
messages within a health check), told to load the model (Rasa's ``PUT /model``, which
swaps the model in the running process), checked (its status names a model and it
understands a customer's sentence) and put back. Messages it was answering finish
after the load; meanwhile its conversations are answered by the next server in their
order (shared trackers) or wait for it (each server's own, see ``bot.rasa.brain``). A
server that fails to load keeps its old model (Rasa swaps only a loaded one); it is put
back and the update stops there, so a bad model never reaches the others.

The progress is kept where every worker reads it (Redis with several workers), because
the admin page's next poll may reach another worker than the one running the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
from redis.asyncio import Redis

from bot.rasa.brain import CHECK_EVERY_SECONDS, RasaBrain

log = logging.getLogger(__name__)

MODEL_FILE = "models/outage-bot.tar.gz"
"""The model as each Rasa server finds it: relative to its working directory, which is
``intents/`` for our children and ``/app`` (``intents/`` mounted) in docker compose."""
PROBE = "broadband down in 0161?"
LOAD_SECONDS = 300.0


class ReloadError(RuntimeError):
    """A server did not load or pass the check; the message says which and why."""


@dataclass
class ServerStep:
    """Where one server is in the update."""

    server: str
    state: str = "waiting"  # waiting, out of rotation, loading, checking, back, failed
    model: str | None = None
    detail: str = ""


@dataclass
class Progress:
    """The whole update, as the admin page and the command line show it."""

    started_at: str
    servers: list[ServerStep]
    finished_at: str | None = None
    error: str | None = None
    by: str = ""

    @property
    def running(self) -> bool:
        """Whether the update is still going."""
        return self.finished_at is None

    def as_json(self) -> dict[str, Any]:
        """The progress as the API returns it."""
        return {**asdict(self), "running": self.running}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        """The progress :meth:`as_json` gave."""
        steps = [ServerStep(**step) for step in data["servers"]]
        fields = {k: data[k] for k in ("started_at", "finished_at", "error", "by")}
        return cls(servers=steps, **fields)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ProgressBoard(Protocol):
    """Where the latest update's progress is kept, and who may start one."""

    async def latest(self) -> Progress | None:
        """The latest update, running or finished."""
        ...

    async def begin(self, progress: Progress) -> bool:
        """Record a new update unless one is running; says whether it was recorded."""
        ...

    async def record(self, progress: Progress) -> None:
        """Record the update's progress."""
        ...


@dataclass
class LocalBoard:
    """The board of a single process."""

    _latest: Progress | None = field(default=None)

    async def latest(self) -> Progress | None:
        """See :meth:`ProgressBoard.latest`."""
        return self._latest

    async def begin(self, progress: Progress) -> bool:
        """See :meth:`ProgressBoard.begin`."""
        if self._latest is not None and self._latest.running:
            return False
        self._latest = progress
        return True

    async def record(self, progress: Progress) -> None:
        """See :meth:`ProgressBoard.record`."""
        self._latest = progress


class RedisBoard:
    """The board every worker shares; a running update's claim expires if its worker dies."""

    KEY = "outage-bot:rasa:reload"
    CLAIM = "outage-bot:rasa:reload:running"

    def __init__(self, redis: Redis, claim_seconds: int = 900) -> None:
        self._redis = redis
        self._claim_seconds = claim_seconds

    async def latest(self) -> Progress | None:
        """See :meth:`ProgressBoard.latest`."""
        raw = await self._redis.get(self.KEY)
        return Progress.from_json(json.loads(raw)) if raw else None

    async def begin(self, progress: Progress) -> bool:
        """See :meth:`ProgressBoard.begin`."""
        if not await self._redis.set(self.CLAIM, "1", nx=True, ex=self._claim_seconds):
            return False
        await self.record(progress)
        return True

    async def record(self, progress: Progress) -> None:
        """See :meth:`ProgressBoard.record`."""
        await self._redis.set(self.KEY, json.dumps(progress.as_json()))
        if not progress.running:
            await self._redis.delete(self.CLAIM)


def planned(brain: RasaBrain, by: str) -> Progress:
    """A new update of every server of ``brain``, not started yet."""
    return Progress(_now(), [ServerStep(server) for server in brain.base_urls], by=by)


async def rolling_reload(
    brain: RasaBrain,
    session: aiohttp.ClientSession,
    board: ProgressBoard,
    progress: Progress,
    settle: float = 2 * CHECK_EVERY_SECONDS,
) -> Progress:
    """Update every server in ``progress``, one at a time, recording each step on ``board``.

    ``settle``: how long a server out of rotation waits before it loads, so that every
    worker has read the rotation since (one health check).
    """
    try:
        for step in progress.servers:
            await _reload_one(brain, session, board, progress, step, settle)
    except ReloadError as error:
        progress.error = str(error)
        log.error("rolling model update stopped: %s", error)
    except asyncio.CancelledError:
        progress.error = "stopped: the worker running it shut down"
        raise
    finally:
        progress.finished_at = _now()
        await board.record(progress)
    return progress


async def _reload_one(
    brain: RasaBrain,
    session: aiohttp.ClientSession,
    board: ProgressBoard,
    progress: Progress,
    step: ServerStep,
    settle: float,
) -> None:
    async def now(state: str, detail: str = "") -> None:
        step.state, step.detail = state, detail
        log.info("model update: %s %s %s", step.server, state, detail)
        await board.record(progress)

    await brain.take_out(step.server)
    try:
        await now("out of rotation")
        await asyncio.sleep(settle)
        await now("loading")
        await _load(session, step.server, brain.api_params)
        await now("checking")
        step.model = await check_server(session, step.server, brain.api_params)
    except ReloadError as error:
        await now("failed", str(error))
        raise
    finally:
        await brain.put_back(step.server)
    await now("back")


async def _load(session: aiohttp.ClientSession, server: str, auth: dict[str, str]) -> None:
    try:
        async with session.put(
            f"{server}/model",
            params=auth,
            json={"model_file": MODEL_FILE},
            timeout=aiohttp.ClientTimeout(total=LOAD_SECONDS),
        ) as response:
            if response.status != 204:
                raise ReloadError(f"{server} did not load the model: HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ReloadError(f"{server} did not load the model: {type(exc).__name__}") from exc


async def check_server(session: aiohttp.ClientSession, server: str, auth: dict[str, str]) -> str:
    """The model ``server`` runs, once it names one and understands a customer's sentence.

    ``auth``: the query that authenticates a call to its HTTP API.

    Raises:
        ReloadError: it does not.
    """
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with session.get(f"{server}/status", params=auth, timeout=timeout) as response:
            status = await response.json() if response.status == 200 else {}
        async with session.post(
            f"{server}/model/parse", params=auth, json={"text": PROBE}, timeout=timeout
        ) as response:
            parsed = await response.json() if response.status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ReloadError(f"{server} failed the check: {type(exc).__name__}") from exc
    model = status.get("model_id") or status.get("model_file")
    intent = (parsed.get("intent") or {}).get("name")
    if not model or not intent:
        raise ReloadError(f"{server} failed the check: no model, or no intent for {PROBE!r}")
    return str(model)


class ModelUpdates:
    """Runs rolling updates in the background, one at a time, and tells how they go."""

    def __init__(
        self, brain: RasaBrain, session: aiohttp.ClientSession, board: ProgressBoard
    ) -> None:
        self._brain = brain
        self._session = session
        self.board = board
        self._running: asyncio.Task[Progress] | None = None

    async def start(self, by: str) -> Progress | None:
        """Start an update of every server; ``None`` when one is already running."""
        progress = planned(self._brain, by)
        if not await self.board.begin(progress):
            return None
        self._running = asyncio.create_task(
            rolling_reload(self._brain, self._session, self.board, progress),
            name="rolling model update",
        )
        return progress

    async def close(self) -> None:
        """Stop an update this worker runs (shutting down); its server is put back."""
        if self._running is not None and not self._running.done():
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running
