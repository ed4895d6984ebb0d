"""End to end through ``POST /api/chat``: the real app, the real Rasa server and model.

Expected sentences are rendered from the canned response store, never written here, so
the tests check that the right response was chosen and filled in, whatever comms staff
make the words.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keys import engine_key, incidents_key, responses_key, settings_key
from bot.messages import Variant
from bot.models import Conversation, Escalation, Message, utcnow
from bot.responses.eta import eta_phrase
from tests.conftest import LiveApp, add_outage, app_settings, free_port, running_app

pytestmark = pytest.mark.e2e


def sender() -> str:
    return f"web-{uuid.uuid4().hex[:12]}"


def texts(body: dict[str, object]) -> list[str]:
    replies = body["replies"]
    assert isinstance(replies, list)
    return [reply["text"] for reply in replies]


def render(live: LiveApp, key: str, **values: str) -> str:
    return live.app[responses_key].render(key, Variant.WEB, values)


def handed_over(live: LiveApp, key: str = "utter_handoff") -> list[str]:
    """The hand-off reply of a customer alone in the queue: a person will reply, and where."""
    return [render(live, key), render(live, "utter_queue_position", position="1")]


async def updates(live: LiveApp, customer: str) -> list[str]:
    """Poll the web chat's pick-up endpoint until replies arrive (10 s at most)."""
    for _ in range(50):
        later = texts(await live.updates(customer))
        if later:
            return later
        await asyncio.sleep(0.2)
    return []


async def escalation_of(live: LiveApp, conversation_id: int) -> Escalation | None:
    async with AsyncSession(live.app[engine_key]) as session:
        query = select(Escalation).where(Escalation.conversation_id == conversation_id)
        return (await session.exec(query)).first()


async def test_greeting_comes_from_the_template_store(live_app: LiveApp) -> None:
    body = await live_app.chat(sender(), "hi there")
    assert texts(body) == [render(live_app, "utter_greet")]
    assert body["conversation"]["state"] == "bot"


async def test_outage_in_area_code_apologises_with_cause_and_eta(live_app: LiveApp) -> None:
    reference = await add_outage(live_app.app, ["0161"])
    body = await live_app.chat(sender(), "broadband down in 0161?")
    replies = texts(body)
    assert len(replies) == 2, replies
    assert "Manchester" in replies[0]
    assert "a power failure at a partner's site" in replies[0]
    assert reference in replies[0]
    incident = (await live_app.app[incidents_key].get(reference)).incident
    assert incident.eta is not None
    tz = live_app.app[settings_key].tz
    assert eta_phrase(incident.eta, utcnow(), tz) in replies[0]
    assert replies[1] == render(live_app, "utter_offer_notify")


async def test_no_known_problem_names_the_place_and_next_steps(live_app: LiveApp) -> None:
    body = await live_app.chat(sender(), "any outage in leeds?")
    assert texts(body) == [render(live_app, "utter_no_outage", place="Leeds", area_code="0113")]


async def test_follow_up_eta_question_uses_the_earlier_location(live_app: LiveApp) -> None:
    await add_outage(live_app.app, ["020"])
    customer = sender()
    first = texts(await live_app.chat(customer, "is there an outage in 020?"))
    assert "London" in first[0]
    follow_up = texts(await live_app.chat(customer, "when will it be back?"))
    assert follow_up, "the follow-up got no answer"
    assert render(live_app, "utter_ask_area_code") not in follow_up
    assert "London" in follow_up[0] and "(020)" in follow_up[0]


async def test_missing_location_is_asked_for_and_dont_know_asks_for_town(
    live_app: LiveApp,
) -> None:
    customer = sender()
    asked = texts(await live_app.chat(customer, "my internet is down"))
    assert asked == [render(live_app, "utter_ask_area_code")]
    town = texts(await live_app.chat(customer, "i dont know my area code"))
    assert town == [render(live_app, "utter_ask_town")]
    answer = texts(await live_app.chat(customer, "Leeds"))
    assert answer == [render(live_app, "utter_no_outage", place="Leeds", area_code="0113")]


