"""``action_escalate`` and ``action_fallback``: when and why a person takes over."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.models import Escalation, HandOffReason
from bot.rasa.actions import ActionDeps
from bot.rasa.actions.handoff import FAILURES_BEFORE_HANDOFF, ActionEscalate, ActionFallback
from tests.rasa.actions.conftest import (
    action_event,
    add_incident,
    open_conversation,
    run,
    said,
    tracker,
    user_event,
)


async def escalations(engine: AsyncEngine) -> list[tuple[int, str, str]]:
    """Each escalation as (conversation id, reason, state)."""
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(Escalation))).all()
        return [(row.conversation_id, str(row.reason), str(row.state)) for row in rows]


HAND_OFF_INTENTS = sorted(set(HandOffReason) - {HandOffReason.BOT_FAILED})
"""The intents named after a reason (``bot_failed`` is the bot's verdict, not an intent)."""


@pytest.mark.parametrize("intent", HAND_OFF_INTENTS)
async def test_the_reason_queued_is_read_from_the_intent(deps: ActionDeps, intent: str) -> None:
    conversation, key = await open_conversation(deps.engine)

    ran = await run(ActionEscalate(deps), tracker(intent, sender=key))

    assert await escalations(deps.engine) == [(conversation, intent, "open")]
    handoff = "utter_handoff_vulnerable" if intent == "vulnerable" else "utter_handoff"
    assert ran.texts == [said(deps, handoff), said(deps, "utter_queue_position", position="1")]
    assert ran.events == []


@pytest.mark.parametrize("intent", ["greet", "bot_failed"])  # bot_failed: the bot's verdict
async def test_an_intent_without_a_reason_of_its_own_is_a_request_for_a_person(
    deps: ActionDeps, intent: str
) -> None:
    conversation, key = await open_conversation(deps.engine)

    ran = await run(ActionEscalate(deps), tracker(intent, sender=key))

    assert await escalations(deps.engine) == [(conversation, "request_human", "open")]
    assert ran.texts == [
        said(deps, "utter_handoff"),
        said(deps, "utter_queue_position", position="1"),
    ]


async def test_a_conversation_we_do_not_know_is_still_told_a_person_will_reply(
    deps: ActionDeps,
) -> None:
    ran = await run(ActionEscalate(deps), tracker("request_human", sender="nobody"))

    assert ran.texts == [said(deps, "utter_handoff")]
    assert await escalations(deps.engine) == []


async def test_the_place_given_counts_who_waits_ahead_by_priority_then_time(
    deps: ActionDeps,
) -> None:
    """Two customers asked for a person first; a vulnerable one still goes to the front."""
    for n in (1, 2):
        _, key = await open_conversation(deps.engine, f"earlier-{n}")
        await run(ActionEscalate(deps), tracker("request_human", sender=key))
    _, third = await open_conversation(deps.engine, "third")
    _, urgent = await open_conversation(deps.engine, "urgent")

    asked = await run(ActionEscalate(deps), tracker("request_human", sender=third))
    vulnerable = await run(ActionEscalate(deps), tracker("vulnerable", sender=urgent))

    assert asked.texts[1:] == [said(deps, "utter_queue_position", position="3")]
    assert vulnerable.texts[1:] == [said(deps, "utter_queue_position", position="1")]


async def test_no_place_is_given_while_an_agent_holds_the_conversation(deps: ActionDeps) -> None:
    conversation, key = await open_conversation(deps.engine)
    await run(ActionEscalate(deps), tracker("request_human", sender=key))
    async with AsyncSession(deps.engine) as session:
        await session.exec(
            update(Escalation)
            .where(col(Escalation.conversation_id) == conversation)
            .values(state="claimed")
        )
        await session.commit()

    ran = await run(ActionEscalate(deps), tracker("request_human", sender=key))

    assert ran.texts == [said(deps, "utter_handoff")]


async def test_the_hand_off_records_where_the_customer_is_and_the_incident_they_were_told_of(
    deps: ActionDeps,
) -> None:
    older = await add_incident(deps, ["0113"])
    newer = await add_incident(deps, ["0113", "0161"])
    conversation, key = await open_conversation(deps.engine)
    slots = {"area_code": "0113", "incident_reference": older.incident.reference}

    await run(ActionEscalate(deps), tracker("request_human", sender=key, slots=slots))
    await run(ActionEscalate(deps), tracker("request_human", sender="elsewhere"))
    other, other_key = await open_conversation(deps.engine, "customer-2")
    await run(
        ActionEscalate(deps),
        tracker("billing", sender=other_key, slots=slots | {"incident_reference": None}),
    )

    async with AsyncSession(deps.engine) as session:
        rows = (await session.exec(select(Escalation).order_by(Escalation.id))).all()
    assert [(r.conversation_id, r.area_code, r.incident_id) for r in rows] == [
        (conversation, "0113", older.incident.id),  # the one they were told of
        (other, "0113", newer.incident.id),  # told of none: the newest there
    ]


async def test_a_hand_off_before_the_bot_knew_the_area_records_none(deps: ActionDeps) -> None:
    await add_incident(deps, ["0113"])
    _, key = await open_conversation(deps.engine)

    await run(ActionEscalate(deps), tracker("request_human", sender=key))

    async with AsyncSession(deps.engine) as session:
        (row,) = (await session.exec(select(Escalation))).all()
    assert (row.area_code, row.incident_id) == (None, None)


def misunderstood(times: int) -> list[dict[str, object]]:
    """Events of a conversation whose last ``times`` messages the bot did not understand."""
    events = [user_event("broadband down in leeds", "report_outage")]
    events.append(action_event("action_check_outage"))
    for _ in range(times):
        events += [user_event("qwfp arst", "nlu_fallback"), action_event("action_fallback")]
    return events[:-1]  # the action now running is not among the events yet


async def test_the_first_misunderstanding_asks_to_rephrase(deps: ActionDeps) -> None:
    _, key = await open_conversation(deps.engine)

    ran = await run(
        ActionFallback(deps), tracker("nlu_fallback", sender=key, events=misunderstood(1))
    )

    assert ran.texts == [said(deps, "utter_rephrase")]
    assert await escalations(deps.engine) == []


async def test_misunderstood_again_the_customer_is_handed_to_a_person(deps: ActionDeps) -> None:
    conversation, key = await open_conversation(deps.engine)
    events = misunderstood(FAILURES_BEFORE_HANDOFF)

    ran = await run(ActionFallback(deps), tracker("nlu_fallback", sender=key, events=events))

    assert ran.texts == [
        said(deps, "utter_handoff"),
        said(deps, "utter_queue_position", position="1"),
    ]
    assert await escalations(deps.engine) == [(conversation, "bot_failed", "open")]


async def test_an_understood_message_between_failures_starts_the_count_again(
    deps: ActionDeps,
) -> None:
    _, key = await open_conversation(deps.engine)
    events = [
        user_event("qwfp arst", "nlu_fallback"),
        action_event("action_fallback"),
        user_event("0113", "inform"),
        action_event("action_check_outage"),
        user_event("zxcv", "nlu_fallback"),
    ]

    ran = await run(ActionFallback(deps), tracker("nlu_fallback", sender=key, events=events))

    assert ran.texts == [said(deps, "utter_rephrase")]
    assert await escalations(deps.engine) == []
