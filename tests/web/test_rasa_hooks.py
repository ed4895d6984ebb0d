"""Rasa's calls back into the app: only with the shared secret, and nothing done without."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Escalation, Subscription
from bot.rasa.callback_secret import HEADER
from bot.settings import Secret, Settings
from bot.web.app import create_app
from tests.rasa.actions.conftest import open_conversation
from tests.scratch import locator_for
from tests.web.conftest import DEAD_RASA, ClientFactory

SECRET = "the-secret-our-rasa-sends-0123456789"


@pytest.fixture
async def client(
    engine: AsyncEngine, database_url: str, tmp_path: Path, aiohttp_client: ClientFactory
) -> TestClient[Any, Any]:
    settings = replace(
        Settings.from_env(environ={}),
        database_url=database_url,
        rasa_url=DEAD_RASA,
        var_dir=tmp_path,
        callback_secret=Secret(SECRET),
    )
    return await aiohttp_client(create_app(settings, locator=locator_for(settings.data_dir)))


def action_call(action: str, key: str, slots: dict[str, Any] | None = None) -> dict[str, Any]:
    """An action call as Rasa 3.6 sends it for conversation ``key``."""
    tracker = {
        "sender_id": key,
        "slots": slots or {},
        "latest_message": {"text": "get me a human", "intent": {"name": "request_human"}},
        "events": [{"event": "user", "text": "get me a human"}],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    return {
        "next_action": action,
        "sender_id": key,
        "tracker": tracker,
        "domain": {},
        "version": "3.6.21",
    }


NLG_CALL = {
    "response": "utter_ask_area_code",
    "arguments": {},
    "tracker": {"latest_message": {"metadata": {"variant": "web"}}, "slots": {}},
    "channel": {"name": "collector"},
}


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows every table holds."""
    async with AsyncSession(engine) as session:
        return {
            name: (await session.exec(select(func.count()).select_from(table))).one()
            for name, table in SQLModel.metadata.tables.items()
        }


FORGED = [
    pytest.param({}, 401, id="no secret"),
    pytest.param({HEADER: "guessed"}, 403, id="wrong secret"),
    pytest.param({HEADER: SECRET[:-1]}, 403, id="all but the last character"),
    pytest.param({HEADER: SECRET + "x"}, 403, id="one character more"),
    pytest.param({HEADER: ""}, 403, id="empty secret"),
    pytest.param({HEADER: "sécret"}, 403, id="not ASCII"),
]


@pytest.mark.parametrize(("headers", "status"), FORGED)
@pytest.mark.parametrize("action", ["action_escalate", "action_subscribe"])
async def test_a_forged_action_call_is_refused_and_writes_nothing(
    client: TestClient[Any, Any],
    engine: AsyncEngine,
    headers: dict[str, str],
    status: int,
    action: str,
) -> None:
    _, key = await open_conversation(engine)
    before = await row_counts(engine)

    call = action_call(action, key, {"area_code": "0113", "place": "Leeds"})
    async with client.post("/webhooks/actions", json=call, headers=headers) as response:
        assert response.status == status
        assert response.content_type == "application/json"
        assert HEADER in (await response.json())["error"]

    assert await row_counts(engine) == before


@pytest.mark.parametrize(("headers", "status"), FORGED)
async def test_a_forged_nlg_call_is_refused_without_rendering(
    client: TestClient[Any, Any], headers: dict[str, str], status: int
) -> None:
    async with client.post("/webhooks/nlg", json=NLG_CALL, headers=headers) as response:
        assert response.status == status
        body = await response.json()
    assert set(body) == {"error"}
    assert HEADER in body["error"]


async def test_the_secret_is_checked_before_the_body_is_read(
    client: TestClient[Any, Any],
) -> None:
    for path in ("/webhooks/actions", "/webhooks/nlg"):
        async with client.post(path, data=b"{not json") as response:
            assert response.status == 401
        async with client.post(path, data=b"{not json", headers={HEADER: SECRET}) as response:
            assert response.status == 400


async def test_rasa_with_the_secret_runs_the_action(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    conversation, key = await open_conversation(engine)

    async with client.post(
        "/webhooks/actions", json=action_call("action_escalate", key), headers={HEADER: SECRET}
    ) as response:
        assert response.status == 200
        assert (await response.json())["responses"]

    async with AsyncSession(engine) as session:
        escalated = (await session.exec(select(Escalation.conversation_id))).all()
        assert escalated == [conversation]
        assert (await session.exec(select(Subscription))).all() == []


async def test_rasa_with_the_secret_gets_the_text(client: TestClient[Any, Any]) -> None:
    async with client.post("/webhooks/nlg", json=NLG_CALL, headers={HEADER: SECRET}) as response:
        assert response.status == 200
        assert (await response.json())["text"]
