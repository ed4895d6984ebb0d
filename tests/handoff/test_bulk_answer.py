"""One answer to everyone waiting about an incident: who gets it, once, on their channel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handoff import queue as handoff
from bot.handoff.bulk_answer import answer_all, waiting_about
from bot.handoff.queue import HandoffError, HandoffNotFound, QueueEntry
from bot.incidents.book import Incidents
from bot.incidents.view import IncidentRecord
from bot.messages import Channel
from bot.models import AuditEntry, Escalation, Incident, Message, Role, User
from tests.handoff.conftest import add_incident, user, waiting

ANSWER = "Engineers are at the exchange now; we expect broadband back by 18:00."


def entry(
    conversation_id: int,
    *,
    state: str = "open",
    agent_id: int | None = None,
    area_code: str | None = None,
    incident_id: int | None = None,
) -> QueueEntry:
    return QueueEntry(
        id=conversation_id,
        conversation_id=conversation_id,
        channel="web",
        customer=f"customer {conversation_id}",
        reason="request_human",
        priority=2,
        state=state,
        agent=None,
        created_at=datetime.now(UTC),
        waiting_seconds=0,
        area_code=area_code,
        incident_id=incident_id,
        agent_id=agent_id,
    )


def test_one_answer_reaches_those_about_the_incident_whom_no_colleague_holds() -> None:
    manchester = IncidentRecord(Incident(id=7, reference="INC-7", title="t"), ("0161",))
    ann = User(id=1, name="ann", role=Role.AGENT, password_hash="-")
    entries = [
        entry(1, area_code="0161"),  # waiting in the area
        entry(2, area_code="0113", incident_id=7),  # told of it
        entry(3, state="claimed", agent_id=1, area_code="0161"),  # ann holds them
        entry(4, state="claimed", agent_id=2, area_code="0161"),  # a colleague does
        entry(5, area_code="0113"),  # elsewhere
        entry(6),  # the bot never learnt where
        entry(1, area_code="0161"),  # the same customer twice: once
    ]
    assert [e.conversation_id for e in waiting_about(manchester, entries, ann)] == [1, 2, 3]


async def outbox(engine: AsyncEngine) -> list[tuple[int, str, str, str, str]]:
    async with AsyncSession(engine) as session:
        rows = (
            await session.exec(
                select(Message).where(Message.direction == "out").order_by(col(Message.id))
            )
        ).all()
    return [(m.conversation_id, m.channel, m.variant, m.author, m.text) for m in rows]


async def test_everyone_waiting_about_it_gets_one_reply_on_their_own_channel(
    engine: AsyncEngine, incidents: Incidents
) -> None:
    ann, bob = await user(engine, "ann"), await user(engine, "bob")
    manchester = await add_incident(incidents, ["0161"])
    before = await waiting(engine, "tg", channel=Channel.TELEGRAM, area_code="0161")
    told = await waiting(engine, "x", channel=Channel.X, area_code="0161", incident=manchester)
    held = await waiting(engine, "held-by-ann", area_code="0161")
    theirs = await waiting(engine, "held-by-bob", area_code="0161")
    leeds = await waiting(engine, "leeds", area_code="0113")
    for conversation, agent in [(held, ann), (theirs, bob)]:
        (escalation,) = [
            e for e in await handoff.queue(engine) if e.conversation_id == conversation
        ]
        await handoff.claim(engine, escalation.id, agent)
    queue_before = [(e.id, e.state, e.agent) for e in await handoff.queue(engine)]

    answered = await answer_all(engine, manchester.incident.reference, ann, f"  {ANSWER} ", "k1")

    assert not answered.replayed
    assert answered.conversations == (before, told, held)
    assert answered.to_public() == {
        "incident": manchester.incident.reference,
        "sent": 3,
        "conversations": [before, told, held],
        "replayed": False,
    }
    assert await outbox(engine) == [
        (before, "telegram", "telegram", "agent:ann", ANSWER),
        (told, "x", "x_dm", "agent:ann", ANSWER),
        (held, "web", "web", "agent:ann", ANSWER),
    ]
    assert {(r.conversation_id, r.channel) for r in answered.replies} == {
        (before, Channel.TELEGRAM),
        (told, Channel.X),
        (held, Channel.WEB),
    }
    assert leeds not in answered.conversations and theirs not in answered.conversations
    # Nobody was claimed by it: the hand-offs wait in the queue as they did.
    assert [(e.id, e.state, e.agent) for e in await handoff.queue(engine)] == queue_before
    async with AsyncSession(engine) as session:
        audit = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
    assert [(a.actor, a.action, a.target) for a in audit] == [
        ("ann", "reply", f"conversation {c}") for c in (before, told, held)
    ]
    assert all(manchester.incident.reference in a.detail for a in audit)


async def test_the_same_key_again_sends_nothing_and_says_what_the_first_sent(
    engine: AsyncEngine, incidents: Incidents
) -> None:
    ann = await user(engine, "ann")
    manchester = await add_incident(incidents, ["0161"])
    first = await waiting(engine, "a", area_code="0161")
    reference = manchester.incident.reference

    sent = await answer_all(engine, reference, ann, ANSWER, "key-1")
    await waiting(engine, "b", area_code="0161")  # arrives after the answer went
    again = await answer_all(engine, reference, ann, ANSWER, "key-1")

    assert (sent.conversations, again.conversations) == ((first,), (first,))
    assert (sent.replayed, again.replayed, again.replies) == (False, True, ())
    assert len(await outbox(engine)) == 1
    with pytest.raises(HandoffError, match="used for another answer"):
        await answer_all(engine, reference, ann, "Something else", "key-1")
    newer = await answer_all(engine, reference, ann, ANSWER, "key-2")  # a new answer
    assert len(newer.conversations) == 2 and len(await outbox(engine)) == 3


async def test_pressing_send_three_times_at_once_sends_once(
    engine: AsyncEngine, incidents: Incidents
) -> None:
    ann = await user(engine, "ann")
    manchester = await add_incident(incidents, ["0161"])
    for who in ("a", "b", "c"):
        await waiting(engine, who, area_code="0161")

    results = await asyncio.gather(
        *(answer_all(engine, manchester.incident.reference, ann, ANSWER, "k") for _ in range(3))
    )

    assert sorted(r.replayed for r in results) == [False, True, True]
    assert {r.conversations for r in results} == {results[0].conversations}
    assert len(await outbox(engine)) == 3


async def test_nobody_waiting_sends_nothing_and_bad_requests_write_nothing(
    engine: AsyncEngine, incidents: Incidents
) -> None:
    ann = await user(engine, "ann")
    manchester = await add_incident(incidents, ["0161"])
    await waiting(engine, "leeds", area_code="0113")
    reference = manchester.incident.reference

    nobody = await answer_all(engine, reference, ann, ANSWER, "k")
    assert (nobody.conversations, nobody.replayed) == ((), False)
    with pytest.raises(HandoffNotFound, match="no incident 'INC-NOPE'"):
        await answer_all(engine, "INC-NOPE", ann, ANSWER, "k2")
    for text, key, reason in [
        ("   ", "k3", "must not be empty"),
        ("x" * 4001, "k3", "limit is 4000"),
        (ANSWER, " ", "idempotency key"),
        (ANSWER, "k" * 101, "idempotency key"),
    ]:
        with pytest.raises(HandoffError, match=reason):
            await answer_all(engine, reference, ann, text, key)
    assert await outbox(engine) == []
    async with AsyncSession(engine) as session:
        assert (await session.exec(select(Escalation.state))).all() == ["open"]
