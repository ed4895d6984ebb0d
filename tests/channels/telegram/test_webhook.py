"""The Telegram webhook: the real python-telegram-bot client posting through a fake Bot API.

Posts are refused without the secret, stored before they are answered 200, and a worker
that leaves delivery to the primary still takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.webhook import webhook_secret
from bot.keys import (
    responses_key,
    telegram_key,
)
from bot.messages import Variant
from bot.models import Message
from bot.settings import Secret, Settings, SettingsError
from tests.channels.telegram.rig import CHAT, Rig, running, settle
from tests.conftest import add_outage, app_settings, running_app
from tests.fakes.telegram_api import FakeTelegram
from tests.scratch import free_port


@pytest.mark.parametrize("secret", [None, "", "has spaces", "x" * 257, "ünïcode"])
def test_webhook_mode_needs_a_secret_telegram_accepts(secret: str | None) -> None:
    settings = Settings(
        telegram_webhook_url="https://bot.example.com/webhooks/telegram",
        telegram_webhook_secret=None if secret is None else Secret(secret),
    )
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET") as refused:
        webhook_secret(settings)
    assert not secret or secret not in str(refused.value)


def test_polling_needs_no_secret_and_webhook_mode_keeps_a_good_one() -> None:
    assert webhook_secret(Settings(telegram_webhook_secret=Secret("unused"))) is None
    settings = Settings(
        telegram_webhook_url="https://bot.example.com/webhooks/telegram",
        telegram_webhook_secret=Secret("A-z_09" * 40),
    )
    assert webhook_secret(settings) == "A-z_09" * 40


@dataclass
class WebhookServer:
    url: str
    runner: web.AppRunner


@contextlib.asynccontextmanager
async def webhook_server(holder: list[TelegramChannel]) -> AsyncIterator[WebhookServer]:
    async def route(request: web.Request) -> web.Response:
        return await holder[0].webhook(request)

    app = web.Application()
    app.router.add_post("/webhooks/telegram", route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield WebhookServer(f"http://{host}:{port}/webhooks/telegram", runner)
    finally:
        await runner.cleanup()


async def test_webhook_mode_accepts_the_secret_and_rejects_anything_else(rig: Rig) -> None:
    holder: list[TelegramChannel] = []
    async with webhook_server(holder) as server:
        holder.append(rig.channel(telegram_webhook_url=server.url))
        async with running(holder[0]):
            assert rig.fake.webhook.url == server.url
            assert rig.fake.webhook.secret_token == "s3cret-token_OK"
            assert rig.fake.method_calls("getUpdates") == []

            wrong = await rig.fake.push_webhook(rig.fake.message(CHAT, "wrong"), secret="nope")
            async with (
                ClientSession() as session,
                session.post(server.url, json=rig.fake.message(CHAT, "none")) as response,
            ):
                missing = (response.status, await response.json())
            right = await rig.fake.push_webhook(rig.fake.message(CHAT, "no dial tone"))
            sent = await rig.fake.wait_sent(1)

    assert wrong == 403
    assert missing == (403, {"error": "wrong or missing secret token"})
    assert right == 200
    assert [m.text for m in sent] == ["You said: no dial tone"]
    assert [m.text for m in await rig.messages("in")] == ["no dial tone"]


async def test_webhook_rejects_a_body_that_is_not_an_update(rig: Rig) -> None:
    holder: list[TelegramChannel] = []
    async with webhook_server(holder) as server:
        holder.append(rig.channel(telegram_webhook_url=server.url))
        async with running(holder[0]), ClientSession() as session:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_OK"}
            async with session.post(server.url, data=b"not json", headers=headers) as response:
                assert response.status == 400
                assert await response.json() == {"error": "the body must be JSON"}
            deep = b"[" * 5000 + b"]" * 5000  # Python's parser would recurse into a 500
            async with session.post(server.url, data=deep, headers=headers) as response:
                assert response.status == 400
                assert await response.json() == {
                    "error": "the body nests more than 32 levels deep"
                }


async def test_a_worker_that_leaves_delivery_to_the_primary_takes_webhook_posts(
    rig: Rig,
) -> None:
    holder: list[TelegramChannel] = []
    async with webhook_server(holder) as server:
        worker = rig.channel(telegram_webhook_url=server.url)
        holder.append(worker)
        await worker.start(deliver=False)
        try:
            async with asyncio.timeout(10):
                await worker.ready.wait()
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_OK"}
            async with (
                ClientSession() as session,
                session.post(
                    server.url,
                    json={"update_id": 501, **rig.fake.message(CHAT, "no dial tone")},
                    headers=headers,
                ) as response,
            ):
                status = response.status
            await settle()
            waiting = [(m.text, m.state) for m in await rig.messages("out")]
            calls = [rig.fake.method_calls(m) for m in ("setWebhook", "getUpdates")]
            async with running(rig.channel(telegram_webhook_url=server.url)):  # the primary
                sent = await rig.fake.wait_sent(1)
        finally:
            await worker.stop()

    assert status == 200
    assert waiting == [("You said: no dial tone", "pending")]
    assert calls == [[], []]
    assert [m.text for m in sent] == ["You said: no dial tone"]


async def test_only_a_webhook_channel_leaves_delivery_to_another_worker(rig: Rig) -> None:
    with pytest.raises(ValueError, match="webhook"):
        await rig.channel().start(deliver=False)


async def test_a_worker_of_the_app_that_is_not_primary_takes_webhook_posts(
    fake: FakeTelegram, engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    settings = replace(
        app_settings(database_url, "http://127.0.0.1:9", free_port(), tmp_path),  # no Rasa
        telegram_bot_token=Secret(fake.token),
        telegram_api_url=fake.api_url,
        telegram_webhook_url="https://bot.example.com/webhooks/telegram",
        telegram_webhook_secret=Secret("s3cret-token_OK"),
    )
    update = {"update_id": 9, **fake.message(CHAT, "is 0161 down?")}
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_OK"}
    async with running_app(settings, primary=False) as live:
        async with asyncio.timeout(10):
            await live.app[telegram_key].ready.wait()
        async with live.client.post(
            f"{live.url}/webhooks/telegram", json=update, headers=headers
        ) as response:
            status = response.status
        holding = live.app[responses_key].render("utter_holding", Variant.TELEGRAM)
    async with AsyncSession(engine) as session:
        stored = (await session.exec(select(Message).order_by(col(Message.id)))).all()

    assert status == 200
    assert [(m.direction, m.text) for m in stored] == [("in", "is 0161 down?"), ("out", holding)]
    assert stored[1].state == "pending"  # for the primary worker to send
    assert fake.method_calls("setWebhook") == []


async def test_duplicate_webhook_delivery_is_answered_once(rig: Rig) -> None:
    holder: list[TelegramChannel] = []
    async with webhook_server(holder) as server:
        holder.append(rig.channel(telegram_webhook_url=server.url))
        async with running(holder[0]):
            update = {"update_id": 77, **rig.fake.message(CHAT, "is it fixed?")}
            first = await rig.fake.push_webhook(update)
            second = await rig.fake.push_webhook(update)
            await rig.fake.wait_sent(1)
            await settle()

    assert (first, second) == (200, 200)
    assert [m.text for m in rig.fake.sent] == ["You said: is it fixed?"]
    assert rig.brain.heard == ["is it fixed?"]


@pytest.mark.e2e
async def test_through_the_app_webhook_and_rasa_a_question_is_answered(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    await fake.start()
    settings = replace(
        app_settings(database_url, rasa_server, app_port, tmp_path),
        telegram_bot_token=Secret(fake.token),
        telegram_api_url=fake.api_url,
        telegram_webhook_url=f"http://127.0.0.1:{app_port}/webhooks/telegram",
        telegram_webhook_secret=Secret("e2e-secret"),
    )
    try:
        async with running_app(settings) as live:  # TELEGRAM_* settings start the channel
            await add_outage(live.app, ["0161"], cause="a cut fibre cable")
            async with asyncio.timeout(30):
                await live.app[telegram_key].ready.wait()
            assert fake.webhook.secret_token == "e2e-secret"
            forged = await fake.push_webhook(fake.message(CHAT, "hi"), secret="forged")
            status = await fake.push_webhook(fake.message(CHAT, "is broadband down in 0161?"))
            sent = await fake.wait_sent(1, within=60)
            responses = live.app[responses_key]
    finally:
        await fake.close()

    assert (forged, status) == (403, 200)
    assert sent[0].text != responses.render("utter_holding", Variant.TELEGRAM)
    assert "Manchester" in sent[0].text or "0161" in sent[0].text
