"""``/api/rasa/reload``: admins roll a model out, one Rasa server at a time, and see how it goes.

Against two loopback stand-ins for Rasa's HTTP API (``PUT /model``, ``/status``,
``/model/parse``); the real rolling update under load is ``tests/rasa/test_scale_out.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.keys import brain_key
from bot.settings import Secret, Settings
from bot.web.app import create_app
from tests.rasa.test_brain import FakeRasa
from tests.scratch import locator_for
from tests.web.conftest import ClientFactory, Staff, add_staff

RASA_TOKEN = "the-token-of-rasa-http-api"
"""Every call of the update to Rasa's HTTP API needs it, as with ``--auth-token``."""


@pytest.fixture
async def rasas() -> AsyncIterator[tuple[FakeRasa, FakeRasa]]:
    pair = (FakeRasa("first", RASA_TOKEN), FakeRasa("second", RASA_TOKEN))
    for rasa in pair:
        await rasa.start()
    yield pair
    for rasa in pair:
        await rasa.stop()


@pytest.fixture
async def staff_with_rasa(
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    aiohttp_client: ClientFactory,
    rasas: tuple[FakeRasa, FakeRasa],
) -> Staff:
    settings = replace(
        Settings.from_env(environ={}),
        database_url=database_url,
        rasa_url=",".join(rasa.url for rasa in rasas),
        var_dir=tmp_path,
        rasa_token=Secret(RASA_TOKEN),
    )
    client = await aiohttp_client(create_app(settings, locator=locator_for(settings.data_dir)))
    return Staff(client, await add_staff(engine))


async def finished(staff: Staff) -> dict[str, Any]:
    for _ in range(200):
        status, body = await staff.call("GET", "/api/rasa/reload")
        assert status == 200
        if not body["reload"]["running"]:
            return dict(body["reload"])
        await asyncio.sleep(0.1)
    raise AssertionError("the update did not finish")


async def test_only_admins_update_the_model(staff_with_rasa: Staff) -> None:
    for role in ("agent", "comms"):
        assert (await staff_with_rasa.call("POST", "/api/rasa/reload", as_=role))[0] == 403
        assert (await staff_with_rasa.call("GET", "/api/rasa/reload", as_=role))[0] == 403
    assert await staff_with_rasa.call("GET", "/api/rasa/reload") == (200, {"reload": None})


async def test_each_server_in_turn_is_taken_out_loaded_checked_and_put_back(
    staff_with_rasa: Staff, rasas: tuple[FakeRasa, FakeRasa]
) -> None:
    first, second = rasas
    first.load_seconds = 0.5
    status, body = await staff_with_rasa.call("POST", "/api/rasa/reload")
    assert status == 202
    assert [step["state"] for step in body["reload"]["servers"]] == ["waiting", "waiting"]
    assert (await staff_with_rasa.call("POST", "/api/rasa/reload"))[0] == 409
    brain = staff_with_rasa.app[brain_key]
    seen_out: list[set[str]] = []
    for _ in range(100):  # while it runs, never more than one server out at once
        out = await brain.rotation.out(brain.base_urls)
        seen_out.append(out)
        if second.loads:
            break
        await asyncio.sleep(0.05)

    progress = await finished(staff_with_rasa)

    assert progress["error"] is None and progress["by"] == "admin"
    assert [(s["server"], s["state"], s["model"]) for s in progress["servers"]] == [
        (first.url, "back", "model-1"),
        (second.url, "back", "model-1"),
    ]
    assert first.loads == second.loads == ["models/outage-bot.tar.gz"]
    assert {first.url} in seen_out and all(len(out) <= 1 for out in seen_out)
    assert await brain.rotation.out(brain.base_urls) == set()


async def test_a_model_that_fails_to_load_stops_the_update_at_that_server(
    staff_with_rasa: Staff, rasas: tuple[FakeRasa, FakeRasa]
) -> None:
    first, second = rasas
    first.mode = "bad model"

    assert (await staff_with_rasa.call("POST", "/api/rasa/reload"))[0] == 202
    progress = await finished(staff_with_rasa)

    assert "did not load the model: HTTP 500" in progress["error"]
    assert [s["state"] for s in progress["servers"]] == ["failed", "waiting"]
    assert second.loads == []  # the bad model never reached it
    brain = staff_with_rasa.app[brain_key]
    assert await brain.rotation.out(brain.base_urls) == set()  # the first one is back
    assert (await staff_with_rasa.call("POST", "/api/rasa/reload"))[0] == 202  # may retry


async def test_the_command_line_follows_the_update_step_by_step(staff_with_rasa: Staff) -> None:
    from bot.rasa.reload_client import ReloadRefused, follow_reload

    url = str(staff_with_rasa.client.make_url("")).rstrip("/")
    said: list[str] = []

    progress = await follow_reload(url, staff_with_rasa.tokens["admin"], said.append, every=0.1)

    servers = [step["server"] for step in progress["servers"]]
    assert said[-1] == "all reloaded"
    order = ["waiting", "out of rotation", "loading", "checking", "back"]
    for server in servers:
        # Each step as the polls saw it (a quick one may pass between two), in order.
        steps = [line.split(": ", 1)[1] for line in said if line.startswith(f"{server}: ")]
        assert steps[-1] == "back" and "out of rotation" in steps
        assert steps == sorted(steps, key=order.index)
    with pytest.raises(ReloadRefused, match="needs the admin role"):
        await follow_reload(url, staff_with_rasa.tokens["comms"], said.append)
