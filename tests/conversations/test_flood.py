"""The flood limit: counted where each message is stored, on both databases and every inbox.

A limit of 3 a minute here (the app's default is 20); the HTTP test in
``tests/web/test_flood.py`` sends the default's 25.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.canned import CannedReplies
from bot.conversations import flood
from bot.conversations import store as conversations
from bot.conversations.flood import SLOW_DOWN
from bot.conversations.store import Received
from bot.inbox.statements import Prepared
from bot.inbox.store import EngineInbox, Inbox, open_inbox
from bot.messages import Channel, Inbound, Variant
from bot.models import ConversationState, MessageState, utcnow
from bot.responses.store import ResponseStore
from bot.settings import Settings
from bot.telemetry import Telemetry
from tests.conversations.test_router import Setup, tg, x_mention
from tests.scratch import age_messages

LIMIT = 3


@pytest.fixture(params=["native", "engine"])
async def limited(engine: AsyncEngine, request: pytest.FixtureRequest) -> AsyncIterator[Inbox]:
    """An inbox with the flood limit: the app's own (straight to the driver) and the engine's."""
    if request.param == "engine":
        yield EngineInbox(engine, LIMIT)
        return
    async with open_inbox(engine, LIMIT) as inbox:
        assert not isinstance(inbox, EngineInbox)
        yield inbox


async def burst(inbox: Inbox, count: int, user: str = "42", first: int = 0) -> list[Received]:
    stored = []
    for n in range(first, first + count):
        received = await inbox.receive(tg(f"message {n}", f"m{user}-{n}", user=user))
        assert received is not None
        stored.append(received)
    return stored


def states(stored: list[Received]) -> list[tuple[str, bool]]:
    return [(r.message.state, r.slow_down) for r in stored]


RECEIVED = (MessageState.RECEIVED, False)
FIRST_OVER = (MessageState.FLOODED, True)
FLOODED = (MessageState.FLOODED, False)


async def stored_states(engine: AsyncEngine, conversation_id: int) -> list[str]:
    return [
        m.state
        for m in await conversations.transcript(engine, conversation_id)
        if m.direction == "in"
    ]


def test_only_the_first_message_over_the_limit_slows_the_customer_down() -> None:
    assert flood.slows_down(MessageState.FLOODED, MessageState.RECEIVED)
    assert flood.slows_down(MessageState.FLOODED, MessageState.PROCESSED)
    assert flood.slows_down(MessageState.FLOODED, None)
    assert not flood.slows_down(MessageState.FLOODED, MessageState.FLOODED)
    assert not flood.slows_down(MessageState.RECEIVED, MessageState.FLOODED)


async def test_beyond_the_limit_a_minute_messages_are_stored_flooded(
    engine: AsyncEngine, limited: Inbox
) -> None:
    stored = await burst(limited, LIMIT + 3)

    assert states(stored) == [RECEIVED] * LIMIT + [FIRST_OVER, FLOODED, FLOODED]
    conversation_id = stored[0].conversation.id or 0
    assert await stored_states(engine, conversation_id) == [r.message.state for r in stored]
    assert [m.id for m in await conversations.transcript(engine, conversation_id)] == [
        r.message.id for r in stored
    ]


async def test_a_minute_later_the_count_starts_again(engine: AsyncEngine, limited: Inbox) -> None:
    await burst(limited, LIMIT + 2)
    await age_messages(engine, flood.WINDOW)

    again = await burst(limited, LIMIT + 2, first=10)

    assert states(again) == [RECEIVED] * LIMIT + [FIRST_OVER, FLOODED]


async def test_a_flood_kept_up_is_told_once(engine: AsyncEngine, limited: Inbox) -> None:
    await burst(limited, LIMIT + 1)
    await age_messages(engine, timedelta(seconds=30))
    kept_up = await burst(limited, LIMIT, first=10)
    await age_messages(engine, timedelta(seconds=30))  # the first burst is out of the window

    later = await burst(limited, 1, first=20)

    # Held back messages count: the ones sent 30 s ago keep the customer over the limit.
    assert states(kept_up) == [FLOODED] * LIMIT
    assert states(later) == [FLOODED]


async def test_only_the_customers_own_inbound_messages_count(
    engine: AsyncEngine, limited: Inbox
) -> None:
    mine = await burst(limited, LIMIT - 1)
    await conversations.queue_replies(
        engine, mine[0].conversation, ["a reply"] * 5, Variant.TELEGRAM
    )
    theirs = await burst(limited, LIMIT + 1, user="43")

    assert states(await burst(limited, 1, first=10)) == [RECEIVED]
    assert states(await burst(limited, 1, first=11)) == [FIRST_OVER]
    assert states(theirs)[-1] == FIRST_OVER


@pytest.mark.parametrize("state", [ConversationState.ESCALATED, ConversationState.AGENT])
async def test_a_conversation_a_person_has_is_never_held_back(
    engine: AsyncEngine, limited: Inbox, state: ConversationState
) -> None:
    first = await burst(limited, 1)
    await conversations.set_state(engine, first[0].conversation.id or 0, state)

    assert states(await burst(limited, LIMIT + 2, first=1)) == [RECEIVED] * (LIMIT + 2)


async def test_a_closed_conversation_reopens_with_the_limit(
    engine: AsyncEngine, limited: Inbox
) -> None:
    first = await burst(limited, LIMIT)
    await conversations.set_state(engine, first[0].conversation.id or 0, ConversationState.CLOSED)

    assert states(await burst(limited, 1, first=10)) == [FIRST_OVER]


async def test_no_limit_at_zero(engine: AsyncEngine) -> None:
    async with open_inbox(engine, 0) as inbox:
        stored = await burst(inbox, LIMIT + 2)
    assert states(stored) == [RECEIVED] * (LIMIT + 2)


async def test_the_count_reads_the_index_alone(engine: AsyncEngine) -> None:
    """The count walks the index on (conversation, direction, time), never the table."""
    check = Prepared(flood.CHECK, engine.dialect)
    args = check.args(flood.check_params(LIMIT, utcnow(), 1, ConversationState.BOT))
    postgres = engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        if postgres:  # an empty table is read whole; ask what a full one would get
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            await connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        plan = " | ".join(
            str(row[-1])
            for row in await connection.exec_driver_sql(explain + check.sql, tuple(args))
        )
    if postgres:
        assert "Index Only Scan Backward using ix_message_conversation_recent" in plan, plan
    else:
        assert "COVERING INDEX ix_message_conversation_recent" in plan, plan
        assert "SCAN message" not in plan, plan


@pytest.fixture
async def flood_setup(engine: AsyncEngine) -> AsyncIterator[Setup]:
    """The router's test setup (an echoing brain) on the app's inbox with the flood limit."""
    async with open_inbox(engine, LIMIT) as inbox:
        yield Setup(engine, inbox, await ResponseStore.open(engine, Settings().data_dir))


def slow_down(setup: Setup, variant: Variant) -> str:
    return setup.store.render(SLOW_DOWN, variant)


async def test_the_router_keeps_a_flood_from_rasa_and_says_so_once(flood_setup: Setup) -> None:
    setup = flood_setup
    handled = [await setup.router.handle(tg(f"hello {n}", f"m{n}")) for n in range(LIMIT + 3)]

    assert setup.brain.texts() == [f"hello {n}" for n in range(LIMIT)]
    assert [[r.text for r in h.replies] for h in handled[LIMIT:]] == [
        [slow_down(setup, Variant.TELEGRAM)],
        [],
        [],
    ]
    assert {h.state for h in handled} == {ConversationState.BOT}
    assert (await setup.states(handled[0].conversation_id))[-4:] == [
        ("in", f"hello {LIMIT}", "flooded"),
        ("out", slow_down(setup, Variant.TELEGRAM), "pending"),
        ("in", f"hello {LIMIT + 1}", "flooded"),
        ("in", f"hello {LIMIT + 2}", "flooded"),
    ]
    assert setup.woken.count(Channel.TELEGRAM) == LIMIT + 1


async def test_the_slow_down_threads_under_the_tweet_and_goes_in_the_web_response(
    flood_setup: Setup,
) -> None:
    setup = flood_setup
    for n in range(LIMIT):
        await setup.router.handle(x_mention(f"hello {n}", f"900{n}"))
        await setup.router.handle(Inbound(Channel.WEB, "browser", f"hi {n}", variant=Variant.WEB))

    tweet = await setup.router.handle(x_mention("hello again", "9100"))
    web = await setup.router.handle(
        Inbound(Channel.WEB, "browser", "hi again", variant=Variant.WEB)
    )

    assert [(r.text, r.reply_to) for r in tweet.replies] == [
        (slow_down(setup, Variant.X_PUBLIC), "9100")
    ]
    assert [r.text for r in web.replies] == [slow_down(setup, Variant.WEB)]
    assert Channel.WEB not in setup.woken
    assert (await setup.states(web.conversation_id))[-1] == (
        "out",
        slow_down(setup, Variant.WEB),
        "sent",
    )


async def test_the_catch_up_and_a_redelivery_never_answer_a_flooded_message(
    flood_setup: Setup,
) -> None:
    setup = flood_setup
    handled = [await setup.router.handle(tg(f"hello {n}", f"m{n}")) for n in range(LIMIT + 2)]
    await age_messages(setup.engine, conversations.ABANDONED_AFTER)
    setup.brain.calls.clear()

    assert await setup.router.answer_unanswered() == 0
    again = await setup.router.handle(tg(f"hello {LIMIT}", f"m{LIMIT}"))

    assert again.duplicate and again.replies == []
    assert setup.brain.calls == []
    assert await conversations.unanswered(setup.engine) == []
    assert (
        await stored_states(setup.engine, handled[0].conversation_id)
        == [MessageState.PROCESSED] * LIMIT + [MessageState.FLOODED] * 2
    )


async def test_a_conversation_a_person_has_gets_every_message_to_them(flood_setup: Setup) -> None:
    setup = flood_setup
    first = await setup.router.handle(tg("get me a human", "m0"))
    await conversations.set_state(setup.engine, first.conversation_id, ConversationState.AGENT)

    handled = [await setup.router.handle(tg(f"hello {n}", f"m{n}")) for n in range(1, LIMIT + 3)]

    assert all(h.replies == [] and h.state == ConversationState.AGENT for h in handled)
    assert setup.brain.texts() == ["get me a human"]
    assert set(await stored_states(setup.engine, first.conversation_id)) == {
        MessageState.PROCESSED
    }


async def test_canned_replies_keep_the_limit_too(flood_setup: Setup) -> None:
    setup = flood_setup
    telemetry = Telemetry()
    canned = CannedReplies(setup.inbox, setup.store, wake=setup.woken.append, telemetry=telemetry)

    handled = [
        await canned.handle(tg("[photo]", f"p{n}"), "utter_please_type") for n in range(LIMIT + 2)
    ]

    please_type = setup.store.render("utter_please_type", Variant.TELEGRAM)
    assert [[r.text for r in h.replies] for h in handled] == [[please_type]] * LIMIT + [
        [slow_down(setup, Variant.TELEGRAM)],
        [],
    ]
    assert (await stored_states(setup.engine, handled[0].conversation_id))[-2:] == [
        MessageState.FLOODED
    ] * 2
    counted = telemetry.registry.get_sample_value
    assert counted("outage_bot_messages_flooded_total", {"channel": "telegram"}) == 2
    assert (
        counted("outage_bot_messages_total", {"channel": "telegram", "direction": "in"})
        == LIMIT + 2
    )