async def test_full_phone_number_and_postcode_are_located(live_app: LiveApp) -> None:
    await add_outage(live_app.app, ["0161"])
    by_number = texts(await live_app.chat(sender(), "no dial tone on 0161 496 0000"))
    assert "(0161)" in by_number[0]
    by_postcode = texts(await live_app.chat(sender(), "internet down in LS6"))
    assert by_postcode == [render(live_app, "utter_no_outage", place="Leeds", area_code="0113")]


async def test_offer_to_notify_then_told_when_fixed(live_app: LiveApp) -> None:
    reference = await add_outage(live_app.app, ["0113"])
    customer = sender()
    await live_app.chat(customer, "broadband down in leeds")
    subscribed = texts(await live_app.chat(customer, "yes please"))
    assert subscribed == [
        render(live_app, "utter_subscribed", place="Leeds", area_code="0113", reference=reference)
    ]
    await live_app.app[incidents_key].resolve(reference, author="test")
    later = await updates(live_app, customer)
    assert len(later) == 1
    assert reference in later[0] or "Leeds" in later[0]


@pytest.mark.parametrize(
    ("text", "reason", "priority"),
    [
        ("can i speak to a real person please", "request_human", 2),
        ("my mum has a care alarm on the phone line and she's 89", "vulnerable", 3),
        # Asking for a person does not hide a vulnerability: the hand-off is urgent.
        ("can i speak to someone please my nan's alarm runs on the phone", "vulnerable", 3),
        ("i want compensation for this outage", "compensation", 1),
        ("why is my bill so high this month", "billing", 1),
        ("i want to cancel my contract", "cancel", 1),
        ("this is absolutely ridiculous, i'm fed up with you lot", "frustrated", 2),
    ],
)
async def test_escalation_triggers_hand_off_and_bot_goes_quiet(
    live_app: LiveApp, text: str, reason: str, priority: int
) -> None:
    customer = sender()
    body = await live_app.chat(customer, text)
    expected = "utter_handoff_vulnerable" if reason == "vulnerable" else "utter_handoff"
    assert texts(body) == handed_over(live_app, expected)
    assert body["conversation"]["state"] == "escalated"
    escalation = await escalation_of(live_app, body["conversation"]["id"])
    assert escalation is not None
    assert (escalation.reason, escalation.priority) == (reason, priority)
    quiet = await live_app.chat(customer, "hello?")
    assert texts(quiet) == []
    assert quiet["conversation"]["state"] == "escalated"


@pytest.mark.parametrize(
    ("first_text", "first_key"),
    [
        ("blah blah", "utter_rephrase"),
        ("what's the weather like tomorrow", "utter_out_of_scope"),
        ("mi conexión a internet no funciona", "utter_other_language"),
    ],
)
async def test_two_turns_the_bot_cannot_help_with_in_a_row_hand_off(
    live_app: LiveApp, first_text: str, first_key: str
) -> None:
    """Whatever the reason the bot could not help, it counts on the one counter."""
    customer = sender()
    first = await live_app.chat(customer, first_text)
    assert texts(first) == [render(live_app, first_key)]
    assert first["conversation"]["state"] == "bot"
    second = await live_app.chat(customer, "qwerty uiop")
    assert texts(second) == handed_over(live_app)
    escalation = await escalation_of(live_app, second["conversation"]["id"])
    assert escalation is not None
    assert (escalation.reason, escalation.priority) == ("bot_failed", 2)


async def test_an_understood_turn_resets_the_cannot_help_count(live_app: LiveApp) -> None:
    customer = sender()
    assert texts(await live_app.chat(customer, "blah blah")) == [
        render(live_app, "utter_rephrase")
    ]
    assert texts(await live_app.chat(customer, "hello")) == [render(live_app, "utter_greet")]
    again = await live_app.chat(customer, "qwerty uiop")
    assert texts(again) == [render(live_app, "utter_rephrase")]
    assert again["conversation"]["state"] == "bot"


