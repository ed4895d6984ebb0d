from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.conversations.store import Answer
from bot.messages import Channel, Inbound, Variant
from bot.models import Conversation, ConversationState, Message, MessageState
from tests.scratch import age_messages


def tg(text: str, external_id: str, user: str = "42") -> Inbound:
    return Inbound(Channel.TELEGRAM, user, text, external_id=external_id, display_name="Ann")


async def count(engine: AsyncEngine, model: type[Message] | type[Conversation]) -> int:
    async with AsyncSession(engine) as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def received(engine: AsyncEngine, inbound: Inbound) -> conversations.Received:
    result = await conversations.receive(engine, inbound)
    assert result is not None
    return result


async def test_receive_stores_the_message_in_a_new_conversation(engine: AsyncEngine) -> None:
    result = await received(engine, tg("is there a fault?", "m1"))

    conversation, message = result.conversation, result.message
    assert conversation.id is not None and message.id is not None
    assert (conversation.channel, conversation.external_user_id) == ("telegram", "42")
    assert conversation.display_name == "Ann"
    assert conversation.state == ConversationState.BOT
    assert len(conversation.key) == 32
    assert (message.direction, message.state, message.author) == ("in", "received", "customer")
    assert (message.text, message.external_id, message.conversation_id) == (
        "is there a fault?",
        "m1",
        conversation.id,
    )


async def test_the_same_platform_message_is_stored_once(engine: AsyncEngine) -> None:
    first = await conversations.receive(engine, tg("hello", "m1"))
    again = await conversations.receive(engine, tg("hello", "m1"))

    assert first is not None
    assert again is None
    assert await count(engine, Message) == 1


async def test_same_external_id_on_another_channel_is_another_message(
    engine: AsyncEngine,
) -> None:
    await received(engine, tg("hello", "1000"))
    await received(engine, Inbound(Channel.X, "42", "hello", external_id="1000"))

    assert await count(engine, Message) == 2
    assert await count(engine, Conversation) == 2


async def test_web_messages_without_ids_are_never_deduplicated(engine: AsyncEngine) -> None:
    web = Inbound(Channel.WEB, "browser-1", "hello")

    first = await received(engine, web)
    second = await received(engine, web)

    assert first.message.id != second.message.id
    assert first.conversation.id == second.conversation.id
    assert await count(engine, Message) == 2


async def test_a_customers_messages_share_one_conversation(engine: AsyncEngine) -> None:
    first = await received(engine, tg("one", "m1"))
    second = await received(engine, tg("two", "m2"))
    other = await received(engine, tg("three", "m3", user="43"))

    assert first.conversation.id == second.conversation.id
    assert other.conversation.id != first.conversation.id


async def test_first_messages_arriving_together_share_one_conversation(
    engine: AsyncEngine,
) -> None:
    results = await asyncio.gather(
        *(conversations.receive(engine, tg("hi", f"m{i}")) for i in range(4))
    )

    ids = {r.conversation.id for r in results if r is not None}
    assert len(ids) == 1
    assert await count(engine, Conversation) == 1
    assert await count(engine, Message) == 4


async def test_a_closed_conversation_reopens_with_the_bot(engine: AsyncEngine) -> None:
    first = await received(engine, tg("one", "m1"))
    conversation_id = first.conversation.id
    assert conversation_id is not None
    await conversations.set_state(engine, conversation_id, ConversationState.CLOSED)

    again = await received(engine, tg("another question", "m2"))

    assert again.conversation.id == conversation_id
    assert again.conversation.state == ConversationState.BOT
    stored = await conversations.get(engine, conversation_id)
    assert stored is not None and stored.state == ConversationState.BOT


async def test_an_agent_conversation_stays_with_the_agent(engine: AsyncEngine) -> None:
    first = await received(engine, tg("one", "m1"))
    assert first.conversation.id is not None
    await conversations.set_state(engine, first.conversation.id, ConversationState.AGENT)

    again = await received(engine, tg("two", "m2"))

    assert again.conversation.state == ConversationState.AGENT


async def test_queue_replies_keeps_order_and_skips_blank_texts(engine: AsyncEngine) -> None:
    conversation = (await received(engine, tg("hi", "m1"))).conversation

    replies = await conversations.queue_replies(
        engine, conversation, ["first", "  ", "second", "", "third"], Variant.TELEGRAM, "m1"
    )

    assert [r.text for r in replies] == ["first", "second", "third"]
    assert [r.message_id for r in replies] == sorted(r.message_id for r in replies)
    assert {(r.channel, r.external_user_id, r.variant, r.reply_to) for r in replies} == {
        (Channel.TELEGRAM, "42", Variant.TELEGRAM, "m1")
    }
    assert conversation.id is not None
    rows = [
        m for m in await conversations.transcript(engine, conversation.id) if m.direction == "out"
    ]
    assert [(m.text, m.state, m.author, m.variant) for m in rows] == [
        ("first", "pending", "bot", "telegram"),
        ("second", "pending", "bot", "telegram"),
        ("third", "pending", "bot", "telegram"),
    ]
    assert all(m.sent_at is None for m in rows)


