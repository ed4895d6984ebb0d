from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversations import store as conversations
from bot.incidents.book import Incidents
from bot.incidents.view import IncidentRecord
from bot.locations.locator import Locator
from bot.messages import Channel, Inbound, Variant
from bot.models import Message, Subscription
from bot.responses.store import ResponseStore
from bot.settings import Settings
from bot.subscriptions import notify_resolved, subscribe

LONDON = ZoneInfo("Europe/London")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_data(Settings().data_dir)


@pytest.fixture
async def incident(engine: AsyncEngine, locator: Locator) -> IncidentRecord:
    incidents = Incidents(engine, locator)
    return await incidents.create(
        title="Fibre cut", areas=["0113"], services=["broadband", "phone"], now=NOW
    )


async def resolve(engine: AsyncEngine, locator: Locator, reference: str) -> None:
    await Incidents(engine, locator).resolve(reference, now=NOW)


async def subscriber(
    engine: AsyncEngine, incident: IncidentRecord, channel: Channel, user: str
) -> int:
    received = await conversations.receive(
        engine, Inbound(channel, user, "tell me when it's fixed", external_id=f"{channel}-{user}")
    )
    assert received is not None and received.conversation.id is not None
    assert incident.incident.id is not None
    await subscribe(engine, received.conversation.id, incident.incident.id, "0113")
    return received.conversation.id


async def subscriptions(engine: AsyncEngine) -> list[Subscription]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return list((await session.exec(select(Subscription))).all())


async def notifications(engine: AsyncEngine) -> list[Message]:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        query = select(Message).where(Message.direction == "out").order_by(col(Message.id))
        return list((await session.exec(query)).all())


class Recorder:
    """Renders like the response store and remembers which variant each text was for."""

    def __init__(self, store: ResponseStore) -> None:
        self.store = store
        self.calls: list[tuple[str, Variant, dict[str, str]]] = []

    def __call__(self, key: str, variant: Variant, values: dict[str, str]) -> str:
        self.calls.append((key, variant, values))
        return self.store.render(key, variant, values)


@pytest.fixture
async def render(engine: AsyncEngine) -> Recorder:
    return Recorder(await ResponseStore.open(engine, Settings().data_dir))


async def test_subscribing_twice_keeps_one_subscription(
    engine: AsyncEngine, incident: IncidentRecord
) -> None:
    conversation_id = await subscriber(engine, incident, Channel.TELEGRAM, "42")
    assert incident.incident.id is not None

    await subscribe(engine, conversation_id, incident.incident.id, "0113")

    (only,) = await subscriptions(engine)
    assert (only.conversation_id, only.area_code, only.notified_at) == (
        conversation_id,
        "0113",
        None,
    )


async def test_nothing_is_sent_while_the_fault_is_open(
    engine: AsyncEngine, incident: IncidentRecord, render: Recorder, locator: Locator
) -> None:
    await subscriber(engine, incident, Channel.TELEGRAM, "42")

    assert await notify_resolved(engine, render, LONDON, locator.place_for, NOW) == set()

    assert await notifications(engine) == []
    assert render.calls == []


async def test_each_subscriber_is_told_once_when_the_fault_is_fixed(
    engine: AsyncEngine, incident: IncidentRecord, render: Recorder, locator: Locator
) -> None:
    telegram = await subscriber(engine, incident, Channel.TELEGRAM, "42")
    x = await subscriber(engine, incident, Channel.X, "777")
    web = await subscriber(engine, incident, Channel.WEB, "browser-1")
    await resolve(engine, locator, incident.incident.reference)

    woken = await notify_resolved(engine, render, LONDON, locator.place_for, NOW)

    assert woken == {Channel.TELEGRAM, Channel.X, Channel.WEB}
    sent = {m.conversation_id: m for m in await notifications(engine)}
    assert sorted(sent) == sorted([telegram, x, web])
    assert {(m.conversation_id, m.variant, m.state, m.author) for m in sent.values()} == {
        (telegram, "telegram", "pending", "bot"),
        (x, "x_dm", "pending", "bot"),
        (web, "web", "pending", "bot"),
    }
    assert {variant for _key, variant, _values in render.calls} == {
        Variant.TELEGRAM,
        Variant.X_DM,
        Variant.WEB,
    }
    _key, _variant, values = render.calls[0]
    assert values["place"] == "Leeds"
    assert values["services"] == "broadband and phone"
    assert values["reference"] == incident.incident.reference
    text = sent[telegram].text
    assert "Leeds (0113)" in text and "broadband and phone" in text
    assert all(s.notified_at is not None for s in await subscriptions(engine))

    assert await notify_resolved(engine, render, LONDON, locator.place_for, NOW) == set()
    assert len(await notifications(engine)) == 3


async def test_x_notifications_are_never_public_replies(
    engine: AsyncEngine, incident: IncidentRecord, render: Recorder, locator: Locator
) -> None:
    await subscriber(engine, incident, Channel.X, "777")
    await resolve(engine, locator, incident.incident.reference)

    await notify_resolved(engine, render, LONDON, locator.place_for, NOW)

    (message,) = await notifications(engine)
    assert message.variant == Variant.X_DM
    assert message.reply_to is None
    assert message.text == render.store.render(
        "utter_notify_fixed", Variant.X_DM, render.calls[0][2]
    )


async def test_only_subscribers_of_the_fixed_incident_are_told(
    engine: AsyncEngine, incident: IncidentRecord, render: Recorder, locator: Locator
) -> None:
    other = await Incidents(engine, locator).create(
        title="Exchange power", areas=["0161"], services=["phone"], now=NOW
    )
    fixed = await subscriber(engine, incident, Channel.TELEGRAM, "1")
    await subscriber(engine, other, Channel.TELEGRAM, "2")
    await resolve(engine, locator, incident.incident.reference)

    await notify_resolved(engine, render, LONDON, locator.place_for, NOW)

    assert [m.conversation_id for m in await notifications(engine)] == [fixed]


async def test_two_workers_notifying_at_once_tell_each_subscriber_once(
    engine: AsyncEngine, incident: IncidentRecord, render: Recorder, locator: Locator
) -> None:
    for n in range(5):
        await subscriber(engine, incident, Channel.TELEGRAM, str(n))
    await resolve(engine, locator, incident.incident.reference)

    await asyncio.gather(
        notify_resolved(engine, render, LONDON, locator.place_for, NOW),
        notify_resolved(engine, render, LONDON, locator.place_for, NOW),
    )

    told = [m.conversation_id for m in await notifications(engine)]
    assert len(told) == 5
    assert len(set(told)) == 5


async def test_an_area_code_without_a_place_name_stands_in_for_the_place(
    engine: AsyncEngine, incident: IncidentRecord, render: Recorder, locator: Locator
) -> None:
    await subscriber(engine, incident, Channel.TELEGRAM, "42")
    await Incidents(engine, locator).resolve(incident.incident.reference, now=NOW)

    await notify_resolved(engine, render, LONDON, lambda code: None, NOW)

    values = render.calls[0][2]
    assert values["place"] == "0113"
    local = NOW.astimezone(LONDON)
    assert values["resolved_at"] == f"at {local:%H:%M} today"
