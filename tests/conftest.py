"""Shared fixtures: database tests run on SQLite and on the local PostgreSQL.

Tests of the whole service (the real Rasa server, a browser) run on SQLite alone: what
differs between the two databases lives in the inbox and the stores, whose own tests run
on both; going through Rasa and Chromium a second time only for the database doubled the
slowest part of the suite. SQLite is the one they keep because it is what ``make run``
serves: its single writer, shared by the inbox and Rasa's calls back into the app while a
message is answered, is where a whole-service deadlock would show. A whole-service test
whose subject is the database itself is marked ``every_database``; one that parametrizes
``database_url`` itself keeps its own choice. Tests that run the ``outage-bot`` command as
a process are whole-service tests too (marked ``whole_service``): what they add to the
stores' own tests is the command, which is the same on either database.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, migrate_sync
from bot.inbox.store import Inbox, open_inbox
from bot.settings import Secret, Settings
from bot.web.app import create_app
from tests.scratch import (
    POSTGRES_ADMIN,
    empty_tables,
    free_port,
    locator_for,
    recreate_database,
    redis_url,
)

DATABASES = ["sqlite", "postgres"]
WHOLE_SERVICE_DATABASE = "sqlite"
WHOLE_SERVICE = {"rasa_server", "live_app", "browsers"}
"""Fixtures that make a test one of the whole service's (see the module docstring)."""
CALLBACK_SECRET = Secret("test-callback-secret-shared-by-rasa")
RASA_TOKEN = Secret("test-token-of-rasa-http-api")
"""The session's Rasa server and every test app share these (each has its own var/)."""


