"""``/console/events``: consoles are told to refresh when what they show changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from bot.keys import console_events_key, engine_key
from tests.handoff.test_queue import escalated
from tests.web.conftest import Staff

PATH = "/console/events"


async def next_event(socket: ClientWebSocketResponse, within: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(within):
        message = await socket.receive()
    assert message.type == WSMsgType.TEXT, message
    event: dict[str, Any] = message.json()
    return event


async def changed_after(socket: ClientWebSocketResponse, action: Awaitable[Any]) -> Any:
    """The next event after ``action``, once what earlier changes owed has arrived.

    Changes within one check of the database (a second) make one event.
    """
    with contextlib.suppress(TimeoutError):
        while True:
            await socket.receive(timeout=1.5)
    await action
    return await next_event(socket)


async def test_a_console_hears_of_a_new_hand_off_a_claim_and_a_reply(staff: Staff) -> None:
    engine = staff.app[engine_key]
    conversation_id, escalation_id = await escalated(engine, "ann")
    async with staff.client.ws_connect(PATH) as socket:
        await socket.send_json({"token": staff.tokens["agent"]})
        ready = await next_event(socket)
        opened = await changed_after(socket, escalated(engine, "cat"))
        claimed = await changed_after(
            socket, staff.call("POST", f"/api/escalations/{escalation_id}/claim", as_="agent")
        )
        reply = staff.call(
            "POST", f"/api/conversations/{conversation_id}/reply", "agent", {"text": "Hi Ann"}
        )
        replied = await changed_after(socket, reply)

    assert ready == {"type": "ready", "user": "agent"}
    assert opened == claimed == replied == {"type": "changed"}


async def test_a_console_is_told_nothing_while_nothing_changes(staff: Staff) -> None:
    async with staff.client.ws_connect(PATH) as socket:
        await socket.send_json({"token": staff.tokens["comms"]})
        await next_event(socket)
        with pytest.raises(TimeoutError):
            await socket.receive(timeout=2.5)


async def test_a_socket_without_a_valid_token_is_closed_with_the_reason(staff: Staff) -> None:
    """A frame that is not JSON at all gets an error and another chance (test_untrusted)."""
    for first in ({"token": "not-a-token"}, {"name": "agent"}, ["agent"]):
        async with staff.client.ws_connect(PATH) as socket:
            await socket.send_json(first)
            error = await next_event(socket)
            closing = await socket.receive()

        assert error == {"type": "error", "error": "the API token is not valid"}, first
        assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4401), first


async def test_stopping_the_server_closes_the_consoles(staff: Staff) -> None:
    async with staff.client.ws_connect(PATH) as socket:
        await socket.send_json({"token": staff.tokens["admin"]})
        await next_event(socket)
        await staff.app[console_events_key].close()
        closing = await socket.receive()

    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 1001)


async def test_a_plain_request_is_told_it_is_a_websocket(staff: Staff) -> None:
    async with staff.client.get(PATH) as response:
        assert response.status == 400
        assert "WebSocket" in (await response.json())["error"]
