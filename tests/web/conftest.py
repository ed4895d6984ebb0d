"""A staff client on the app from its own factory, with one user of each role."""

from __future__ import annotations

import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import ApiToken, User
from bot.settings import Settings
from bot.users import token_digest
from bot.web.app import create_app
from tests.scratch import locator_for
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
    def base(self) -> str:
        """The app's URL."""
        return str(self.client.make_url("")).rstrip("/")

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


def staff_settings(database_url: str, var_dir: Path, **changes: Any) -> Settings:
    """Settings for the staff app: no Rasa, nothing from the environment, ``changes``."""
    return replace(
        Settings.from_env(environ={}),
        database_url=database_url,
        rasa_url=DEAD_RASA,
        var_dir=var_dir,
        **changes,
    )


async def start_staff(
    engine: AsyncEngine, settings: Settings, aiohttp_client: ClientFactory
) -> Staff:
    """The whole app (no Rasa) on ``settings``, and users ``agent``, ``agent2``, ``comms``
    and ``admin``."""
    client = await aiohttp_client(create_app(settings, locator=locator_for(settings.data_dir)))
    return Staff(client, await add_staff(engine))


@pytest.fixture
async def staff(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> Staff:
    """The whole app (no Rasa) and users ``agent``, ``agent2``, ``comms`` and ``admin``."""
    return await start_staff(engine, staff_settings(database_url, tmp_path), aiohttp_client)


def password_of(name: str) -> str:
    """The password ``add_staff`` gives ``name``."""
    return f"{name}-secret-pass"


@functools.cache
def _password_hash(name: str) -> str:
    # Argon2 is slow on purpose: each test process hashes each password once.
    return PasswordHasher().hash(password_of(name))


async def add_staff(engine: AsyncEngine) -> dict[str, str]:
    """Users ``agent``, ``agent2``, ``comms`` and ``admin``; their API tokens by name.

    Each signs in with :func:`password_of` their name.
    """
    roles = {"agent": "agent", "agent2": "agent", "comms": "comms", "admin": "admin"}
    tokens = {name: f"token-of-{name}-{secrets.token_hex(8)}" for name in roles}
    # Stored as `outage-bot user add` stores them.
    async with AsyncSession(engine) as session:
        users = {
            name: User(name=name, role=role, password_hash=_password_hash(name))
            for name, role in roles.items()
        }
        session.add_all(users.values())
        await session.flush()
        session.add_all(
            ApiToken(user_id=user.id, token_hash=token_digest(tokens[name]))
            for name, user in users.items()
        )
        await session.commit()
    return tokens


@dataclass
class SignedIn:
    """A browser-like client (its own cookie jar) signed in at ``/login``."""

    http: aiohttp.ClientSession
    base: str
    me: dict[str, Any]

    @property
    def csrf(self) -> str:
        """The session's CSRF token, as ``/api/me`` gave it."""
        return str(self.me["csrf_token"])

    async def call(
        self, method: str, path: str, json: Any = None, csrf: str | None = ""
    ) -> tuple[int, Any]:
        """Call ``path`` with the cookie and the CSRF token (``None``: without it)."""
        headers = {"X-CSRF-Token": csrf or self.csrf} if csrf is not None else {}
        async with self.http.request(
            method, self.base + path, json=json, headers=headers, allow_redirects=False
        ) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body


SignIn = Callable[..., Awaitable[SignedIn]]


@pytest.fixture
async def sign_in() -> AsyncIterator[SignIn]:
    """``await sign_in(base, name[, password])``: a new cookie jar signed in as ``name``
    through ``POST /login`` (JSON); every jar is closed after the test."""
    opened: list[aiohttp.ClientSession] = []

    async def start(base: str, name: str, password: str | None = None) -> SignedIn:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        opened.append(http)
        credentials = {"username": name, "password": password or password_of(name)}
        async with http.post(f"{base}/login", json=credentials) as response:
            assert response.status == 200, await response.text()
            me = await response.json()
        return SignedIn(http, base, me)

    yield start
    for http in opened:
        await http.close()


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
