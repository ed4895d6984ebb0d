"""Several Rasa servers: each conversation sticks to one, so its context is kept.

The end-to-end test starts the app the way ``outage-bot serve`` does when no RASA_URL
is set, with two real Rasa children, holds conversations that land on both, then kills
one child and sees it restarted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot import conversations
from bot.brain import RasaBrain, server_for
from bot.keys import brain_key, engine_key, rasa_children_key, responses_key
from bot.messages import Channel, Variant
from bot.rasa_process import train
from tests.conftest import LiveApp, add_outage, app_settings, running_app
from tests.scratch import free_port, free_ports

SERVERS = ("http://127.0.0.1:5005", "http://127.0.0.1:5006")


def test_a_conversation_always_goes_to_the_same_server() -> None:
    for n in range(100):
        key = str(uuid.UUID(int=n))
        assert server_for(key, SERVERS) == server_for(key, SERVERS)


def test_conversations_spread_over_every_server() -> None:
    keys = [str(uuid.uuid4()) for _ in range(1000)]
    counts = {url: sum(server_for(key, SERVERS) == url for key in keys) for url in SERVERS}
    assert all(300 < count < 700 for count in counts.values()), counts


def test_the_choice_does_not_depend_on_the_process() -> None:
    """Python's own hash() differs per process; every worker must pick alike."""
    assert server_for("f47ac10b-58cc-4372-a567-0e02b3c479d4", SERVERS) == SERVERS[0]
    assert server_for("7c9e6679-7425-40de-944b-e07fc1f8a7b3", SERVERS) == SERVERS[1]


async def test_a_brain_needs_a_server() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="at least one"):
            RasaBrain(session, [])


async def _wait_for(condition: Callable[[], bool], within: float) -> None:
    for _ in range(int(within * 10)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def _rasa_health(live: LiveApp) -> str:
    async with live.client.get(f"{live.url}/healthz") as response:
        return str((await response.json())["rasa"])


async def _wait_for_rasa(live: LiveApp, within: float = 300) -> None:
    for _ in range(int(within * 2)):
        if await _rasa_health(live) == "ok":
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the Rasa children did not come up")


@pytest.mark.e2e
async def test_two_rasa_children_keep_each_conversations_context(tmp_path: Path) -> None:
    base = app_settings(f"sqlite:///{tmp_path / 'bot.db'}", "", free_port(), tmp_path)
    train(base.intents_dir)
    settings = replace(base, rasa_url=None, rasa_processes=2, rasa_port=free_ports(2))
    async with running_app(settings) as live:
        await _wait_for_rasa(live)
        servers = live.app[brain_key].base_urls
        assert len(servers) == 2
        await add_outage(live.app, ["0161"])
        ask = live.app[responses_key].render("utter_ask_area_code", Variant.WEB)
        customers: dict[str, str] = {}  # customer -> the Rasa server of their conversation
        while len(customers) < 4 or set(customers.values()) != set(servers):
            assert len(customers) < 40, "every conversation landed on one server"
            customer = f"web-{uuid.uuid4().hex[:12]}"
            first = await live.chat(customer, "broadband down in 0161?")
            assert "Manchester" in first["replies"][0]["text"]
            customers[customer] = server_for(await _conversation_key(live, customer), servers)
        for customer in customers:
            answer = await live.chat(customer, "when will it be fixed?")
            follow_up = [reply["text"] for reply in answer["replies"]]
            assert ask not in follow_up and "Manchester" in follow_up[0], follow_up

        # A child that dies is restarted on its own port; its customers are answered again.
        child = live.app[rasa_children_key][1]
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        assert await _rasa_health(live) == "1 of 2 down"
        await _wait_for(lambda: child.restarts == 1, within=10)
        await _wait_for_rasa(live)
        customer = next(c for c, server in customers.items() if server == child.url)
        again = await live.chat(customer, "any outage in 0161?")
        assert "Manchester" in again["replies"][0]["text"]


async def _conversation_key(live: LiveApp, customer: str) -> str:
    conversation = await conversations.by_channel_user(live.app[engine_key], Channel.WEB, customer)
    assert conversation is not None
    return conversation.key
