"""Canned answers to messages the bot cannot read, through the inbox and the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.canned import FALLBACK, CannedReplies
from bot.conversations import store as conversations
from bot.delivery.outbox import Outbox
from bot.inbox.store import Inbox
from bot.messages import Channel, Inbound, Variant
from bot.models import ConversationState
from bot.responses.store import ResponseStore
from bot.settings import Settings


def photo(message_id: int = 1) -> Inbound:
    return Inbound(
        Channel.TELEGRAM, "42", "[photo]", f"42:{message_id}", Variant.TELEGRAM, None, "Ann"
    )


async def canned(engine: AsyncEngine, inbox: Inbox, woken: list[Channel]) -> CannedReplies:
    store = await ResponseStore.open(engine, Settings().data_dir)
    return CannedReplies(inbox, store, wake=woken.append)


async def test_stores_once_and_queues_one_reply(engine: AsyncEngine, inbox: Inbox) -> None:
    woken: list[Channel] = []
    replies = await canned(engine, inbox, woken)

    first = await replies.handle(photo(), "utter_location_not_found")
    again = await replies.handle(photo(), "utter_location_not_found")

    store = await ResponseStore.open(engine, Settings().data_dir)
    expected = store.render("utter_location_not_found", Variant.TELEGRAM)
    assert [r.text for r in first.replies] == [expected]
    assert again.duplicate and again.replies == []
    assert woken == [Channel.TELEGRAM]
    pending = await Outbox(engine).claim(Channel.TELEGRAM)
    assert [p.text for p in pending] == [expected]
    transcript = await conversations.transcript(engine, first.conversation_id)
    assert [(m.direction, m.text, m.state) for m in transcript] == [
        ("in", "[photo]", "processed"),
        ("out", expected, "sending"),
    ]


async def test_stays_quiet_when_a_person_has_the_conversation(
    engine: AsyncEngine, inbox: Inbox
) -> None:
    woken: list[Channel] = []
    replies = await canned(engine, inbox, woken)
    first = await replies.handle(photo(1), "utter_location_not_found")
    await conversations.set_state(engine, first.conversation_id, ConversationState.AGENT)

    handled = await replies.handle(photo(2), "utter_location_not_found")

    assert handled.replies == [] and handled.state == ConversationState.AGENT
    transcript = await conversations.transcript(engine, first.conversation_id)
    assert [m.direction for m in transcript] == ["in", "out", "in"]


async def test_a_missing_response_falls_back_to_the_built_in_text(
    engine: AsyncEngine, inbox: Inbox
) -> None:
    replies = await canned(engine, inbox, [])
    handled = await replies.handle(photo(), "utter_no_such_key")
    assert [r.text for r in handled.replies] == [FALLBACK]