async def test_first_abuse_is_met_calmly_with_help_and_repeated_abuse_hands_off(
    live_app: LiveApp,
) -> None:
    customer = sender()
    first = await live_app.chat(customer, "you useless piece of junk bot")
    assert texts(first) == [
        render(live_app, "utter_calm"),
        render(live_app, "utter_ask_area_code"),
    ]
    assert first["conversation"]["state"] == "bot"
    second = await live_app.chat(customer, "shut up you stupid robot")
    assert texts(second) == handed_over(live_app)
    escalation = await escalation_of(live_app, second["conversation"]["id"])
    assert escalation is not None
    assert (escalation.reason, escalation.priority) == ("abuse", 1)
    assert escalation.priority < 3  # below a vulnerable customer


async def test_abuse_with_the_place_in_it_still_gets_the_outage_answer(
    live_app: LiveApp,
) -> None:
    reference = await add_outage(live_app.app, ["0161"])
    replies = texts(await live_app.chat(sender(), "you idiots, is the broadband down in 0161"))
    assert replies[0] == render(live_app, "utter_calm")
    assert reference in replies[1] and "(0161)" in replies[1]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("thanks a lot", "utter_thanks"),
        ("bye", "utter_goodbye"),
        ("are you a bot?", "utter_bot_challenge"),
        ("what's the weather like tomorrow", "utter_out_of_scope"),
    ],
)
async def test_small_talk_intents(live_app: LiveApp, text: str, key: str) -> None:
    assert texts(await live_app.chat(sender(), text)) == [render(live_app, key)]


async def test_comms_edit_reaches_the_next_reply(live_app: LiveApp) -> None:
    store = live_app.app[responses_key]
    await store.save("utter_greet", "default", "Hiya, how can we help today?", "comms")
    await store.save("utter_greet", "web", "Hiya from the web, how can we help?", "comms")
    assert texts(await live_app.chat(sender(), "hello")) == ["Hiya from the web, how can we help?"]


async def test_every_message_and_reply_is_in_the_transcript(live_app: LiveApp) -> None:
    customer = sender()
    await live_app.chat(customer, "hello")
    async with AsyncSession(live_app.app[engine_key]) as session:
        conversation = (
            await session.exec(
                select(Conversation).where(Conversation.external_user_id == customer)
            )
        ).one()
        rows = (
            await session.exec(select(Message).where(Message.conversation_id == conversation.id))
        ).all()
    assert [(m.direction, m.state) for m in rows] == [("in", "processed"), ("out", "sent")]


async def test_rasa_down_gets_holding_reply_and_answer_when_back(
    engine: object, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> None:
    customer = sender()
    dead = app_settings(database_url, f"http://127.0.0.1:{free_port()}", app_port, tmp_path)
    async with running_app(dead) as down:
        body = await down.chat(customer, "hello")
        assert texts(body) == [render(down, "utter_holding")]
    up_settings = app_settings(database_url, rasa_server, app_port, tmp_path)
    async with running_app(up_settings, chat_secrets=down.chat_secrets) as up:
        assert await updates(up, customer) == [render(up, "utter_greet")]


async def test_an_unreadable_answer_to_where_are_you_counts_and_says_so(live_app: LiveApp) -> None:
    customer = sender()
    asked = texts(await live_app.chat(customer, "my internet is down"))
    assert asked == [render(live_app, "utter_ask_area_code")]
    unreadable = await live_app.chat(customer, "zxqv wvvk")
    assert texts(unreadable) == [render(live_app, "utter_location_not_found")]
    again = await live_app.chat(customer, "qwpz xkcv")
    assert texts(again) == handed_over(live_app)
    escalation = await escalation_of(live_app, again["conversation"]["id"])
    assert escalation is not None and escalation.reason == "bot_failed"
