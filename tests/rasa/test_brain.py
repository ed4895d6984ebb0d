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
from aiohttp import web

from bot.conversations import store as conversations
from bot.keys import brain_key, engine_key, rasa_children_key, responses_key
from bot.messages import Channel, Variant
from bot.rasa.brain import BrainUnavailable, RasaBrain, ServerGone, rendezvous, server_for
from bot.rasa.process import train
from bot.rasa.rotation import RedisRotation
from bot.settings import Secret
from tests.conftest import LiveApp, add_outage, app_settings, running_app
from tests.scratch import free_port, free_ports, redis_url

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
    assert server_for("c", SERVERS) == SERVERS[0]
    assert server_for("f47ac10b-58cc-4372-a567-0e02b3c479d4", SERVERS) == SERVERS[1]


def test_adding_a_server_moves_about_a_third_of_three_and_only_to_it() -> None:
    keys = [str(uuid.uuid4()) for _ in range(3000)]
    three = (*SERVERS, "http://127.0.0.1:5007")
    moved = [key for key in keys if server_for(key, SERVERS) != server_for(key, three)]

    assert 0.25 < len(moved) / len(keys) < 0.42, len(moved)
    assert {server_for(key, three) for key in moved} == {three[2]}


def test_a_server_that_goes_leaves_the_others_conversations_where_they_are() -> None:
    three = (*SERVERS, "http://127.0.0.1:5007")
    keys = [str(uuid.uuid4()) for _ in range(1000)]
    staying = [key for key in keys if server_for(key, three) != three[1]]

    assert all(server_for(key, (three[0], three[2])) == server_for(key, three) for key in staying)
    # The leaver's conversations go to their second choice, over both others.
    leaving = {server_for(k, (three[0], three[2])) for k in keys if k not in staying}
    assert leaving == {three[0], three[2]}


async def test_a_brain_needs_a_server() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="at least one"):
            RasaBrain(session, [])


