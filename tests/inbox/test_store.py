"""The inboxes that go straight to the driver, against the engine path they stand in for.

On each database (SQLite, PostgreSQL) the app opens an inbox of its own; the router's
tests run it end to end. Here are the rules it must keep by itself: the same rows as
the engine path writes, values the ORM reads back unchanged, a platform message stored
once, all of a transaction or none of it.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.conversations.store import Answer
from bot.db import create_engine
from bot.inbox.postgres import PostgresInbox
from bot.inbox.sqlite import SqliteInbox
from bot.inbox.store import EngineInbox, Inbox, open_inbox
from bot.messages import Channel, Inbound, Variant
from bot.models import Conversation, ConversationState, Message, MessageState
from tests.scratch import empty_tables


@pytest.fixture
async def native(engine: AsyncEngine, inbox: Inbox) -> tuple[AsyncEngine, Inbox]:
    """The test's database and the inbox the app opens on it (never the engine path)."""
    assert isinstance(inbox, SqliteInbox | PostgresInbox)
    return engine, inbox


def tg(text: str, external_id: str | None, user: str = "42") -> Inbound:
    return Inbound(Channel.TELEGRAM, user, text, external_id=external_id, display_name="Ann")


async def receive(inbox: Inbox, inbound: Inbound) -> conversations.Received:
    received = await inbox.receive(inbound)
    assert received is not None
    return received


async def transcript(engine: AsyncEngine) -> list[tuple[object, ...]]:
    """Every message as the ORM reads it, without ids and times (which differ by run)."""
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(Message).order_by(col(Message.id)))).all()
    return [
        (
            m.channel,
            m.direction,
            m.author,
            m.text,
            m.external_id,
            m.reply_to,
            m.variant,
            m.state,
            m.sent_at is not None,
        )
        for m in rows
    ]


async def time_shapes(engine: AsyncEngine) -> set[str]:
    """How the times are written in the file, digits masked: what ordering by them sees."""
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "SELECT created_at FROM message UNION ALL SELECT sent_at FROM message"
            " WHERE sent_at IS NOT NULL UNION ALL SELECT updated_at FROM conversation"
        )
        return {re.sub(r"\d", "d", value) for (value,) in result}


async def conversation_rows(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(Conversation).order_by(col(Conversation.id)))).all()
    return [(c.channel, c.external_user_id, c.display_name, c.state, c.failures) for c in rows]


async def script(engine: AsyncEngine, inbox: Inbox) -> list[str]:
    """A bit of everything the router does; returns the web customer's replies."""
    first = await receive(inbox, tg("broadband down", "m1"))
    texts = ["sorry", " ", "fixed by 6"]
    await inbox.answer(
        Answer(first.conversation, first.message.id or 0, texts, Variant.TELEGRAM, reply_to="m1")
    )
    assert await inbox.receive(tg("broadband down", "m1")) is None
    held = await receive(inbox, tg("still down", "m2"))
    await inbox.answer(
        Answer(
            held.conversation,
            held.message.id or 0,
            ["please wait"],
            Variant.TELEGRAM,
            leaves=MessageState.WAITING,
        )
    )
    quiet = await receive(inbox, tg("ok", "m3", user="7"))
    await inbox.answer(Answer(quiet.conversation, quiet.message.id or 0, [], Variant.TELEGRAM))
    web = await receive(inbox, Inbound(Channel.WEB, "browser", "hi", variant=Variant.WEB))
    await conversations.queue_replies(engine, web.conversation, ["an agent's answer"], Variant.WEB)
    _state, replies = await inbox.answer(
        Answer(web.conversation, web.message.id or 0, ["hello"], Variant.WEB, delivered=True)
    )
    return [reply.text for reply in replies]


async def test_the_same_rows_as_the_engine_path(native: tuple[AsyncEngine, Inbox]) -> None:
    engine, inbox = native
    ours = await script(engine, inbox)
    written = (await transcript(engine), await conversation_rows(engine))
    text_times = engine.dialect.name == "sqlite"  # PostgreSQL keeps times as times
    shapes = await time_shapes(engine) if text_times else set()
    await empty_tables(engine)

    theirs = await script(engine, EngineInbox(engine))

    assert ours == theirs == ["hello", "an agent's answer"]
    assert written == (await transcript(engine), await conversation_rows(engine))
    if text_times:
        assert shapes == await time_shapes(engine) == {"dddd-dd-dd dd:dd:dd.dddddd"}
    assert written[0] == [
        (
            "telegram",
            "in",
            "customer",
            "broadband down",
            "m1",
            None,
            "default",
            "processed",
            False,
        ),
        ("telegram", "out", "bot", "sorry", None, "m1", "telegram", "pending", False),
        ("telegram", "out", "bot", "fixed by 6", None, "m1", "telegram", "pending", False),
        ("telegram", "in", "customer", "still down", "m2", None, "default", "waiting", False),
        ("telegram", "out", "bot", "please wait", None, None, "telegram", "pending", False),
        ("telegram", "in", "customer", "ok", "m3", None, "default", "processed", False),
        ("web", "in", "customer", "hi", None, None, "web", "processed", False),
        ("web", "out", "bot", "an agent's answer", None, None, "web", "sent", True),
        ("web", "out", "bot", "hello", None, None, "web", "sent", True),
    ]


