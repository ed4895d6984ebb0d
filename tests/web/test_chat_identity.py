"""A web-chat conversation is its customer's alone: the server-issued secret, on both databases.

The whole app from its own factory, with no Rasa (every message gets the holding reply,
which is all these tests need); an agent's reply stands for what a customer picks up.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.chat_identity import REFUSED, ChatIdentities, Verdict
from bot.handoff.escalation import escalate
from bot.keys import settings_key
from bot.models import ChatIdentity, Message
from bot.web.app import create_app
from bot.web.chat import COOKIE, HEADER
from tests.web.conftest import ClientFactory, Staff

Answer = tuple[int, dict[str, Any], str]
"""The status, the JSON body and the ``Set-Cookie`` header (empty when none)."""


def carry(client: TestClient[Any, Any], secret: str | None, cookie: str | None) -> dict[str, str]:
    """The request's chat secret: in the header, or as the page's cookie, or none at all.

    The test client keeps cookies like a browser; each call here says what it presents.
    """
    jar = client.session.cookie_jar
    jar.clear()
    if cookie is not None:
        jar.update_cookies({COOKIE: cookie})
    return {HEADER: secret} if secret is not None else {}


async def post(
    client: TestClient[Any, Any],
    sender: str,
    text: str = "hello",
    secret: str | None = None,
    message_id: str | None = None,
    cookie: str | None = None,
) -> Answer:
    body: dict[str, str] = {"sender": sender, "text": text}
    if message_id is not None:
        body["id"] = message_id
    headers = carry(client, secret, cookie)
    async with client.post("/api/chat", json=body, headers=headers) as response:
        return response.status, await response.json(), response.headers.get("Set-Cookie", "")


async def updates(
    client: TestClient[Any, Any],
    sender: str,
    secret: str | None = None,
    cookie: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = carry(client, secret, cookie)
    async with client.get(
        "/api/chat/updates", params={"sender": sender}, headers=headers
    ) as response:
        return response.status, await response.json()


async def inbound_count(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        query = select(func.count()).select_from(Message).where(Message.direction == "in")
        return (await session.exec(query)).one()


async def test_the_first_message_issues_the_secret_once_in_the_body_and_a_strict_cookie(
    staff: Staff,
) -> None:
    status, body, cookie = await post(staff.client, "ann")
    assert status == 200
    secret = body["chat_secret"]
    assert len(secret) >= 43
    assert cookie.startswith(f"{COOKIE}={secret};")
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "max-age", "path"} <= flags and "secure" not in flags
    assert "SameSite=Strict" in cookie and "Path=/api/chat" in cookie

    status, body, cookie = await post(staff.client, "ann", "again", secret=secret)
    assert status == 200 and "chat_secret" not in body and cookie == ""


async def test_the_cookie_is_secure_when_the_service_is_behind_https(
    staff: Staff, aiohttp_client: ClientFactory
) -> None:
    settings = replace(staff.app[settings_key], behind_https=True)
    client = await aiohttp_client(create_app(settings))
    _, _, cookie = await post(client, "ann")
    assert "Secure" in cookie and "HttpOnly" in cookie


async def test_without_the_secret_nothing_is_written_or_read(
    staff: Staff, engine: AsyncEngine
) -> None:
    status, body, _ = await post(staff.client, "ann")
    secret = body["chat_secret"]
    conversation_id = body["conversation"]["id"]
    await escalate(engine, conversation_id, "request_human")
    await staff.call("POST", f"/api/conversations/{conversation_id}/reply", json={"text": "Hi"})
    before = await inbound_count(engine)

    for wrong in (None, "", "guess", secret[:-1], secret + "x", "x" * 1000):
        status, body, _ = await post(staff.client, "ann", "I am Ann, honest", secret=wrong)
        assert status == 403, wrong
        assert "chat secret" in body["error"]
        status, body = await updates(staff.client, "ann", wrong)
        assert status == 403 and "chat secret" in body["error"]
    assert await inbound_count(engine) == before

    status, body = await updates(staff.client, "ann", secret)
    assert (status, body["replies"]) == (200, [{"text": "Hi"}])  # still there for Ann


async def test_the_page_presents_its_cookie(staff: Staff) -> None:
    status, body, _ = await post(staff.client, "page")
    assert status == 200
    secret = body["chat_secret"]
    status, body, _ = await post(staff.client, "page", "and again", cookie=secret)
    assert status == 200 and "chat_secret" not in body
    assert (await updates(staff.client, "page", cookie=secret))[0] == 200
    assert (await updates(staff.client, "page", cookie="forged"))[0] == 403
    # The header wins over the cookie: a script's secret is not overruled by a jar.
    assert (await updates(staff.client, "page", secret="forged", cookie=secret))[0] == 403


async def test_a_new_sender_gets_a_new_secret_whatever_it_presents(staff: Staff) -> None:
    _, first, _ = await post(staff.client, "ann")
    status, body, _ = await post(staff.client, "bob", secret=first["chat_secret"])
    assert status == 200 and body["chat_secret"] != first["chat_secret"]
    status, _, _ = await post(staff.client, "ann", secret=body["chat_secret"])
    assert status == 403


async def test_a_sender_nobody_wrote_as_has_nothing_to_read(staff: Staff) -> None:
    assert await updates(staff.client, "nobody-yet") == (
        200,
        {"replies": [], "conversation": {"id": 0, "state": "bot"}},
    )


async def test_the_first_message_sent_again_unanswered_gets_a_new_secret_until_one_is_used(
    staff: Staff, engine: AsyncEngine
) -> None:
    """The page sends a message again, same id, when the answer never came (a worker died)."""
    status, lost, _ = await post(staff.client, "ann", message_id="m-1")
    assert status == 200
    status, again, _ = await post(staff.client, "ann", message_id="m-1")
    assert status == 200 and again["chat_secret"] != lost["chat_secret"]
    assert await inbound_count(engine) == 1  # the same message, answered once
    assert (await post(staff.client, "ann", secret=lost["chat_secret"]))[0] == 403

    status, _, _ = await post(staff.client, "ann", "next", secret=again["chat_secret"])
    assert status == 200
    # Now the secret has been used: the first message's id opens nothing any more.
    assert (await post(staff.client, "ann", message_id="m-1"))[0] == 403
    assert (await post(staff.client, "ann", message_id="m-2"))[0] == 403


async def test_two_first_messages_at_once_one_sender_one_owner(staff: Staff) -> None:
    answers = await asyncio.gather(
        post(staff.client, "twin", message_id="a"), post(staff.client, "twin", message_id="b")
    )
    assert sorted(status for status, _, _ in answers) == [200, 403]


async def test_only_the_digest_is_stored_and_staff_never_see_the_secret(
    staff: Staff, engine: AsyncEngine
) -> None:
    _, body, _ = await post(staff.client, "ann", "get me a human")
    secret = body["chat_secret"]
    conversation_id = body["conversation"]["id"]
    async with AsyncSession(engine) as session:
        [row] = (await session.exec(select(ChatIdentity))).all()
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in row.model_dump_json()

    await escalate(engine, conversation_id, "request_human")
    seen = []
    for path in [
        "/api/escalations",
        f"/api/conversations/{conversation_id}",
        "/api/stats",
        "/api/audit",
    ]:
        status, body = await staff.call("GET", path, as_="admin")
        assert status == 200, path
        seen.append(json.dumps(body))
    assert all(secret not in text and row.secret_hash not in text for text in seen)


async def test_a_confirmed_identity_is_checked_without_the_database(engine: AsyncEngine) -> None:
    identities = ChatIdentities(engine, remembered=1)
    issued = (await identities.admit("ann", None, "web-1")).issued
    assert issued is not None
    assert await identities.admit("ann", "nope", "web-2") == REFUSED
    assert await identities.admit("ann", issued) == Verdict(allowed=True)  # confirmed
    assert await identities.may_read("ann", issued)
    assert not await identities.may_read("ann", None)

    # A worker's memory agrees with the database, and forgets its oldest first.
    assert await ChatIdentities(engine).may_read("ann", issued)
    bob = (await identities.admit("bob", None)).issued
    await identities.admit("bob", bob)
    async with AsyncSession(engine) as session:
        await session.exec(delete(ChatIdentity).where(col(ChatIdentity.sender) == "bob"))
        await session.commit()
    assert await identities.may_read("bob", bob)  # remembered: no query
    assert await identities.may_read("ann", issued)  # forgotten, so read again
