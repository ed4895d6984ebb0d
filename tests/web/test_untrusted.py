"""Hostile JSON and text on every JSON route and the console socket, on both databases.

Deep nesting, NUL (which PostgreSQL cannot store), lone surrogates and control
characters get a 400 or 422 with the reason, never a 500 or a dropped socket, and
nothing is written. The whole app from its own factory; no Rasa is needed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keys import callback_secret_key, engine_key
from bot.models import ChatIdentity, Incident, Message, User
from bot.untrusted import MAX_DEPTH
from tests.handoff.test_queue import escalated
from tests.web.conftest import Staff
from tests.web.test_console_events import PATH as CONSOLE
from tests.web.test_console_events import changed_after, next_event

HOLE = "@@hostile@@"

HOSTILE = {
    # name: (what replaces the string HOLE in the JSON text, status, words of the reason)
    "nul": ('"broadband\\u0000down"', 422, "a NUL character (U+0000)"),
    "lone surrogate": ('"down \\ud83d in 0161"', 422, "a lone surrogate (U+D83D)"),
    "control character": ('"ring\\u0007ring"', 422, "a control character (U+0007)"),
    "escape sequence": ('"\\u001b[2J"', 422, "a control character (U+001B)"),
    "deep": ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), 400, "nests more than 32 levels"),
    "very deep": ("[" * 100_000 + "]" * 100_000, 400, "nests more than 32 levels"),
}

ROUTES: list[tuple[str, str, str | None, dict[str, Any]]] = [
    # method, path, role (None: no token; rasa: the callback secret), a valid body with HOLE
    ("POST", "/api/chat", None, {"sender": "ann", "text": HOLE}),
    ("POST", "/login", None, {"username": HOLE, "password": "a-password"}),
    ("POST", "/api/incidents", "admin", {"title": HOLE, "areas": ["0161"]}),
    ("PUT", "/api/responses/utter_greet", "comms", {"channel": "default", "text": HOLE}),
    ("POST", "/api/users", "admin", {"name": HOLE, "role": "agent"}),
    ("PATCH", "/api/users/agent2", "admin", {"role": HOLE}),
    ("POST", "/api/tokens", "agent", {"days": HOLE}),
    ("POST", "/api/conversations/1/reply", "agent", {"text": HOLE}),
    ("POST", "/api/conversations/1/close", "agent", {"outcome": HOLE}),
    ("POST", "/webhooks/nlg", "rasa", {"response": HOLE, "arguments": {}}),
    ("POST", "/webhooks/actions", "rasa", {"next_action": HOLE}),
]

WRITTEN: list[type[SQLModel]] = [Message, ChatIdentity, Incident, User]


async def counts(engine: AsyncEngine) -> dict[str, int]:
    found = {}
    async with AsyncSession(engine) as session:
        for table in WRITTEN:
            found[table.__name__] = (
                await session.exec(select(func.count()).select_from(table))
            ).one()
    return found


@pytest.mark.parametrize(("method", "path", "role", "body"), ROUTES, ids=lambda v: str(v))
async def test_every_json_route_refuses_hostile_input_with_the_reason(
    staff: Staff, method: str, path: str, role: str | None, body: dict[str, Any]
) -> None:
    headers = {"Content-Type": "application/json"}
    if role == "rasa":
        headers["X-Outage-Bot-Secret"] = staff.app[callback_secret_key].reveal()
    elif role is not None:
        headers["Authorization"] = f"Bearer {staff.tokens[role]}"
    before = await counts(staff.app[engine_key])
    for kind, (replacement, status, reason) in HOSTILE.items():
        raw = json.dumps(body).replace(f'"{HOLE}"', replacement)
        async with staff.client.request(method, path, data=raw, headers=headers) as response:
            assert response.content_type == "application/json", await response.text()
            answer = await response.json()
        assert response.status == status, (kind, answer)
        assert reason in answer["error"], (kind, answer)
    assert await counts(staff.app[engine_key]) == before


async def test_a_hostile_key_is_refused_too(staff: Staff) -> None:
    raw = '{"sender": "ann", "text": "hi", "x\\u0000": 1}'
    async with staff.client.post(
        "/api/chat", data=raw, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 422
        reason = (await response.json())["error"]
    assert reason == "a key in the body contains a NUL character (U+0000)"


@pytest.mark.parametrize(
    ("path", "role", "reason"),
    [
        ("/api/chat/updates?sender=ann%00", None, "the query parameter 'sender' contains a NUL"),
        ("/api/incidents?area=01%0761", "agent", "the query parameter 'area' contains a control"),
        ("/api/incidents/INC%00-1", "agent", "the path contains a NUL"),
        ("/api/chat/updates?sender=ann&%1b=1", None, "a query parameter's name contains"),
    ],
)
async def test_urls_with_refused_characters_are_422(
    staff: Staff, path: str, role: str | None, reason: str
) -> None:
    headers = {"Authorization": f"Bearer {staff.tokens[role]}"} if role else {}
    async with staff.client.get(path, headers=headers) as response:
        assert response.status == 422
        assert reason in (await response.json())["error"]


async def test_the_sign_in_form_refuses_a_nul_in_the_user_name(staff: Staff) -> None:
    form = {"username": "admin\x00", "password": "whatever-it-is", "next": "/console"}
    async with staff.client.post("/login", data=form, allow_redirects=False) as response:
        assert response.status == 422
        assert "the form field 'username' contains a NUL" in (await response.json())["error"]


async def test_the_console_socket_answers_hostile_frames_with_an_error_and_stays_open(
    staff: Staff,
) -> None:
    engine = staff.app[engine_key]
    async with staff.client.ws_connect(CONSOLE) as socket:
        # Before the token: each refused frame is answered, and the token may still come.
        for kind in HOSTILE:
            replacement, _, reason = HOSTILE[kind]
            await socket.send_str(json.dumps({"token": HOLE}).replace(f'"{HOLE}"', replacement))
            event = await next_event(socket)
            assert event["type"] == "error" and reason in event["error"], (kind, event)
        await socket.send_str("agent")
        assert (await next_event(socket))["error"] == "the frame must be JSON"
        await socket.send_json({"token": staff.tokens["agent"]})
        assert await next_event(socket) == {"type": "ready", "user": "agent"}

        # Signed in: the same, and the console still hears of changes afterwards.
        for kind in HOSTILE:
            replacement, _, reason = HOSTILE[kind]
            await socket.send_str(replacement)
            event = await next_event(socket)
            assert event["type"] == "error" and reason in event["error"], (kind, event)
        await socket.send_str("not json at all")
        assert (await next_event(socket))["error"] == "the frame must be JSON"
        assert not socket.closed
        assert await changed_after(socket, escalated(engine, "ann")) == {"type": "changed"}


async def test_a_console_frame_that_is_not_text_is_ignored(staff: Staff) -> None:
    async with staff.client.ws_connect(CONSOLE) as socket:
        await socket.send_json({"token": staff.tokens["agent"]})
        await next_event(socket)
        await socket.send_bytes(b"\x00\x01")
        with pytest.raises(TimeoutError):
            await socket.receive(timeout=0.5)
        assert not socket.closed
        await socket.close()
        assert (await asyncio.wait_for(socket.receive(), 5)).type == WSMsgType.CLOSED
