"""The customer beside the transcript: area, incidents there, earlier hand-offs, notices."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import subscriptions
from bot.handoff import queue as handoff
from bot.handoff.customer import customer
from bot.incidents.book import Incidents
from bot.locations.locator import Locator
from bot.models import ReportOutcome, utcnow
from bot.operations import reports
from tests.handoff.conftest import add_incident, user, waiting


async def test_of_a_new_customer_nothing_is_known_yet(
    engine: AsyncEngine, incidents: Incidents, locator: Locator
) -> None:
    await add_incident(incidents, ["0161"])
    conversation = await waiting(engine, "a")

    found = await customer(engine, conversation, await incidents.index.active(), locator.place_for)

    assert found.to_public() == {
        "area_code": None,
        "place": None,
        "incidents": [],
        "handoffs": [],
        "subscriptions": [],
    }


async def test_area_incidents_history_and_notices_beside_the_transcript(
    engine: AsyncEngine, incidents: Incidents, locator: Locator
) -> None:
    ann = await user(engine, "ann")
    leeds = await add_incident(incidents, ["0113"])
    manchester = await add_incident(incidents, ["0161"], eta_hours=2)
    conversation = await waiting(engine, "a", area_code="0113", incident=leeds)
    await handoff.reply(engine, conversation, ann, "Let's try a new router.")  # claims it
    await handoff.close(engine, conversation, ann, "router replaced")
    await subscriptions.subscribe(engine, conversation, leeds.incident.id or 0, "0113")
    # Later the customer reports a fault from Manchester, and asks for a person again.
    await reports.record(
        engine,
        conversation_id=conversation,
        channel="web",
        area_code="0161",
        intent="report_outage",
        outcome=ReportOutcome.INCIDENT,
        incident_id=manchester.incident.id,
        text="no broadband in 0161",
        now=utcnow() + timedelta(seconds=1),
    )
    await waiting(engine, "a")

    found = await customer(engine, conversation, await incidents.index.active(), locator.place_for)

    public = found.to_public()
    assert (public["area_code"], public["place"]) == ("0161", "Manchester")
    (incident,) = public["incidents"]
    assert (incident["reference"], incident["areas"]) == (manchester.incident.reference, ["0161"])
    assert incident["eta"] == manchester.incident.eta.isoformat()  # type: ignore[union-attr]
    (earlier,) = public["handoffs"]  # the open one is shown above the transcript already
    assert (earlier["state"], earlier["outcome"], earlier["agent"]) == (
        "closed",
        "router replaced",
        "ann",
    )
    (notice,) = public["subscriptions"]
    assert (notice["reference"], notice["area_code"], notice["notified_at"], notice["fixed"]) == (
        leeds.incident.reference,
        "0113",
        None,
        False,
    )


async def test_the_incident_they_were_told_of_comes_first(
    engine: AsyncEngine, incidents: Incidents, locator: Locator
) -> None:
    told = await add_incident(incidents, ["0161"])
    newer = await add_incident(incidents, ["0161"])
    conversation = await waiting(engine, "a", area_code="0161", incident=told)

    found = await customer(engine, conversation, await incidents.index.active(), locator.place_for)

    assert [r.incident.id for r in found.incidents] == [told.incident.id, newer.incident.id]
