"""A staff client on the app from its own factory, with one user of each role."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import User
from bot.settings import Settings
from bot.users import token_digest
from bot.web.app import create_app
from tests.web.browser import Tab

DEAD_RASA = "http://127.0.0.1:9"
"""The staff APIs never need Rasa; a dead loopback URL keeps the factory from starting one."""

ClientFactory = Callable[[web.Application], Coroutine[Any, Any, TestClient[Any, Any]]]


@dataclass
class Staff:
    """A test client plus an API token per role, calling as one of them."""

    client: TestClient[Any, Any]
    tokens: dict[str, str]

    @property
    def app(self) -> web.Application:
        """The app under test."""
        return self.client.app  # type: ignore[return-value]

    async def call(
        self, method: str, path: str, as_: str | None = "admin", json: Any = None
    ) -> tuple[int, Any]:
        """Call ``path`` as the user with role ``as_`` (``None``: no token); status and JSON."""
        headers = {"Authorization": f"Bearer {self.tokens[as_]}"} if as_ else {}
        async with self.client.request(method, path, json=json, headers=headers) as response:
            assert response.content_type == "application/json", await response.text()
            return response.status, await response.json()


@pytest.fixture
async def staff(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> Staff:
    """The whole app (no Rasa) and users ``agent``, ``agent2``, ``comms`` and ``admin``."""
    settings = replace(
        Settings.from_env(environ={}),
        database_url=database_url,
        rasa_url=DEAD_RASA,
        var_dir=tmp_path,
    )
    client = await aiohttp_client(create_app(settings))
    return Staff(client, await add_staff(engine))


async def add_staff(engine: AsyncEngine) -> dict[str, str]:
    """Users ``agent``, ``agent2``, ``comms`` and ``admin``; their API tokens by name."""
    roles = {"agent": "agent", "agent2": "agent", "comms": "comms", "admin": "admin"}
    tokens = {name: f"token-of-{name}-{secrets.token_hex(8)}" for name in roles}
    # Stored as `outage-bot user add` stores them, minus the deliberately slow password hash.
    async with AsyncSession(engine) as session:
        session.add_all(
            User(name=name, role=role, password_hash="-", token_hash=token_digest(tokens[name]))
            for name, role in roles.items()
        )
        await session.commit()
    return tokens


StartBrowser = Callable[[str, str], Awaitable[Tab]]


@pytest.fixture
async def browsers() -> AsyncIterator[StartBrowser]:
    """Start a browser per person in the test (each its own profile); all quit afterwards.

    ``await browsers(base_url, "/chat")``: a new browser showing that page.
    """
    tabs: list[Tab] = []

    async def start(base_url: str, path: str) -> Tab:
        tabs.append(await Tab.start(base_url))
        await tabs[-1].open(path)
        return tabs[-1]

    yield start
    for tab in tabs:
        await tab.close()