class FakeRasa:
    """A Rasa REST channel on loopback that answers, hangs, or drops the connection.

    Its HTTP API (``/status``, ``/model``) asks for ``token`` as Rasa's ``--auth-token``
    makes it: 401 without it. Its REST channel asks for nothing, like Rasa's.
    """

    def __init__(self, name: str = "Rasa", token: str | None = None) -> None:
        self.name = name
        self.token = token
        self.calls = 0
        self.model = "model-0"
        self.loads: list[str] = []
        self.load_seconds = 0.0
        self.mode = "answer"
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def rest(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        if self.mode == "hang":
            await asyncio.sleep(5)
        if self.mode == "drop" and request.transport is not None:
            request.transport.close()
        return web.json_response([{"text": f"hello from {self.name}"}])

    def _authenticate(self, request: web.Request) -> None:
        if self.token is not None and request.query.get("token") != self.token:
            raise web.HTTPUnauthorized(text='{"reason": "NotAuthenticated"}')

    async def status(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        return web.json_response({"model_file": "outage-bot.tar.gz", "model_id": self.model})

    async def load(self, request: web.Request) -> web.Response:
        """Rasa's PUT /model: a new model, unless this one is told to fail."""
        self._authenticate(request)
        self.loads.append((await request.json())["model_file"])
        await asyncio.sleep(self.load_seconds)
        if self.mode == "bad model":
            return web.json_response({"message": "LoadingError"}, status=500)
        self.model = f"model-{len(self.loads)}"
        return web.Response(status=204)

    async def parse(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        return web.json_response({"intent": {"name": "report_outage"}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.rest)
        app.router.add_get("/status", self.status)
        app.router.add_put("/model", self.load)
        app.router.add_post("/model/parse", self.parse)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def sender_on(server: str, servers: tuple[str, ...]) -> str:
    """A conversation key that ``server_for`` sends to ``server``."""
    return next(k for k in (f"c{n}" for n in range(100)) if server_for(k, servers) == server)


async def test_a_server_that_refuses_is_not_asked_again_for_a_moment() -> None:
    live, down = FakeRasa(), FakeRasa()
    await live.start()
    servers = (live.url, down.url)
    try:
        async with aiohttp.ClientSession() as session:
            brain = RasaBrain(session, servers, retry_after=0.3)
            waiting = sender_on(down.url, servers)
            with pytest.raises(BrainUnavailable, match="ClientConnectorError"):
                await brain.respond(waiting, "hi", {})
            await down.start()
            with pytest.raises(BrainUnavailable, match="not asked again yet"):
                await brain.respond(waiting, "hi", {})
            assert down.calls == 0
            # The other server's conversations are answered all along.
            assert await brain.respond(sender_on(live.url, servers), "hi", {}) == [
                "hello from Rasa"
            ]

            await asyncio.sleep(0.35)

            assert await brain.respond(waiting, "hi", {}) == ["hello from Rasa"]
    finally:
        await live.stop()
        await down.stop()


async def test_a_hung_server_costs_one_timeout_not_one_per_message() -> None:
    hung = FakeRasa()
    hung.mode = "hang"
    await hung.start()
    try:
        async with aiohttp.ClientSession() as session:
            brain = RasaBrain(session, [hung.url], timeout=0.3, retry_after=10)
            with pytest.raises(BrainUnavailable, match="TimeoutError"):
                await brain.respond("c1", "hi", {})
            started = asyncio.get_running_loop().time()
            for sender in ("c1", "c2", "c3"):
                with pytest.raises(BrainUnavailable, match="not asked again yet"):
                    await brain.respond(sender, "hi", {})
            assert asyncio.get_running_loop().time() - started < 0.1
            assert hung.calls == 1
    finally:
        await hung.stop()


async def test_health_checks_send_the_token_of_rasa_http_api() -> None:
    rasa = FakeRasa(token="the-token-of-its-api")
    await rasa.start()
    try:
        async with aiohttp.ClientSession() as session:
            with_token = RasaBrain(session, [rasa.url], token=Secret("the-token-of-its-api"))
            without = RasaBrain(session, [rasa.url])
            assert await with_token.health() == "ok"
            assert await without.health() == "down"
            # Customers' messages go to the REST channel, which needs no token.
            assert await with_token.respond("c1", "hi", {}) == ["hello from Rasa"]
    finally:
        await rasa.stop()


async def test_a_dropped_connection_fails_only_that_message() -> None:
    rasa = FakeRasa()
    rasa.mode = "drop"
    await rasa.start()
    try:
        async with aiohttp.ClientSession() as session:
            brain = RasaBrain(session, [rasa.url])
            with pytest.raises(BrainUnavailable, match="ServerDisconnectedError"):
                await brain.respond("c1", "hi", {})
            rasa.mode = "answer"
            assert await brain.respond("c1", "hi", {}) == ["hello from Rasa"]
            assert rasa.calls == 2
    finally:
        await rasa.stop()


async def test_with_shared_trackers_a_message_for_a_server_that_is_down_goes_to_the_next() -> None:
    first, second = FakeRasa("first"), FakeRasa("second")
    await second.start()
    servers = (first.url, second.url)
    customer = sender_on(first.url, servers)
    try:
        async with aiohttp.ClientSession() as session:
            brain = RasaBrain(session, servers, shared=True)
            assert await brain.respond(customer, "hi", {}) == ["hello from second"]
            await first.start()
            await brain.check()  # the health check finds it back: its customers return
            assert await brain.respond(customer, "hi", {}) == ["hello from first"]
            first.mode = "drop"  # killed mid-message: Rasa saved nothing, the next one answers
            assert await brain.respond(customer, "hi", {}) == ["hello from second"]
            second.mode = "drop"
            with pytest.raises(ServerGone):
                await brain.respond(customer, "hi", {})
    finally:
        await first.stop()
        await second.stop()


async def test_a_server_out_of_rotation_gets_no_messages_in_any_worker() -> None:
    from redis.asyncio import Redis

    first, second = FakeRasa("first"), FakeRasa("second")
    await first.start()
    await second.start()
    servers = (first.url, second.url)
    customer = sender_on(first.url, servers)
    redis = Redis.from_url(redis_url(14))
    try:
        async with aiohttp.ClientSession() as session:
            running, other = (
                RasaBrain(session, servers, shared=True, rotation=RedisRotation(redis))
                for _ in range(2)
            )
            await running.take_out(first.url)
            await other.check()
            for brain in (running, other):
                assert await brain.respond(customer, "hi", {}) == ["hello from second"]
            await running.put_back(first.url)
            await other.check()
            for brain in (running, other):
                assert await brain.respond(customer, "hi", {}) == ["hello from first"]
            assert first.calls == 2 and second.calls == 2
    finally:
        await redis.delete(*(RedisRotation.PREFIX + url for url in servers))
        await redis.aclose()
        await first.stop()
        await second.stop()


async def test_without_shared_trackers_a_message_waits_for_its_server_to_be_back() -> None:
    """Its context is only there: it waits out a reload rather than start afresh elsewhere."""
    first, second = FakeRasa("first"), FakeRasa("second")
    await first.start()
    await second.start()
    servers = (first.url, second.url)
    customer = sender_on(first.url, servers)
    try:
        async with aiohttp.ClientSession() as session:
            brain = RasaBrain(session, servers)
            await brain.take_out(first.url)
            waiting = asyncio.create_task(brain.respond(customer, "hi", {}))
            await asyncio.sleep(0.3)
            assert not waiting.done() and first.calls == 0

            await brain.put_back(first.url)

            assert await asyncio.wait_for(waiting, 5) == ["hello from first"]
            assert second.calls == 0
    finally:
        await first.stop()
        await second.stop()


async def test_a_health_check_finds_a_server_down_and_back() -> None:
    rasa = FakeRasa()
    servers = (rasa.url,)
    async with aiohttp.ClientSession() as session:
        brain = RasaBrain(session, servers, retry_after=60)
        await brain.check()
        with pytest.raises(BrainUnavailable, match="not asked again yet"):
            await brain.respond("c1", "hi", {})
        await rasa.start()
        try:
            await brain.check()
            assert await brain.respond("c1", "hi", {}) == ["hello from Rasa"]
        finally:
            await rasa.stop()


def test_every_server_has_a_place_in_each_order() -> None:
    assert sorted(rendezvous("c1", SERVERS)) == sorted(SERVERS)


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
@pytest.mark.long
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
