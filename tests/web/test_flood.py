"""The flood limit through ``POST /api/chat``: the real app and the real Rasa server.

Run on SQLite and PostgreSQL: the count is the database's. 25 messages in a row from one
customer, with the shipped limit of 20 a minute.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.conversations import store as conversations
from bot.conversations.flood import SLOW_DOWN
from bot.keys import engine_key, router_key, settings_key
from bot.models import ConversationState, MessageState
from tests.conftest import RASA_TOKEN, LiveApp
from tests.scratch import age_messages
from tests.web.test_chat import render, sender, texts

pytestmark = [pytest.mark.e2e, pytest.mark.every_database]

SENT = 25


async def rasa_heard(live: LiveApp, conversation_id: int) -> list[str]:
    """What the customer said that reached Rasa, from Rasa's own tracker."""
    conversation = await conversations.get(live.app[engine_key], conversation_id)
    assert conversation is not None
    rasa_url = live.app[settings_key].rasa_url
    async with live.client.get(
        f"{rasa_url}/conversations/{conversation.key}/tracker",
        params={"include_events": "ALL", "token": RASA_TOKEN.reveal()},
    ) as response:
        assert response.status == 200, await response.text()
        events = (await response.json())["events"]
    return [event["text"] for event in events if event["event"] == "user"]


async def inbound_states(live: LiveApp, conversation_id: int) -> list[tuple[str, str]]:
    messages = await conversations.transcript(live.app[engine_key], conversation_id)
    return [(m.text, m.state) for m in messages if m.direction == "in"]


async def test_a_flood_gets_one_slow_down_and_rasa_hears_only_the_limit(
    live_app: LiveApp,
) -> None:
    assert live_app.app[settings_key].flood_limit == 20
    customer = sender()
    said = [f"hello {n}" for n in range(1, SENT + 1)]

    bodies = [await live_app.chat(customer, text) for text in said]

    answers = [texts(body) for body in bodies]
    slow_down = render(live_app, SLOW_DOWN)
    assert all(replies and slow_down not in replies for replies in answers[:20]), answers
    assert answers[20] == [slow_down]
    assert answers[21:] == [[]] * (SENT - 21)
    assert {body["conversation"]["state"] for body in bodies} == {ConversationState.BOT}
    conversation_id = bodies[0]["conversation"]["id"]
    assert await inbound_states(live_app, conversation_id) == [
        (text, MessageState.PROCESSED) for text in said[:20]
    ] + [(text, MessageState.FLOODED) for text in said[20:]]
    assert await rasa_heard(live_app, conversation_id) == said[:20]

    # Nothing answers them later: not the catch-up, once they are old enough for it.
    await age_messages(live_app.app[engine_key], timedelta(minutes=2))
    assert await live_app.app[router_key].answer_unanswered() == 0
    assert texts(await live_app.updates(customer)) == []
    assert await rasa_heard(live_app, conversation_id) == said[:20]


async def test_a_customer_an_agent_has_is_never_held_back(live_app: LiveApp) -> None:
    customer = sender()
    first = await live_app.chat(customer, "hello")
    conversation_id = first["conversation"]["id"]
    engine = live_app.app[engine_key]
    await conversations.set_state(engine, conversation_id, ConversationState.AGENT)
    said = [f"are you there? {n}" for n in range(2, SENT + 1)]

    bodies = [await live_app.chat(customer, text) for text in said]

    assert [texts(body) for body in bodies] == [[]] * len(said)
    assert {body["conversation"]["state"] for body in bodies} == {ConversationState.AGENT}
    assert (await inbound_states(live_app, conversation_id))[1:] == [
        (text, MessageState.PROCESSED) for text in said
    ]
    assert await rasa_heard(live_app, conversation_id) == ["hello"]