async def test_delivered_replies_are_stored_as_sent(engine: AsyncEngine) -> None:
    conversation = (await received(engine, Inbound(Channel.WEB, "b1", "hi"))).conversation
    assert conversation.id is not None

    await conversations.queue_replies(
        engine, conversation, ["answer"], Variant.WEB, author="agent:sam", delivered=True
    )

    (reply,) = [
        m for m in await conversations.transcript(engine, conversation.id) if m.direction == "out"
    ]
    assert (reply.state, reply.author) == ("sent", "agent:sam")
    assert reply.sent_at is not None


async def test_unanswered_lists_what_waits_for_rasa_or_a_crash_left_in_bot_conversations(
    engine: AsyncEngine,
) -> None:
    waiting = await received(engine, tg("waiting for rasa", "m1", user="1"))
    answered = await received(engine, tg("answered", "m2", user="1"))
    escalated = await received(engine, tg("escalated", "m3", user="2"))
    agent = await received(engine, tg("with agent", "m4", user="3"))
    closed = await received(engine, tg("closed", "m5", user="4"))
    abandoned = await received(engine, tg("left by a crash", "m6", user="5"))
    for message, leaves in ((waiting, MessageState.WAITING), (answered, MessageState.PROCESSED)):
        assert message.message.id is not None
        answer = Answer(
            message.conversation, message.message.id, [], Variant.TELEGRAM, leaves=leaves
        )
        await conversations.answer(engine, answer)
    for result, state in (
        (escalated, ConversationState.ESCALATED),
        (agent, ConversationState.AGENT),
        (closed, ConversationState.CLOSED),
    ):
        assert result.conversation.id is not None
        await conversations.set_state(engine, result.conversation.id, state)
    await age_messages(engine, conversations.ABANDONED_AFTER)
    await received(engine, tg("being answered now", "m7", user="6"))

    pending = await conversations.unanswered(engine)

    assert [m.text for m in pending] == ["waiting for rasa", "left by a crash"]
    assert [m.id for m in pending] == [waiting.message.id, abandoned.message.id]
    assert len(await conversations.unanswered(engine, limit=1)) == 1


async def test_set_state_changes_who_answers_and_resets_failures_for_the_bot(
    engine: AsyncEngine,
) -> None:
    conversation = (await received(engine, tg("hi", "m1"))).conversation
    assert conversation.id is not None
    async with AsyncSession(engine) as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None
        stored.failures = 3
        session.add(stored)
        await session.commit()

    escalated = await conversations.set_state(engine, conversation.id, ConversationState.ESCALATED)
    assert escalated is not None
    assert (escalated.state, escalated.failures) == (ConversationState.ESCALATED, 3)
    back = await conversations.set_state(engine, conversation.id, ConversationState.BOT)
    assert back is not None
    assert (back.state, back.failures) == (ConversationState.BOT, 0)
    assert back.updated_at >= conversation.updated_at
    assert await conversations.set_state(engine, 999_999, ConversationState.BOT) is None


async def test_lookups_by_key_channel_user_and_id(engine: AsyncEngine) -> None:
    conversation = (await received(engine, tg("hi", "m1"))).conversation
    await received(engine, Inbound(Channel.X, "42", "hi", external_id="x1"))

    by_key = await conversations.by_key(engine, conversation.key)
    by_user = await conversations.by_channel_user(engine, Channel.TELEGRAM, "42")
    assert conversation.id is not None
    by_id = await conversations.get(engine, conversation.id)

    assert by_key is not None and by_user is not None and by_id is not None
    assert by_key.id == by_user.id == by_id.id == conversation.id
    assert by_user.channel == "telegram"
    assert await conversations.by_key(engine, "0" * 32) is None
    assert await conversations.by_channel_user(engine, Channel.WEB, "42") is None
    assert await conversations.get(engine, 999_999) is None


async def test_transcript_is_in_the_order_things_happened(engine: AsyncEngine) -> None:
    conversation = (await received(engine, tg("q1", "m1"))).conversation
    await conversations.queue_replies(engine, conversation, ["a1", "a2"], Variant.TELEGRAM)
    await received(engine, tg("q2", "m2"))
    await conversations.queue_replies(engine, conversation, ["a3"], Variant.TELEGRAM)
    await received(engine, tg("elsewhere", "m3", user="43"))
    assert conversation.id is not None

    messages = await conversations.transcript(engine, conversation.id)

    assert [(m.direction, m.text) for m in messages] == [
        ("in", "q1"),
        ("out", "a1"),
        ("out", "a2"),
        ("in", "q2"),
        ("out", "a3"),
    ]