@pytest.fixture(scope="session", params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each kind, shared by the session's tests."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "test.db"
        url = f"sqlite:///{path}"
        migrate_sync(url)
        yield url
        return
    name = f"outage_bot_test_{os.getpid()}"
    asyncio.run(recreate_database(name))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    migrate_sync(url)
    yield url
    asyncio.run(recreate_database(name, drop_only=True))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's database, emptied after each test."""
    engine = create_engine(database_url)
    yield engine
    await empty_tables(engine)
    await engine.dispose()


SESSIONS_REDIS_URL = redis_url(13)
"""Where tests keep staff sessions in Redis (this process's own database)."""


@pytest.fixture
async def sessions_redis() -> AsyncIterator[Redis]:
    """A client on :data:`SESSIONS_REDIS_URL`; every staff session in it is forgotten after.

    SQLite gives user ids again once the tables are emptied, so a session left over would
    belong to the next test's user of the same id.
    """
    client = Redis.from_url(SESSIONS_REDIS_URL)
    yield client
    stale = [key async for key in client.scan_iter(match="outage-bot:staff-session*")]
    if stale:
        await client.delete(*stale)
    await client.aclose()


@pytest.fixture
async def inbox(engine: AsyncEngine) -> AsyncIterator[Inbox]:
    """The inbox the app opens on the test's database (its own connection on SQLite)."""
    async with open_inbox(engine) as inbox:
        yield inbox


@pytest.fixture(scope="session")
def app_port() -> int:
    """The port every live app of this session listens on (Rasa calls actions there)."""
    return free_port()


@pytest.fixture(scope="session")
def rasa_server(app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Rasa server with the trained model, calling back to the live app's port.

    Trains first when the model is missing or stale (minutes, once per machine).
    """
    from bot.rasa.process import RasaProcess, train

    settings = Settings.from_env(environ={}, env_file=Path("/nonexistent"))
    train(settings.intents_dir)
    settings = replace(
        settings,
        rasa_port=free_port(),
        var_dir=tmp_path_factory.mktemp("rasa-var"),
        callback_secret=CALLBACK_SECRET,
        rasa_token=RASA_TOKEN,
    )
    process = RasaProcess(settings, app_url=f"http://127.0.0.1:{app_port}")
    loop = asyncio.new_event_loop()

    async def start() -> None:
        await process.start()
        async with aiohttp.ClientSession() as session:
            await process.wait_ready(session, within=300)

    try:
        loop.run_until_complete(start())
        yield process.url
    finally:
        loop.run_until_complete(process.stop())
        loop.close()


@dataclass
class LiveApp:
    """The whole service running on loopback, as customers and Rasa reach it.

    It keeps each web-chat sender's secret from their first answer and presents it in
    ``X-Chat-Secret``, as a script would (a browser keeps it in its cookie).
    """

    url: str
    app: web.Application
    client: aiohttp.ClientSession
    chat_secrets: dict[str, str] = field(default_factory=dict)

    def secret_header(self, sender: str) -> dict[str, str]:
        """The header proving the right to ``sender``'s conversation, once it was issued."""
        secret = self.chat_secrets.get(sender)
        return {"X-Chat-Secret": secret} if secret else {}

    async def chat(self, sender: str, text: str) -> dict[str, Any]:
        """Send one web-chat message; return the JSON answer."""
        async with self.client.post(
            f"{self.url}/api/chat",
            json={"sender": sender, "text": text},
            headers=self.secret_header(sender),
        ) as response:
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
        if "chat_secret" in body:
            self.chat_secrets[sender] = body["chat_secret"]
        return body

    async def updates(self, sender: str) -> dict[str, Any]:
        """Pick up the replies queued for ``sender`` since their last message."""
        async with self.client.get(
            f"{self.url}/api/chat/updates",
            params={"sender": sender},
            headers=self.secret_header(sender),
        ) as response:
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body


@asynccontextmanager
async def running_app(
    settings: Settings, *, primary: bool = True, chat_secrets: dict[str, str] | None = None
) -> AsyncIterator[LiveApp]:
    """Run the app from its own factory on ``settings``' port until the block ends.

    ``chat_secrets``: the web-chat customers' secrets, shared with an earlier app on
    the same database.
    """
    app = create_app(settings, primary=primary, locator=locator_for(settings.data_dir))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    try:
        async with aiohttp.ClientSession() as client:
            live = LiveApp(f"http://{settings.host}:{settings.port}", app, client)
            if chat_secrets is not None:
                live.chat_secrets = chat_secrets
            yield live
    finally:
        await runner.cleanup()


def app_settings(database_url: str, rasa_url: str, port: int, var_dir: Path) -> Settings:
    """Settings for a test app: nothing from the environment leaks in."""
    return replace(
        Settings.from_env(environ={}, env_file=var_dir / "no.env"),
        database_url=database_url,
        rasa_url=rasa_url,
        port=port,
        var_dir=var_dir,
        callback_secret=CALLBACK_SECRET,
        rasa_token=RASA_TOKEN,
    )


@pytest.fixture
async def live_app(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> AsyncIterator[LiveApp]:
    """The app on the port Rasa calls back, with the real Rasa; tables emptied afterwards."""
    async with running_app(app_settings(database_url, rasa_server, app_port, tmp_path)) as live:
        yield live


async def add_outage(
    app: web.Application,
    areas: list[str],
    cause: str = "a power failure at a partner's site",
    eta_hours: float | None = 3,
) -> str:
    """Open a broadband and phone incident in ``areas`` through the app's incident book."""
    from datetime import timedelta

    from bot.keys import incidents_key
    from bot.models import utcnow

    record = await app[incidents_key].create(
        title="Broadband and phone outage",
        areas=areas,
        services=["broadband", "phone"],
        cause=cause,
        eta=utcnow() + timedelta(hours=eta_hours) if eta_hours is not None else None,
        author="test",
    )
    return record.incident.reference


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give a whole-service test one database unless it is marked ``every_database``.

    Runs before pytest parametrizes ``database_url`` from the fixture's own params: a
    ``parametrize`` mark on the test takes precedence over them.
    """
    names = set(metafunc.fixturenames)
    if (
        "database_url" in names
        and (WHOLE_SERVICE & names or metafunc.definition.get_closest_marker("whole_service"))
        and metafunc.definition.get_closest_marker("every_database") is None
        and not chooses_its_database(metafunc.definition)
    ):
        metafunc.definition.add_marker(
            pytest.mark.parametrize(
                "database_url", [WHOLE_SERVICE_DATABASE], indirect=True, scope="session"
            )
        )


def chooses_its_database(definition: pytest.Item) -> bool:
    """Whether the test parametrizes ``database_url`` itself (its choice stands)."""
    for mark in definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "database_url" in names:
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that talks to the real Rasa server as ``e2e`` (``make e2e``), and
    put the ``long`` tests first.

    pytest-xdist hands each worker a run of the list and lets idle workers take from the
    end of another's: a long test met late ends the run alone while the other workers
    wait (a minute and a quarter of the suite's 5.6 on 3 workers); met first, the others
    share out the rest around it.
    """
    for item in items:
        if {"rasa_server", "live_app"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure() -> None:
    """Spare the exiting interpreter its collections over everything the suite imported.

    Python's finalization walks every tracked object a few times while it empties the
    modules; frozen, they are freed by reference counting alone. It took seconds on the
    2-core machine, however small the run (docs/performance.md).
    """
    gc.freeze()
