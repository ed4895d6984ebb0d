"""``action_check_outage`` and ``action_subscribe`` on a built tracker."""

from __future__ import annotations

from datetime import UTC, datetime

from rasa_sdk.events import SlotSet
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incidents.book import IncidentRecord
from bot.incidents.view import placeholder_values
from bot.messages import Variant
from bot.models import Subscription
from bot.rasa.actions import ActionDeps
from bot.rasa.actions.outage import ActionCheckOutage, ActionSubscribe
from tests.rasa.actions.conftest import LONDON, add_incident, open_conversation, run, said, tracker

LEEDS = {"area_code": "0113", "place": "Leeds"}


def values_for(
    record: IncidentRecord, area_code: str = "0113", place: str = "Leeds"
) -> dict[str, str]:
    """The values the incident's sentences are rendered with, as a customer there reads them."""
    return placeholder_values(
        record.incident, area_code=area_code, place=place, now=datetime.now(UTC), tz=LONDON
    )


async def test_an_open_incident_is_told_with_cause_and_eta_then_notice_is_offered(
    deps: ActionDeps,
) -> None:
    record = await add_incident(deps, ["0113"], cause="a cut cable under the A64")

    ran = await run(ActionCheckOutage(deps), tracker("report_outage", slots=LEEDS))

    values = values_for(record)
    assert ran.texts == [
        said(deps, "utter_outage", **values),
        said(deps, "utter_offer_notify", **values),
    ]
    assert (
        "a cut cable under the A64" in ran.texts[0] and record.incident.reference in ran.texts[0]
    )
    assert ran.events == [
        SlotSet("incident_reference", record.incident.reference),
        SlotSet("notify_offered", True),
    ]


async def test_asking_when_it_will_be_fixed_gets_the_eta_answer(deps: ActionDeps) -> None:
    record = await add_incident(deps, ["0113"])

    ran = await run(ActionCheckOutage(deps), tracker("ask_eta", slots=LEEDS))

    values = values_for(record)
    assert values["eta"] and values["eta"] in ran.texts[0]
    assert ran.texts[0] == said(deps, "utter_eta", **values)


async def test_an_incident_without_eta_is_told_without_one(deps: ActionDeps) -> None:
    record = await add_incident(deps, ["0113"], eta_hours=None)

    ran = await run(ActionCheckOutage(deps), tracker("ask_eta", slots=LEEDS))

    values = values_for(record)
    assert ran.texts[0] == said(deps, "utter_outage_no_eta", **values)


async def test_a_fault_filed_for_the_wider_code_reaches_a_mixed_code(deps: ActionDeps) -> None:
    record = await add_incident(deps, ["01387"])

    ran = await run(
        ActionCheckOutage(deps), tracker("report_outage", slots={"area_code": "013873"})
    )

    assert record.incident.reference in ran.texts[0]
    assert SlotSet("incident_reference", record.incident.reference) in ran.events


async def test_a_fault_fixed_lately_is_told_as_fixed(deps: ActionDeps) -> None:
    record = await add_incident(deps, ["0113"])
    await deps.incidents.resolve(record.incident.reference, now=datetime.now(UTC))

    ran = await run(ActionCheckOutage(deps), tracker("report_outage", slots=LEEDS))

    resolved = await deps.incidents.index.recently_resolved_for("0113")
    values = values_for(resolved[0])
    assert ran.texts == [said(deps, "utter_resolved", **values)]
    assert ran.events == [SlotSet("incident_reference", None), SlotSet("notify_offered", False)]


async def test_no_fault_is_told_with_the_place_found_from_the_code(deps: ActionDeps) -> None:
    await add_incident(deps, ["020"])

    ran = await run(ActionCheckOutage(deps), tracker("report_outage", slots={"area_code": "0161"}))

    assert ran.texts == [said(deps, "utter_no_outage", area_code="0161", place="Manchester")]
    assert ran.events == [SlotSet("incident_reference", None), SlotSet("notify_offered", False)]


async def test_without_an_area_code_the_customer_is_asked_where(deps: ActionDeps) -> None:
    ran = await run(ActionCheckOutage(deps), tracker("report_outage"))

    assert ran.texts == [said(deps, "utter_location_not_found")]
    assert ran.events == []


async def test_the_reply_is_in_the_variant_of_the_channel(deps: ActionDeps) -> None:
    record = await add_incident(deps, ["0113"])

    ran = await run(
        ActionCheckOutage(deps), tracker("report_outage", slots=LEEDS, variant=Variant.X_PUBLIC)
    )

    values = values_for(record)
    assert ran.texts[0] == said(deps, "utter_outage", Variant.X_PUBLIC, **values)
    assert ran.texts[0] != said(deps, "utter_outage", Variant.WEB, **values)


async def subscriptions(deps: ActionDeps) -> list[Subscription]:
    async with AsyncSession(deps.engine) as session:
        return list((await session.exec(select(Subscription))).all())


async def test_subscribing_records_the_conversation_for_the_open_incident(
    deps: ActionDeps,
) -> None:
    record = await add_incident(deps, ["0113"])
    conversation, key = await open_conversation(deps.engine)

    ran = await run(ActionSubscribe(deps), tracker("affirm", sender=key, slots=LEEDS))

    assert ran.texts == [
        said(
            deps,
            "utter_subscribed",
            area_code="0113",
            place="Leeds",
            reference=record.incident.reference,
        )
    ]
    assert ran.events == [SlotSet("notify_offered", False)]
    [subscription] = await subscriptions(deps)
    assert (subscription.conversation_id, subscription.incident_id) == (
        conversation,
        record.incident.id,
    )


async def test_nothing_to_subscribe_to_is_said_and_nothing_recorded(deps: ActionDeps) -> None:
    record = await add_incident(deps, ["0113"])
    await deps.incidents.resolve(record.incident.reference, now=datetime.now(UTC))
    _, key = await open_conversation(deps.engine)

    ran = await run(ActionSubscribe(deps), tracker("affirm", sender=key, slots=LEEDS))

    assert ran.texts == [said(deps, "utter_nothing_to_notify", area_code="0113", place="Leeds")]
    assert ran.events == [SlotSet("notify_offered", False)]
    assert await subscriptions(deps) == []


async def test_a_conversation_we_do_not_know_gets_no_subscription(deps: ActionDeps) -> None:
    await add_incident(deps, ["0113"])

    ran = await run(ActionSubscribe(deps), tracker("affirm", sender="nobody", slots=LEEDS))

    assert ran.texts == [said(deps, "utter_nothing_to_notify", area_code="0113", place="Leeds")]
    assert await subscriptions(deps) == []


async def test_subscribing_without_a_place_asks_where_first(deps: ActionDeps) -> None:
    _, key = await open_conversation(deps.engine)

    ran = await run(ActionSubscribe(deps), tracker("affirm", sender=key))

    assert ran.texts == [said(deps, "utter_ask_area_code")]
    assert ran.events == []
    assert await subscriptions(deps) == []