async def test_what_it_returns_is_what_the_orm_reads_back(
    native: tuple[AsyncEngine, Inbox],
) -> None:
    engine, inbox = native
    received = await receive(inbox, tg("is there a fault?", "m1"))
    again = await receive(inbox, tg("hello?", "m2"))

    conversation = await conversations.get(engine, received.conversation.id or 0)
    assert conversation is not None
    assert again.conversation.model_dump() == conversation.model_dump()
    assert again.conversation.updated_at > received.conversation.updated_at
    async with AsyncSession(engine) as session:
        message = await session.get(Message, received.message.id)
    assert message is not None
    assert received.message.model_dump() == message.model_dump()
    assert message.created_at.tzinfo is not None


async def test_a_redelivered_message_is_stored_once_and_web_messages_always(
    native: tuple[AsyncEngine, Inbox],
) -> None:
    engine, inbox = native
    assert await inbox.receive(tg("hello", "m1")) is not None
    assert await inbox.receive(tg("hello", "m1")) is None
    assert await inbox.receive(Inbound(Channel.X, "42", "hello", external_id="m1")) is not None
    web = Inbound(Channel.WEB, "browser", "hello")
    first, second = await receive(inbox, web), await receive(inbox, web)

    assert first.message.id != second.message.id
    assert await count(engine) == 4


async def test_a_closed_conversation_reopens_with_the_bot_and_no_failures(
    native: tuple[AsyncEngine, Inbox],
) -> None:
    engine, inbox = native
    first = await receive(inbox, tg("one", "m1"))
    conversation_id = first.conversation.id or 0
    async with AsyncSession(engine) as session:
        stored = await session.get(Conversation, conversation_id)
        assert stored is not None
        stored.state, stored.failures = ConversationState.CLOSED, 2
        session.add(stored)
        await session.commit()

    again = await receive(inbox, tg("another question", "m2"))

    assert (again.conversation.id, again.conversation.state) == (conversation_id, "bot")
    assert again.conversation.failures == 0


async def test_first_messages_arriving_together_share_one_conversation(
    native: tuple[AsyncEngine, Inbox],
) -> None:
    engine, inbox = native
    results = await asyncio.gather(*(receive(inbox, tg("hi", f"m{i}")) for i in range(8)))

    assert len({r.conversation.id for r in results}) == 1
    assert await count(engine) == 8


async def test_a_failed_answer_leaves_nothing_half_written(
    native: tuple[AsyncEngine, Inbox],
) -> None:
    engine, inbox = native
    received = await receive(inbox, tg("broadband down", "m1"))
    elsewhere = received.conversation.model_copy(update={"id": 999_999})

    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await inbox.answer(
            Answer(elsewhere, received.message.id or 0, ["sorry", "again"], Variant.TELEGRAM)
        )

    assert await transcript(engine) == [
        ("telegram", "in", "customer", "broadband down", "m1", None, "default", "received", False)
    ]
    # The connection is usable afterwards: the next answer goes through.
    await inbox.answer(
        Answer(received.conversation, received.message.id or 0, ["sorry"], Variant.TELEGRAM)
    )
    assert [row[7] for row in await transcript(engine)] == ["processed", "pending"]


async def test_a_message_that_cannot_be_stored_is_an_error_not_a_duplicate(
    native: tuple[AsyncEngine, Inbox],
) -> None:
    _engine, inbox = native
    with pytest.raises(Exception, match=r"(?i)not null|null value"):
        await inbox.receive(Inbound(Channel.WEB, "browser", None))  # type: ignore[arg-type]
    assert await inbox.receive(Inbound(Channel.WEB, "browser", "hello")) is not None


async def count(engine: AsyncEngine) -> int:
    async with AsyncSession(engine) as session:
        return (await session.exec(select(func.count()).select_from(Message))).one()


async def test_in_memory_sqlite_stays_on_the_engine() -> None:
    engine = create_engine("sqlite:///:memory:")
    try:
        async with open_inbox(engine) as inbox:
            assert isinstance(inbox, EngineInbox)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("path", ["native", "engine"])
async def test_a_message_answered_already_gets_no_second_answer(
    native: tuple[AsyncEngine, Inbox], path: str
) -> None:
    """Two answerers of one message (a dead worker's lock expired mid-answer): one counts."""
    engine, inbox = native
    if path == "engine":
        inbox = EngineInbox(engine)
    received = await receive(inbox, Inbound(Channel.WEB, "browser", "hi", variant=Variant.WEB))
    first = Answer(received.conversation, received.message.id or 0, ["hello"], Variant.WEB)
    late = Answer(
        received.conversation,
        received.message.id or 0,
        ["hello", "again"],
        Variant.WEB,
        delivered=True,
    )

    _state, queued = await inbox.answer(first)
    _state, twice = await inbox.answer(late)

    assert [reply.text for reply in queued] == ["hello"]
    assert twice == []
    assert [row[3] for row in await transcript(engine)] == ["hi", "hello"]
