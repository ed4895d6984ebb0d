"""Sign-in limits behind a reverse proxy: per client when the proxy is ours, else per peer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import audit, lockout
from bot.client_address import trusted_proxies
from tests.web.conftest import ClientFactory, Staff, password_of, staff_settings, start_staff

GUESSER, COLLEAGUE = "198.51.100.1", "198.51.100.2"


async def _login(staff: Staff, name: str, password: str, forwarded_for: str) -> int:
    async with staff.client.post(
        "/login",
        json={"username": name, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
    ) as response:
        return response.status


async def _guess_five_names(staff: Staff, forwarded_for: str) -> None:
    for number in range(lockout.LIMIT):
        assert await _login(staff, f"guess-{number}", "password", forwarded_for) == 401


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    settings = staff_settings(database_url, tmp_path, trusted_proxies=trusted_proxies("127.0.0.1"))
    staff = await start_staff(engine, settings, aiohttp_client)

    await _guess_five_names(staff, f"203.0.113.50, {GUESSER}")

    assert await _login(staff, "comms", password_of("comms"), GUESSER) == 429
    assert await _login(staff, "comms", password_of("comms"), f"{COLLEAGUE}, {GUESSER}") == 429
    assert await _login(staff, "comms", password_of("comms"), COLLEAGUE) == 200
    [sign_in] = await audit.entries(engine, actor="comms")
    assert sign_in["detail"] == f"from {COLLEAGUE}"


async def test_an_untrusted_peer_cannot_choose_its_address(staff: Staff) -> None:
    for number in range(lockout.LIMIT):
        status = await _login(staff, f"guess-{number}", "password", f"198.51.100.{number}")
        assert status == 401

    assert await _login(staff, "comms", password_of("comms"), COLLEAGUE) == 429
    assert await _login(staff, "comms", password_of("comms"), "not an address") == 429
