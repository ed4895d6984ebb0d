"""Exactly once while workers are killed: ``serve --workers 2`` under a stream of web chats.

Customers send "hi" again and again (one reply each), as the web page does: a message
that gets no answer is sent again under the same id. A worker is killed with SIGKILL
every few seconds, the primary among them. Afterwards every message is answered, and no
customer was handed more greetings than they sent messages: no reply twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.db import create_engine
from bot.settings import FLOOD_LIMIT_MOST, Settings
from tests.scratch import POSTGRES_ADMIN, recreate_database, redis_url
from tests.test_serve import healthy, serve_workers, workers_of

KILLS = 3
KILL_EVERY = 3.0
CUSTOMERS = 16
SETTLE_WITHIN = 180.0


@dataclass
class Customer:
    """One web-chat customer, counting what they were handed."""

    url: str
    greeting: str
    name: str = field(default_factory=lambda: f"web-{uuid.uuid4().hex[:12]}")
    sent: int = 0
    greeted: int = 0
    resent: int = 0
    secret: str | None = None
    """The chat secret from the first answer that arrived (a lost one is issued again)."""

    def count(self, body: dict[str, object]) -> None:
        replies = body.get("replies")
        assert isinstance(replies, list)
        self.greeted += sum(reply["text"] == self.greeting for reply in replies)
        if isinstance(body.get("chat_secret"), str):
            self.secret = str(body["chat_secret"])

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Chat-Secret": self.secret} if self.secret else {}

    async def chat(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            message = {"sender": self.name, "text": "hi", "id": uuid.uuid4().hex}
            while True:  # sent again, same id, until answered: as the page does
                try:
                    async with session.post(
                        f"{self.url}/api/chat", json=message, headers=self.headers
                    ) as response:
                        if response.status == 200:
                            self.count(await response.json())
                            break
                        assert response.status >= 500, await response.text()
                except (aiohttp.ClientError, TimeoutError):
                    pass
                self.resent += 1
                await asyncio.sleep(0.5)
            self.sent += 1

    async def collect(self, session: aiohttp.ClientSession) -> None:
        async with session.get(
            f"{self.url}/api/chat/updates", params={"sender": self.name}, headers=self.headers
        ) as response:
            assert response.status == 200, await response.text()
            self.count(await response.json())


@pytest.mark.long
def test_replies_are_handed_out_once_while_workers_are_killed(
    rasa_server: str, app_port: int, tmp_path: Path
) -> None:
    name = f"outage_bot_kills_{os.getpid()}"
    asyncio.run(recreate_database(name))
    database_url = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    # The customers send as fast as they are answered, a flood by the shipped limit; a
    # limit they never reach still has every message counted as it is stored.
    raised = {"OUTAGE_BOT_FLOOD_LIMIT": str(FLOOD_LIMIT_MOST)}
    supervisor = serve_workers(
        database_url, redis_url(12), rasa_server, app_port, tmp_path, extra=raised
    )
    try:
        deadline = time.monotonic() + 120
        while not (len(workers_of(supervisor.pid)) == 2 and healthy(app_port)):
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.3)
        customers, killed = asyncio.run(_stream_with_kills(app_port, supervisor.pid))
        unanswered = asyncio.run(_unanswered(database_url))
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=90)
        except subprocess.TimeoutExpired:
            for pid in workers_of(supervisor.pid):
                os.kill(pid, signal.SIGKILL)
            supervisor.kill()
        asyncio.run(recreate_database(name, drop_only=True))

    assert killed == KILLS
    assert sum(c.resent for c in customers) > 0, "no kill caught a message in flight"
    assert unanswered == 0
    twice = {c.name: c.greeted - c.sent for c in customers if c.greeted > c.sent}
    assert twice == {}, f"replies handed out twice: {twice}"
    # Lost in a killed worker's response at most: one per message in flight then.
    assert sum(c.sent - c.greeted for c in customers) <= KILLS * CUSTOMERS


async def _stream_with_kills(port: int, supervisor: int) -> tuple[list[Customer], int]:
    url = f"http://127.0.0.1:{port}"
    # A new database holds the shipped texts, as the data files give them.
    greeting = _greeting(Settings.from_env(environ={}, env_file=Path("/nonexistent")).data_dir)
    customers = [Customer(url, greeting) for _ in range(CUSTOMERS)]
    stop = asyncio.Event()
    timeout = aiohttp.ClientTimeout(total=120)
    killed = 0
    async with aiohttp.ClientSession(timeout=timeout) as session:
        chatting = [asyncio.create_task(c.chat(session, stop)) for c in customers]
        for n in range(KILLS):
            await asyncio.sleep(KILL_EVERY)
            workers = workers_of(supervisor)
            # The primary too (it delivers and catches up), then the others.
            victim = next(pid for pid, primary in workers.items() if primary == (n == 1))
            os.kill(victim, signal.SIGKILL)
            killed += 1
        await asyncio.sleep(KILL_EVERY)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*chatting), SETTLE_WITHIN)
        # Whatever the catch-up answered late waits for pick-up.
        await asyncio.sleep(5)
        for customer in customers:
            await customer.collect(session)
    return customers, killed


def _greeting(data_dir: Path) -> str:
    import tomllib

    entry = tomllib.loads((data_dir / "responses.toml").read_text())["utter_greet"]
    value = entry.get("web") or entry["default"]
    assert isinstance(value, str)
    return value


async def _unanswered(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT count(*) FROM message WHERE direction = 'in' AND state <> 'processed'"
                )
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


pytestmark = pytest.mark.e2e
