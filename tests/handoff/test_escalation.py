from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.handoff.escalation import PRIORITY, escalate, priority_for, reason_for_intent
from bot.messages import Channel, Inbound
from bot.models import ConversationState, Escalation, HandOffReason


async def conversation_id(engine: AsyncEngine, user: str = "42") -> int:
    received = await conversations.receive(
        engine, Inbound(Channel.TELEGRAM, user, "human please", external_id=f"m-{user}")
    )
    assert received is not None and received.conversation.id is not None
    return received.conversation.id


async def escalations(engine: AsyncEngine) -> list[Escalation]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return list((await session.exec(select(Escalation))).all())


async def state(engine: AsyncEngine, conversation: int) -> str:
    found = await conversations.get(engine, conversation)
    assert found is not None
    return found.state


def test_vulnerable_customers_come_first() -> None:
    assert priority_for("vulnerable") > priority_for("request_human") > priority_for("billing")
    assert priority_for("something new") == 1
    assert set(PRIORITY) == set(HandOffReason)


def test_an_intent_names_its_reason_and_any_other_asks_for_a_person() -> None:
    assert reason_for_intent("vulnerable") is HandOffReason.VULNERABLE
    assert reason_for_intent("billing") is HandOffReason.BILLING
    assert reason_for_intent("greet") is HandOffReason.REQUEST_HUMAN
    assert reason_for_intent(None) is HandOffReason.REQUEST_HUMAN
    assert reason_for_intent("bot_failed") is HandOffReason.REQUEST_HUMAN


async def test_escalate_queues_the_conversation_for_an_agent(engine: AsyncEngine) -> None:
    conversation = await conversation_id(engine)

    escalation = await escalate(engine, conversation, "request_human")

    assert escalation is not None and escalation.id is not None
    assert (escalation.conversation_id, escalation.reason, escalation.priority) == (
        conversation,
        "request_human",
        2,
    )
    assert escalation.state == "open"
    assert await state(engine, conversation) == ConversationState.ESCALATED


async def test_escalating_again_keeps_one_escalation_and_raises_priority(
    engine: AsyncEngine,
) -> None:
    conversation = await conversation_id(engine)
    first = await escalate(engine, conversation, "billing")

    raised = await escalate(engine, conversation, "vulnerable")
    kept = await escalate(engine, conversation, "request_human")

    assert first is not None and raised is not None and kept is not None
    assert first.id == raised.id == kept.id
    (stored,) = await escalations(engine)
    assert (stored.reason, stored.priority) == ("vulnerable", 3)
    assert await state(engine, conversation) == ConversationState.ESCALATED


async def test_a_closed_escalation_does_not_absorb_a_new_one(engine: AsyncEngine) -> None:
    conversation = await conversation_id(engine)
    old = await escalate(engine, conversation, "billing")
    assert old is not None
    async with AsyncSession(engine) as session:
        stored = await session.get(Escalation, old.id)
        assert stored is not None
        stored.state = "closed"
        session.add(stored)
        await session.commit()
    await conversations.set_state(engine, conversation, ConversationState.BOT)

    new = await escalate(engine, conversation, "cancel")

    assert new is not None and new.id != old.id
    assert len(await escalations(engine)) == 2


async def test_escalating_a_missing_conversation_returns_none(engine: AsyncEngine) -> None:
    assert await escalate(engine, 999_999, "request_human") is None
    assert await escalations(engine) == []


async def test_a_conversation_with_an_agent_stays_with_the_agent(engine: AsyncEngine) -> None:
    conversation = await conversation_id(engine)
    await conversations.set_state(engine, conversation, ConversationState.AGENT)

    escalation = await escalate(engine, conversation, "frustrated")

    assert escalation is not None
    assert await state(engine, conversation) == ConversationState.AGENT


async def test_the_hand_off_keeps_where_the_customer_is_and_learns_it_again(
    engine: AsyncEngine,
) -> None:
    conversation = await conversation_id(engine)

    first = await escalate(engine, conversation, "billing", area_code="0113")
    unknown = await escalate(engine, conversation, "billing")  # the bot knows no more now
    moved = await escalate(engine, conversation, "billing", area_code="0161")

    assert first is not None and unknown is not None and moved is not None
    assert (first.area_code, unknown.area_code, moved.area_code) == ("0113", "0113", "0161")
    assert [e.area_code for e in await escalations(engine)] == ["0161"]
