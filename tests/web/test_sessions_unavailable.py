"""Redis down in sessions mode: staff are told to try again, admins' changes still stand."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import audit
from bot.users import SESSIONS_LEFT, find_user, verify_password
from bot.web.auth import COOKIE
from tests.scratch import free_port
from tests.web.conftest import ClientFactory, Staff, password_of, staff_settings, start_staff

UNAVAILABLE = {"error": "staff sessions are unavailable, try again shortly"}
COOKIE_VALUE = "a-session-id-nobody-may-log"


@pytest.fixture
async def redis_down(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> Staff:
    """The app with its sessions in a Redis that nobody listens for."""
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings = staff_settings(database_url, tmp_path, redis_url=closed)
    return await start_staff(engine, settings, aiohttp_client)


async def test_a_signed_in_browser_is_asked_to_try_again_shortly(
    redis_down: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    client, cookies = redis_down.client, {COOKIE: COOKIE_VALUE}
    caplog.set_level(logging.WARNING)

    async with client.get("/api/me", cookies=cookies) as response:
        assert (response.status, await response.json()) == (503, UNAVAILABLE)
        assert response.headers["Retry-After"] == "10"
    async with client.get(
        "/console", cookies=cookies, headers={"Accept": "text/html,*/*;q=0.8"}
    ) as page:
        assert page.status == 503 and page.content_type == "text/html"
        assert page.headers["Retry-After"] == "10"
        assert "Staff sessions are unavailable, try again shortly." in await page.text()
    credentials = {"username": "agent", "password": password_of("agent")}
    async with client.post("/login", json=credentials) as response:
        assert (response.status, await response.json()) == (503, UNAVAILABLE)

    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "GET '/api/me': staff sessions are unavailable (Redis cannot be reached)",
        "GET '/console': staff sessions are unavailable (Redis cannot be reached)",
        "POST '/login': staff sessions are unavailable (Redis cannot be reached)",
    ]
    assert all(r.exc_info is None for r in warnings)
    assert COOKIE_VALUE not in caplog.text and password_of("agent") not in caplog.text


async def test_an_admins_change_stands_and_says_the_sessions_are_left_to_the_row_check(
    redis_down: Staff, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    status, body = await redis_down.call("PATCH", "/api/users/agent", json={"disabled": True})

    assert status == 200
    assert body["user"]["disabled"] is True
    assert body["sessions_ended"] is False and body["warning"] == SESSIONS_LEFT
    assert (await find_user(engine, "agent")).disabled
    assert (await redis_down.call("GET", "/api/me", as_="agent"))[0] == 401

    status, body = await redis_down.call("POST", "/api/users/comms/password")

    assert status == 200 and body["sessions_ended"] is False
    comms = await find_user(engine, "comms")
    assert comms.must_change_password and verify_password(comms, body["password"])
    actions = [e["action"] for e in await audit.entries(engine, actor="admin")]
    assert actions == ["password_reset", "user_changed"]
    [warning, _] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Redis cannot be reached to end their staff sessions" in warning.getMessage()
    assert body["password"] not in caplog.text


async def test_with_redis_up_a_change_says_the_sessions_ended(staff: Staff) -> None:
    status, body = await staff.call("PATCH", "/api/users/agent", json={"role": "comms"})
    assert status == 200 and body["sessions_ended"] is True and "warning" not in body
