from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handoff.escalation import escalate
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import Escalation, Message, ReportOutcome, utcnow
from bot.operations import chart, stats
from bot.operations.stats import DAY_BUCKETS, percentile
from bot.settings import Settings
from bot.subscriptions import subscribe
from tests.operations.conftest import customer, report

NOW = datetime.now(UTC).replace(microsecond=0)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


async def test_the_dashboard_figures(engine: AsyncEngine) -> None:
    now = utcnow().replace(microsecond=0)  # not the module's: its tests may run much later
    locator = Locator.from_data(Settings().data_dir)
    record = await Incidents(engine, locator).create(
        title="Fibre cut", areas=["0113"], services=["broadband"], now=now - timedelta(hours=1)
    )
    incident_id = record.incident.id or 0
    leeds = [await customer(engine, f"l{n}") for n in range(3)]
    for conversation in leeds:
        await report(
            engine,
            conversation,
            "0113",
            now - timedelta(minutes=3),
            ReportOutcome.INCIDENT,
            incident_id,
        )
    await subscribe(engine, leeds[0], incident_id, "0113")
    await escalate(engine, leeds[1], "request_human")
    manchester = await customer(engine, "m")
    await report(engine, manchester, "0161", now - timedelta(minutes=70))
    await report(engine, manchester, "0161", now - timedelta(hours=30))  # too old
    async with AsyncSession(engine) as session:  # the bot answered Manchester in 2 s
        session.add(
            Message(
                conversation_id=manchester,
                channel="web",
                direction="out",
                text="hello",
                state="sent",
                created_at=utcnow() + timedelta(seconds=2),
            )
        )
        await session.commit()

    figures = await stats.dashboard(engine, locator.place_for, utcnow() + timedelta(seconds=5))

    areas = {a["area_code"]: a for a in figures["reports"]["areas"]}
    assert areas["0113"]["last_15m"] == 3 and areas["0113"]["growth"] == 4.0
    assert areas["0161"] | {"last_hour": 0, "hour_before": 1, "total_24h": 1} == areas["0161"]
    assert areas["0113"]["place"] == "Leeds"
    top = figures["reports"]["top"]
    assert [a["area_code"] for a in top] == ["0113", "0161"]
    assert all(len(a["counts"]) == DAY_BUCKETS for a in top) and sum(top[0]["counts"]) == 3

    (incident,) = figures["incidents"]
    assert incident["area_codes"] == ["0113"]
    assert (
        incident["customers_told"],
        incident["subscribers_waiting"],
        incident["escalations_open"],
    ) == (3, 1, 1)

    assert figures["queue"]["length"] == 1
    assert figures["queue"]["by_reason"] == {"request_human": 1}

    (web,) = figures["containment"]["channels"]
    assert (web["conversations"], web["without_person"]) == (4, 3)
    assert web["share"] == 0.75
    assert 1.5 < web["first_reply_seconds"]["median"] < 2.5

    svg = chart.render(figures["reports"])
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "style=" not in svg, "inline styles would break under the CSP"
    assert "0113 Leeds: 3 in 24 h" in chart.describe(figures["reports"])


async def test_an_empty_service_has_empty_figures(engine: AsyncEngine) -> None:
    figures = await stats.dashboard(engine, lambda code: None, NOW)
    assert figures["reports"]["top"] == [] and figures["incidents"] == []
    assert figures["queue"] == {
        "length": 0,
        "oldest_wait_seconds": 0,
        "by_reason": {},
        "by_priority": {},
    }
    assert figures["containment"]["overall"]["share"] is None
    assert "No reports" in chart.render(figures["reports"])


async def test_each_incident_counts_the_hand_offs_of_its_own_customers(
    engine: AsyncEngine,
) -> None:
    locator = Locator.from_data(Settings().data_dir)
    book = Incidents(engine, locator)
    leeds = await book.create(title="Leeds", areas=["0113"], services=["broadband"], now=NOW)
    hull = await book.create(title="Hull", areas=["01482"], services=["broadband"], now=NOW)
    told = [await customer(engine, f"told-{n}") for n in range(3)]
    for conversation in told:
        await report(engine, conversation, "0113", NOW, ReportOutcome.INCIDENT, leeds.incident.id)
    for conversation in told[:2]:
        await escalate(engine, conversation, "request_human")
    async with AsyncSession(engine) as session:  # the second is closed: not open any more
        escalation = (
            await session.exec(select(Escalation).where(Escalation.conversation_id == told[1]))
        ).one()
        escalation.state = "closed"
        session.add(escalation)
        await session.commit()

    figures = await stats.dashboard(engine, locator.place_for)

    counts = {
        i["reference"]: (i["customers_told"], i["escalations_open"]) for i in figures["incidents"]
    }
    assert counts == {leeds.incident.reference: (3, 1), hull.incident.reference: (0, 0)}


async def test_reply_times_pair_each_message_with_the_next_reply_in_its_conversation(
    engine: AsyncEngine,
) -> None:
    first, second = await customer(engine, "first"), await customer(engine, "second")
    now = utcnow()  # each customer's first message came just before

    def message(conversation: int, direction: str, seconds: float) -> Message:
        return Message(
            conversation_id=conversation,
            channel="web",
            direction=direction,
            text="-",
            state="processed" if direction == "in" else "sent",
            created_at=now + timedelta(seconds=seconds),
        )

    async with AsyncSession(engine) as session:
        for row in [
            message(first, "in", 10),  # answered 4 s later, with the next one
            message(second, "in", 11),  # answered 1 s later, by its own conversation's reply
            message(first, "in", 12),  # answered 2 s later
            message(second, "out", 12),
            message(first, "out", 14),
            message(first, "out", 15),  # a second reply changes nothing
            message(second, "in", 20),  # not answered yet: left out
        ]:
            session.add(row)
            await session.commit()  # one at a time: ids in this order

    figures = await stats.dashboard(
        engine, Locator.from_data(Settings().data_dir).place_for, now + timedelta(seconds=30)
    )

    # 4, 1 and 2 s, and each first message's about 14 and 12 s; the last one left out.
    overall = figures["containment"]["overall"]["first_reply_seconds"]
    assert overall["median"] == 4.0 and 14 < overall["p95"] < 15
