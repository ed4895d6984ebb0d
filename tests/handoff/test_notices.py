"""Waiting customers hear their place in the queue, and again once per threshold waited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handoff import queue as handoff
from bot.handoff.notices import QueueNotices, place_in_queue, waited_phrase
from bot.messages import Channel, Variant
from bot.models import Escalation, Message, Role, User, utcnow
from bot.responses.store import ResponseStore
from bot.settings import Settings
from tests.handoff.test_queue import escalated

EVERY = timedelta(minutes=10)


@pytest.fixture
async def responses(engine: AsyncEngine) -> AsyncIterator[ResponseStore]:
    yield await ResponseStore.open(engine, Settings().data_dir)


async def asked_ago(engine: AsyncEngine, escalation_id: int, waited: timedelta) -> None:
    """Make the hand-off ``waited`` old."""
    async with AsyncSession(engine) as session:
        await session.exec(
            update(Escalation)
            .where(col(Escalation.id) == escalation_id)
            .values(created_at=utcnow() - waited)
        )
        await session.commit()


async def notices(engine: AsyncEngine) -> list[tuple[int, str, str]]:
    """The bot's queued messages as (conversation, channel, text), oldest first."""
    async with AsyncSession(engine) as session:
        rows = await session.exec(
            select(Message)
            .where(col(Message.direction) == "out", col(Message.state) == "pending")
            .order_by(col(Message.id))
        )
        return [(m.conversation_id, m.channel, m.text) for m in rows.all()]


def still_waiting(responses: ResponseStore, position: int, waited: str, variant: Variant) -> str:
    return responses.render(
        "utter_queue_still_waiting", variant, {"position": str(position), "waited": waited}
    )


async def test_a_customer_is_told_again_once_per_threshold_then_not_after_a_claim(
    engine: AsyncEngine, responses: ResponseStore
) -> None:
    conversation, escalation = await escalated(engine, "waiting")
    await asked_ago(engine, escalation, timedelta(minutes=9))
    job = QueueNotices(engine, responses, EVERY)

    assert await job.run() == set()  # not 10 minutes yet
    await asked_ago(engine, escalation, timedelta(minutes=10, seconds=5))
    assert await job.run() == {Channel.WEB}
    assert await job.run() == set()  # the same threshold is told once
    told = still_waiting(responses, 1, "10 minutes", Variant.WEB)
    assert await notices(engine) == [(conversation, "web", told)]

    await asked_ago(engine, escalation, timedelta(minutes=20, seconds=5))
    assert await job.run() == {Channel.WEB}
    assert len(await notices(engine)) == 2

    agent = User(name="ann", role=Role.AGENT, password_hash="-")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add(agent)
        await session.commit()
    await handoff.claim(engine, escalation, agent)
    await asked_ago(engine, escalation, timedelta(minutes=45))
    assert await job.run() == set()
    assert len(await notices(engine)) == 2


async def test_thresholds_missed_while_down_make_one_notice(
    engine: AsyncEngine, responses: ResponseStore
) -> None:
    _, escalation = await escalated(engine, "long-wait")
    await asked_ago(engine, escalation, timedelta(minutes=65))
    job = QueueNotices(engine, responses, EVERY)

    await job.run()
    await job.run()

    told = still_waiting(responses, 1, "1 hour 5 minutes", Variant.WEB)
    assert [text for _, _, text in await notices(engine)] == [told]


async def test_each_is_told_their_own_place_on_their_own_channel(
    engine: AsyncEngine, responses: ResponseStore
) -> None:
    first, one = await escalated(engine, "first", channel=Channel.TELEGRAM)
    second, two = await escalated(engine, "second", channel=Channel.X)
    urgent, three = await escalated(engine, "urgent", reason="vulnerable")
    for escalation, minutes in ((one, 30), (two, 25), (three, 12)):
        await asked_ago(engine, escalation, timedelta(minutes=minutes))

    assert await QueueNotices(engine, responses, EVERY).run() == {
        Channel.WEB,
        Channel.TELEGRAM,
        Channel.X,
    }

    assert sorted(await notices(engine)) == sorted(
        [
            (urgent, "web", still_waiting(responses, 1, "12 minutes", Variant.WEB)),
            (first, "telegram", still_waiting(responses, 2, "30 minutes", Variant.TELEGRAM)),
            (second, "x", still_waiting(responses, 3, "25 minutes", Variant.X_DM)),
        ]
    )
    assert [await place_in_queue(engine, e) for e in (three, one, two)] == [1, 2, 3]


async def test_several_workers_at_once_queue_each_notice_exactly_once(
    engine: AsyncEngine, responses: ResponseStore
) -> None:
    for n in range(5):
        _, escalation = await escalated(engine, f"customer-{n}")
        await asked_ago(engine, escalation, timedelta(minutes=11 + n))
    workers = [QueueNotices(engine, responses, EVERY) for _ in range(4)]

    await asyncio.gather(*(worker.run() for worker in workers))

    assert sorted(c for c, _, _ in await notices(engine)) == sorted(
        {c for c, _, _ in await notices(engine)}
    )
    assert len(await notices(engine)) == 5


async def test_a_closed_hand_off_has_no_place(engine: AsyncEngine) -> None:
    _, escalation = await escalated(engine, "gone")
    async with AsyncSession(engine) as session:
        await session.exec(
            update(Escalation).where(col(Escalation.id) == escalation).values(state="closed")
        )
        await session.commit()

    assert await place_in_queue(engine, escalation) is None
    assert await place_in_queue(engine, 999_999) is None


@pytest.mark.parametrize(
    ("minutes", "phrase"),
    [
        (0.2, "1 minute"),
        (10, "10 minutes"),
        (60, "1 hour"),
        (61, "1 hour 1 minute"),
        (135, "2 hours 15 minutes"),
    ],
)
def test_waits_are_said_in_hours_and_minutes(minutes: float, phrase: str) -> None:
    assert waited_phrase(timedelta(minutes=minutes)) == phrase
