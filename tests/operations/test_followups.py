from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.messages import Channel
from bot.models import FollowUp, FollowUpKind, Message, ReportOutcome
from bot.operations.followups import FollowUps, Pacer
from bot.responses.store import ResponseStore
from bot.settings import Settings
from bot.subscriptions import subscribe
from tests.operations.conftest import customer, report

NOW = datetime.now(UTC).replace(microsecond=0)
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


@pytest.fixture
async def follow_ups(engine: AsyncEngine, locator: Locator) -> FollowUps:
    responses = await ResponseStore.open(engine, Settings().data_dir)
    return FollowUps(engine, responses.render, LONDON, locator.place_for)


async def sent_to(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with AsyncSession(engine) as session:
        rows = await session.exec(
            select(Message.conversation_id, Message.text)
            .where(Message.direction == "out")
            .order_by(col(Message.id))
        )
        return list(rows.all())


async def test_customers_told_no_problem_hear_once_when_an_incident_opens(
    engine: AsyncEngine, locator: Locator, follow_ups: FollowUps
) -> None:
    told_nothing = [await customer(engine, f"m{n}") for n in range(3)]
    for number, conversation in enumerate(told_nothing):
        await report(engine, conversation, "0161", NOW - timedelta(minutes=30 + number))
    await report(engine, told_nothing[0], "0161", NOW - timedelta(minutes=5))  # wrote twice
    too_early = await customer(engine, "early")
    await report(engine, too_early, "0161", NOW - timedelta(hours=3))
    elsewhere = await customer(engine, "leeds")
    await report(engine, elsewhere, "0113", NOW - timedelta(minutes=20))
    knew = await customer(engine, "knew")
    await report(engine, knew, "0161", NOW - timedelta(minutes=20), ReportOutcome.RESOLVED)

    incidents = Incidents(engine, locator)
    record = await incidents.create(
        title="Fibre cut",
        areas=["0161"],
        services=["broadband"],
        cause="a cut cable",
        eta=NOW + timedelta(hours=2),
        now=NOW,
    )
    assert await follow_ups.run(NOW) == {Channel.WEB}
    assert await follow_ups.run(NOW) == set(), "a second pass finds nobody left"
    messages = await sent_to(engine)
    assert sorted(c for c, _text in messages) == sorted(told_nothing)
    assert all(
        "a cut cable" in text and record.incident.reference in text for _c, text in messages
    )
    assert all("Manchester" in text for _c, text in messages)

    async with AsyncSession(engine) as session:
        session.add(
            FollowUp(
                kind=FollowUpKind.OPENED.value,
                conversation_id=told_nothing[0],
                incident_id=record.incident.id or 0,
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_subscribers_hear_once_when_the_fix_moves_30_minutes_later(
    engine: AsyncEngine, locator: Locator, follow_ups: FollowUps
) -> None:
    incidents = Incidents(engine, locator)
    eta = NOW + timedelta(hours=2)
    record = await incidents.create(
        title="Fibre cut", areas=["0161"], services=["broadband"], eta=eta, now=NOW
    )
    subscribers = [await customer(engine, f"s{n}") for n in range(3)]
    for conversation in subscribers:
        await subscribe(engine, conversation, record.incident.id or 0, "0161", eta)
    reference = record.incident.reference

    await incidents.update(reference, eta=eta + timedelta(minutes=20), now=NOW)
    assert await follow_ups.run(NOW) == set(), "20 minutes later is not worth a message"
    await incidents.update(reference, eta=eta + timedelta(minutes=35), now=NOW)
    assert await follow_ups.run(NOW) == {Channel.WEB}
    assert await follow_ups.run(NOW) == set()
    messages = await sent_to(engine)
    assert sorted(c for c, _text in messages) == sorted(subscribers)
    assert all("taking longer" in text for _c, text in messages)

    await incidents.update(reference, eta=eta + timedelta(minutes=10), now=NOW)  # earlier
    assert await follow_ups.run(NOW) == set(), "an earlier fix is not a delay"
    await incidents.update(reference, eta=eta + timedelta(minutes=90), now=NOW)
    await follow_ups.run(NOW)
    assert len(await sent_to(engine)) == 6, "each further slip is told once more"


def test_the_pacer_spreads_a_channel_out_and_leaves_web_alone() -> None:
    pacer = Pacer()
    slots = [pacer.slot(Channel.X, NOW) for _ in range(3)]
    assert slots == [None, NOW + timedelta(seconds=1), NOW + timedelta(seconds=2)]
    assert pacer.slot(Channel.WEB, NOW) is None
