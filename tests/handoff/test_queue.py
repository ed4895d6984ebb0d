"""The agents' hand-off rules: queue order, one holder per conversation, release and close."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.handoff import queue as handoff
from bot.handoff.escalation import escalate
from bot.handoff.queue import HandoffConflict, HandoffError, HandoffNotFound
from bot.messages import Channel, Inbound, Variant
from bot.models import ConversationState, Escalation, Message, Role, User, utcnow


async def _user(engine: AsyncEngine, name: str, role: Role = Role.AGENT) -> User:
    user = User(name=name, role=role, password_hash="-")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(user)
        await session.commit()
    return user


async def escalated(
    engine: AsyncEngine, who: str, reason: str = "request_human", channel: Channel = Channel.WEB
) -> tuple[int, int]:
    """A customer ``who`` asks for a person; return the conversation and escalation ids."""
    received = await conversations.receive(
        engine, Inbound(channel, who, "get me a human", external_id=f"{channel}-{who}")
    )
    assert received is not None and received.conversation.id is not None
    escalation = await escalate(engine, received.conversation.id, reason)
    assert escalation is not None and escalation.id is not None
    return received.conversation.id, escalation.id


async def _state(engine: AsyncEngine, conversation_id: int) -> str:
    conversation = await conversations.get(engine, conversation_id)
    assert conversation is not None
    return conversation.state


async def test_queue_is_most_urgent_first_then_oldest(engine: AsyncEngine) -> None:
    _, billing = await escalated(engine, "a", "billing")
    _, human = await escalated(engine, "b", "request_human")
    _, vulnerable = await escalated(engine, "c", "vulnerable")
    _, human_later = await escalated(engine, "d", "request_human")
    entries = await handoff.queue(engine, now=utcnow() + timedelta(minutes=5))
    assert [e.id for e in entries] == [vulnerable, human, human_later, billing]
    assert all(299 <= e.waiting_seconds <= 301 for e in entries)
    assert entries[0].to_public()["reason"] == "vulnerable"


async def test_closed_escalations_leave_the_queue(engine: AsyncEngine) -> None:
    agent = await _user(engine, "ann")
    conversation_id, _ = await escalated(engine, "a")
    await handoff.close(engine, conversation_id, agent, "fixed")
    assert await handoff.queue(engine) == []


async def test_claim_gives_it_to_one_agent(engine: AsyncEngine) -> None:
    ann, bob = await _user(engine, "ann"), await _user(engine, "bob")
    conversation_id, escalation_id = await escalated(engine, "a")
    claimed = await handoff.claim(engine, escalation_id, ann)
    assert (claimed.state, claimed.agent_id) == ("claimed", ann.id)
    assert await _state(engine, conversation_id) == ConversationState.AGENT
    assert (await handoff.claim(engine, escalation_id, ann)).agent_id == ann.id  # again: fine
    with pytest.raises(HandoffConflict, match="claimed by ann"):
        await handoff.claim(engine, escalation_id, bob)
    (entry,) = await handoff.queue(engine)
    assert (entry.state, entry.agent) == ("claimed", "ann")


async def test_simultaneous_claims_have_one_winner(engine: AsyncEngine) -> None:
    agents = [await _user(engine, f"agent{i}") for i in range(4)]
    _, escalation_id = await escalated(engine, "a")
    results = await asyncio.gather(
        *(handoff.claim(engine, escalation_id, agent) for agent in agents), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, Escalation)]
    assert len(winners) == 1
    assert all(isinstance(r, HandoffConflict) for r in results if r not in winners)


async def test_claim_unknown_or_closed(engine: AsyncEngine) -> None:
    ann = await _user(engine, "ann")
    with pytest.raises(HandoffNotFound):
        await handoff.claim(engine, 999, ann)
    conversation_id, escalation_id = await escalated(engine, "a")
    await handoff.release(engine, conversation_id, ann)
    with pytest.raises(HandoffConflict, match="closed"):
        await handoff.claim(engine, escalation_id, ann)


@pytest.mark.parametrize(
    ("channel", "variant"),
    [(Channel.WEB, Variant.WEB), (Channel.TELEGRAM, Variant.TELEGRAM), (Channel.X, Variant.X_DM)],
)
async def test_reply_is_queued_in_the_customers_channel(
    engine: AsyncEngine, channel: Channel, variant: Variant
) -> None:
    ann = await _user(engine, "ann")
    conversation_id, _ = await escalated(engine, "a", channel=channel)
    outbound = await handoff.reply(engine, conversation_id, ann, "  Hi, Ann here.  ")
    assert (outbound.channel, outbound.variant, outbound.text) == (
        channel,
        variant,
        "Hi, Ann here.",
    )
    async with AsyncSession(engine) as session:
        row = await session.get(Message, outbound.message_id)
    assert row is not None
    assert (row.direction, row.author, row.state) == ("out", "agent:ann", "pending")
    assert await _state(engine, conversation_id) == ConversationState.AGENT
    (entry,) = await handoff.queue(engine)
    assert (entry.state, entry.agent) == ("claimed", "ann")  # replying claimed it


async def test_reply_refused_when_another_agent_holds_it_or_nobody_asked(
    engine: AsyncEngine,
) -> None:
    ann, bob = await _user(engine, "ann"), await _user(engine, "bob")
    conversation_id, escalation_id = await escalated(engine, "a")
    await handoff.claim(engine, escalation_id, ann)
    with pytest.raises(HandoffConflict, match="claimed by ann"):
        await handoff.reply(engine, conversation_id, bob, "me too")
    received = await conversations.receive(engine, Inbound(Channel.WEB, "b", "hi"))
    assert received is not None and received.conversation.id is not None
    with pytest.raises(HandoffConflict, match="no open hand-off"):
        await handoff.reply(engine, received.conversation.id, ann, "hello")
    with pytest.raises(HandoffNotFound):
        await handoff.reply(engine, 999, ann, "hello")
    for text, reason in [("  ", "empty"), ("x" * 4001, "limit is 4000")]:
        with pytest.raises(HandoffError, match=reason):
            await handoff.reply(engine, conversation_id, ann, text)
    async with AsyncSession(engine) as session:
        outgoing = (await session.exec(select(Message).where(Message.direction == "out"))).all()
    assert outgoing == []


async def test_release_hands_back_to_the_bot(engine: AsyncEngine) -> None:
    ann = await _user(engine, "ann")
    conversation_id, escalation_id = await escalated(engine, "a")
    await handoff.claim(engine, escalation_id, ann)
    conversation = await handoff.release(engine, conversation_id, ann)
    assert conversation.state == ConversationState.BOT
    async with AsyncSession(engine) as session:
        escalation = await session.get(Escalation, escalation_id)
    assert escalation is not None
    assert (escalation.state, escalation.outcome) == ("closed", "released")
    assert escalation.closed_at is not None
    with pytest.raises(HandoffConflict, match="no open hand-off"):
        await handoff.release(engine, conversation_id, ann)


async def test_close_records_the_outcome(engine: AsyncEngine) -> None:
    ann = await _user(engine, "ann")
    conversation_id, escalation_id = await escalated(engine, "a")
    with pytest.raises(HandoffError, match="outcome is needed"):
        await handoff.close(engine, conversation_id, ann, " ")
    conversation = await handoff.close(engine, conversation_id, ann, "engineer booked")
    assert conversation.state == ConversationState.CLOSED
    async with AsyncSession(engine) as session:
        escalation = await session.get(Escalation, escalation_id)
    assert escalation is not None
    assert (escalation.state, escalation.outcome) == ("closed", "engineer booked")


async def test_only_the_holder_or_an_admin_may_release_or_close(engine: AsyncEngine) -> None:
    ann, bob = await _user(engine, "ann"), await _user(engine, "bob")
    boss = await _user(engine, "boss", Role.ADMIN)
    conversation_id, escalation_id = await escalated(engine, "a")
    await handoff.claim(engine, escalation_id, ann)
    with pytest.raises(HandoffConflict, match="claimed by ann"):
        await handoff.release(engine, conversation_id, bob)
    with pytest.raises(HandoffConflict, match="claimed by ann"):
        await handoff.close(engine, conversation_id, bob, "fixed")
    assert await _state(engine, conversation_id) == ConversationState.AGENT
    closed = await handoff.close(engine, conversation_id, boss, "ann went home")
    assert closed.state == ConversationState.CLOSED


async def test_transcript_has_messages_in_order_with_authors(engine: AsyncEngine) -> None:
    ann = await _user(engine, "ann")
    conversation_id, escalation_id = await escalated(engine, "a")
    await handoff.claim(engine, escalation_id, ann)
    await handoff.reply(engine, conversation_id, ann, "Hello, Ann here")
    body = await handoff.transcript(engine, conversation_id)
    assert body["conversation"]["state"] == "agent"
    assert body["escalation"]["agent"] == "ann"
    assert [(m["direction"], m["author"], m["text"]) for m in body["messages"]] == [
        ("in", "customer", "get me a human"),
        ("out", "agent:ann", "Hello, Ann here"),
    ]
    with pytest.raises(HandoffNotFound):
        await handoff.transcript(engine, 999)


async def test_activity_changes_exactly_when_what_the_console_shows_does(
    engine: AsyncEngine,
) -> None:
    agent = await _user(engine, "ann")
    seen = [await handoff.activity(engine)]
    seen.append(await handoff.activity(engine))  # nothing happened
    conversation_id, escalation_id = await escalated(engine, "a")
    seen.append(await handoff.activity(engine))
    await escalate(engine, conversation_id, "vulnerable")  # the same hand-off, more urgent
    seen.append(await handoff.activity(engine))
    await handoff.claim(engine, escalation_id, agent)
    seen.append(await handoff.activity(engine))
    await handoff.reply(engine, conversation_id, agent, "Hello, I'm Ann.")
    seen.append(await handoff.activity(engine))
    await handoff.close(engine, conversation_id, agent, "fixed")
    seen.append(await handoff.activity(engine))

    assert seen[0] == seen[1]
    assert len(set(seen[1:])) == len(seen) - 1
