"""The Telegram channel: the real python-telegram-bot client against a fake Bot API server.

Adapter-level tests run the real router, outbox and canned response store on both
databases, with a scripted brain in place of Rasa (so the answers are predictable);
``test_through_rasa`` runs the whole service with the real Rasa server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.canned import FALLBACK, CannedReplies
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.text import MESSAGE_LIMIT, utf16_length
from bot.conversations import store as conversations
from bot.delivery.outbox import Outbox
from bot.keys import (
    inbox_key,
    outbox_key,
    responses_key,
    router_key,
    wakes_key,
)
from bot.messages import Channel, Inbound, Variant
from bot.responses.store import UnknownResponse
from bot.settings import Secret, Settings
from tests.channels.telegram.rig import CHAT, VOICE, Rig, eventually, running, settle
from tests.conftest import LiveApp
from tests.fakes.telegram_api import BOT_USER, FakeTelegram


async def _true(value: bool) -> bool:
    return value


async def test_polling_round_trip_stores_inbound_and_delivers_reply(rig: Rig) -> None:
    async with running(rig.channel()):
        update = await rig.fake.inject(rig.fake.message(CHAT, "broadband down in 0161?"))
        sent = await rig.fake.wait_sent(1)

    assert [(m.chat_id, m.text) for m in sent] == [(CHAT, "You said: broadband down in 0161?")]
    assert sent[0].parse_mode is None
    inbound = await rig.messages("in")
    message_id = update["message"]["message_id"]
    assert [(m.external_id, m.text) for m in inbound] == [
        (f"{CHAT}:{message_id}", "broadband down in 0161?")
    ]
    outbound = await rig.messages("out")
    assert [(m.state, m.external_id) for m in outbound] == [
        ("sent", f"{CHAT}:{sent[0].message_id}")
    ]
    conversation = await conversations.get(rig.engine, inbound[0].conversation_id)
    assert conversation is not None
    assert (conversation.channel, conversation.external_user_id) == ("telegram", str(CHAT))
    assert conversation.display_name == "Ann"


async def test_graceful_stop_confirms_processed_updates(rig: Rig) -> None:
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, "hello"))
        await rig.fake.wait_sent(1)
    assert rig.fake.updates == []


async def test_start_and_help_answer_from_the_response_store(rig: Rig) -> None:
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, "/start"))
        await rig.fake.wait_sent(1)
        await rig.fake.inject(rig.fake.message(CHAT, "/help"))
        await rig.fake.wait_sent(2)
        await rig.fake.inject(rig.fake.message(CHAT, "/unknown"))
        sent = await rig.fake.wait_sent(3)

    render = rig.responses.render
    assert [m.text for m in sent] == [
        render("utter_greet", Variant.TELEGRAM, {"name": "Ann"}),
        render("utter_help", Variant.TELEGRAM),
        render("utter_help", Variant.TELEGRAM),
    ]
    assert "Ann" in sent[0].text
    assert rig.brain.heard == []
    assert [m.text for m in await rig.messages("in")] == ["/start", "/help", "/unknown"]


@pytest.mark.parametrize(
    ("kind", "extra", "label"),
    [
        (
            "sticker",
            {
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "u1",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            },
            "[sticker]",
        ),
        (
            "photo",
            {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
            "[photo]",
        ),
        (
            "voice",
            {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
            "[voice message]",
        ),
        ("document", {"document": {"file_id": "d1", "file_unique_id": "u4"}}, "[document]"),
    ],
)
async def test_media_gets_a_polite_please_type(
    rig: Rig, kind: str, extra: dict[str, Any], label: str
) -> None:
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, extra=extra))
        sent = await rig.fake.wait_sent(1)

    assert len(sent) == 1
    assert "type" in sent[0].text.lower()
    assert rig.brain.heard == []
    assert [m.text for m in await rig.messages("in")] == [label]


async def test_shared_location_becomes_the_nearest_town(rig: Rig) -> None:
    near_leeds = {"location": {"latitude": 53.81, "longitude": -1.56}}
    mid_atlantic = {"location": {"latitude": 45.0, "longitude": -30.0}}
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, extra=near_leeds))
        await rig.fake.wait_sent(1)
        await rig.fake.inject(rig.fake.message(CHAT, extra=mid_atlantic))
        sent = await rig.fake.wait_sent(2)

    assert rig.brain.heard == ["I'm in Leeds (0113)"]
    assert sent[0].text == "You said: I'm in Leeds (0113)"
    assert sent[1].text == rig.responses.render("utter_location_not_found", Variant.TELEGRAM)


async def test_group_answers_only_when_mentioned_or_replied_to(rig: Rig) -> None:
    group = -100200300
    handle = f"@{BOT_USER['username']}"
    async with running(rig.channel()):
        await rig.fake.inject(
            rig.fake.message(group, "anyone else's broadband down?", chat_type="group")
        )
        await rig.fake.inject(rig.fake.message(group, "/help", chat_type="group"))
        mention = await rig.fake.inject(rig.fake.mention(group, f"{handle} is 0113 down?"))
        await rig.fake.inject(
            rig.fake.message(group, "and 0161?", chat_type="supergroup", reply_to_bot=True)
        )
        sent = await rig.fake.wait_sent(2)
        await settle()

    assert rig.brain.heard == ["is 0113 down?", "and 0161?"]
    assert [(m.chat_id, m.text) for m in rig.fake.sent] == [
        (group, "You said: is 0113 down?"),
        (group, "You said: and 0161?"),
    ]
    inbound = await rig.messages("in")
    assert inbound[0].reply_to == str(mention["message"]["message_id"])
    assert len(sent) == 2


async def test_long_reply_is_split_at_paragraphs_within_the_limit(rig: Rig) -> None:
    paragraphs = [f"Paragraph {n}. " + "Engineers are working on it. " * 60 for n in range(8)]
    long_text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(long_text) > 3 * MESSAGE_LIMIT
    rig.brain.answers = {"tell me everything": [long_text]}
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, "tell me everything"))
        await rig.fake.wait_sent(4)
        await settle()

    parts = [m.text for m in rig.fake.sent]
    assert len(parts) == 4  # two ~1,760-character paragraphs fit in each message
    assert all(utf16_length(part) <= MESSAGE_LIMIT for part in parts)
    assert all(part.startswith("Paragraph") for part in parts)
    assert "\n\n".join(parts) == long_text
    outbound = await rig.messages("out")
    assert [m.state for m in outbound] == ["sent"]


@pytest.mark.parametrize(
    ("max_retries", "attempts"),
    [(2, 1), (0, 2)],
    ids=["waited-out-by-the-rate-limiter", "beyond-the-limiter-back-to-the-outbox"],
)
async def test_429_retry_after_is_honoured_and_the_reply_sent_once(
    rig: Rig, max_retries: int, attempts: int
) -> None:
    rig.fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with running(rig.channel(max_retries=max_retries)):
        await rig.fake.inject(rig.fake.message(CHAT, "hello"))
        await rig.fake.wait_sent(1)
        await settle()

    assert [m.text for m in rig.fake.sent] == ["You said: hello"]
    first, second = rig.fake.method_times("sendMessage")
    assert second - first >= 1.0
    [outbound] = await rig.messages("out")
    assert (outbound.state, outbound.attempts) == ("sent", attempts)


@pytest.mark.parametrize("status", [500, 502])
async def test_5xx_is_retried_until_delivered(rig: Rig, status: int) -> None:
    rig.fake.fail("sendMessage", status, "Internal Server Error")
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, "hello"))
        await rig.fake.wait_sent(1)
        await settle()

    assert [m.text for m in rig.fake.sent] == ["You said: hello"]
    [outbound] = await rig.messages("out")
    assert (outbound.state, outbound.attempts) == ("sent", 2)
    assert "TelegramUnavailable" in outbound.last_error or outbound.last_error == ""


async def test_blocked_bot_fails_the_reply_for_good(rig: Rig) -> None:
    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(403, "hello"))

        async def failed() -> bool:
            out = await rig.messages("out")
            return bool(out) and out[0].state == "failed"

        await eventually(failed)
        await settle()
    out = await rig.messages("out")

    assert rig.fake.sent == []
    assert len(rig.fake.method_calls("sendMessage")) == 1
    assert "blocked" in out[0].last_error


async def test_polling_redelivery_of_a_message_is_answered_once(rig: Rig) -> None:
    update = rig.fake.message(CHAT, "no internet", message_id=31337)
    async with running(rig.channel()):
        await rig.fake.inject(update)
        await rig.fake.inject(update)  # same message, new update id
        await rig.fake.wait_sent(1)
        await settle()

    assert [m.text for m in rig.fake.sent] == ["You said: no internet"]
    assert len(await rig.messages("in")) == 1


async def test_restart_after_a_crash_before_confirming_sends_no_duplicates(rig: Rig) -> None:
    rig.brain.hold = asyncio.Event()
    async with running(rig.channel()):
        first = await rig.fake.inject(rig.fake.message(CHAT, "outage in 0113?"))
        await eventually(lambda: _true(bool(rig.brain.heard)))  # stored, being answered
        # From here on the process cannot tell Telegram it has the update (every
        # getUpdates, including the confirming one at stop, fails), then it stops.
        rig.fake.fail("getUpdates", 502, times=1_000_000)
        rig.brain.hold.set()
        await rig.fake.wait_sent(1)
        await settle()
    rig.fake.failures.clear()
    assert [u["update_id"] for u in rig.fake.updates] == [first["update_id"]]

    async with running(rig.channel()):
        await rig.fake.inject(rig.fake.message(CHAT, "and 0161?"))
        await rig.fake.wait_sent(2)
        await settle()

    assert rig.fake.served[first["update_id"]] == 2  # Telegram delivered it again ...
    assert [m.text for m in rig.fake.sent] == [  # ... and it was answered only once
        "You said: outage in 0113?",
        "You said: and 0161?",
    ]


async def test_crash_between_sent_and_marked_sent_resends_at_least_once(rig: Rig) -> None:
    outbox = Outbox(rig.engine)
    received = await conversations.receive(
        rig.engine, Inbound(Channel.TELEGRAM, str(CHAT), "hi", f"{CHAT}:1", Variant.TELEGRAM)
    )
    assert received is not None
    await conversations.queue_replies(
        rig.engine, received.conversation, ["Here is your answer."], Variant.TELEGRAM
    )
    crashed = rig.channel()
    await crashed.application.initialize()
    [claimed] = await outbox.claim(Channel.TELEGRAM)
    await crashed.send(claimed)  # Telegram accepted it ... and the process died here.
    await crashed.application.shutdown()
    [in_doubt] = await outbox.in_doubt(Channel.TELEGRAM)
    assert in_doubt.message_id == claimed.message_id

    async with running(rig.channel()):
        await rig.fake.wait_sent(2)
        await settle()

    # Our documented choice: resend (the customer may see it twice, never zero times).
    assert [m.text for m in rig.fake.sent] == ["Here is your answer."] * 2
    [row] = await rig.messages("out")
    assert row.state == "sent"
    assert await outbox.in_doubt(Channel.TELEGRAM) == []


@pytest.mark.e2e
async def test_through_rasa_greeting_question_and_media_are_answered(
    live_app: LiveApp, fake: FakeTelegram
) -> None:
    app = live_app.app
    wakes = app[wakes_key]
    responses = app[responses_key]
    settings = Settings(telegram_bot_token=Secret(fake.token), telegram_api_url=fake.api_url)
    channel = TelegramChannel(
        settings,
        app[router_key],
        app[outbox_key],
        CannedReplies(app[inbox_key], responses, wake=wakes),
        wake=wakes.events[Channel.TELEGRAM],
        poll_timeout=1.0,
    )
    async with running(channel):
        await fake.inject(fake.message(CHAT, "hello"))
        greeting = await fake.wait_sent(1, within=60)
        await fake.inject(fake.message(CHAT, "is broadband down in Leeds?"))
        await fake.wait_sent(2, within=60)
        await fake.inject(fake.message(CHAT, extra={"voice": VOICE}))
        sent = await fake.wait_sent(3, within=60)

    greet = responses.text_for("utter_greet", Variant.TELEGRAM)
    assert greeting[0].text.startswith(greet.split("{", 1)[0].strip())
    holding = responses.render("utter_holding", Variant.TELEGRAM)
    assert sent[1].text and sent[1].text != holding  # Rasa answered, not the holding reply
    try:
        please_type = responses.render("utter_please_type", Variant.TELEGRAM)
    except UnknownResponse:  # until data/responses.toml ships utter_please_type
        please_type = FALLBACK
    assert sent[2].text == please_type


async def test_telegram_down_at_start_up_is_retried(rig: Rig) -> None:
    rig.fake.fail("getMe", 502, "Bad Gateway", times=10)  # down for a few tenths of a second
    channel = rig.channel()
    await channel.start()
    await eventually(lambda: _true("NetworkError" in channel.health()))
    async with asyncio.timeout(10):
        await channel.ready.wait()
    assert channel.health() == "ok"
    await channel.stop()
    assert channel.health() == "connecting"


async def test_a_rejected_token_is_reported_not_retried(rig: Rig) -> None:
    channel = rig.channel()
    rig.fake.token = "other:token"  # the server no longer accepts ours
    await channel.start()
    rejected = "down: Telegram rejected the bot token while connecting"
    await eventually(lambda: _true(channel.health() == rejected))
    await settle()  # many times the channel's backoff: a retry would have come
    assert rig.fake.rejected == 1  # one getMe, no retries
    await channel.stop()


async def refuse_messages(engine: AsyncEngine, refuse: bool) -> None:
    """Make the database reject (or accept again) every new message row."""
    if engine.dialect.name == "postgresql":
        statements = (
            [
                "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_messages BEFORE INSERT ON message "
                "FOR EACH ROW EXECUTE FUNCTION refuse()",
            ]
            if refuse
            else ["DROP TRIGGER IF EXISTS refuse_messages ON message"]
        )
    else:
        statements = (
            [
                # An operational error, as a full disk gives (RAISE() would look like a
                # constraint violation, which the inbox takes for a duplicate).
                "CREATE TRIGGER refuse_messages BEFORE INSERT ON message "
                "BEGIN INSERT INTO disk_is_full VALUES (1); END"
            ]
            if refuse
            else ["DROP TRIGGER IF EXISTS refuse_messages"]
        )
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_an_update_is_confirmed_only_once_stored(rig: Rig) -> None:
    await refuse_messages(rig.engine, True)  # as when the database's disk is full
    try:
        async with running(rig.channel()):
            update = await rig.fake.inject(rig.fake.message(CHAT, "is 0161 down?"))
            await eventually(lambda: _true(rig.fake.served[update["update_id"]] >= 2))
            assert rig.fake.sent == []
            assert [u["update_id"] for u in rig.fake.updates] == [update["update_id"]]

            await refuse_messages(rig.engine, False)  # fixed
            sent = await rig.fake.wait_sent(1)
            await eventually(lambda: _true(not rig.fake.updates))  # now confirmed
    finally:
        await refuse_messages(rig.engine, False)

    assert [m.text for m in sent] == ["You said: is 0161 down?"]
    assert [m.text for m in await rig.messages("in")] == ["is 0161 down?"]


async def test_nul_and_lone_surrogates_are_mended_before_anything_stores_them(rig: Rig) -> None:
    """Telegram passes them on (JSON escapes); PostgreSQL refuses NUL, UTF-8 surrogates."""
    async with running(rig.channel()):
        await rig.fake.inject(
            rig.fake.message(CHAT, "down\x00 in 0161 \ud83d", first_name="A\x00nn")
        )
        await rig.fake.inject(rig.fake.message(CHAT, "/start", first_name="Bo\udc00b"))
        sent = await rig.fake.wait_sent(2)

    inbound = await rig.messages("in")
    assert [m.text for m in inbound] == ["down\ufffd in 0161 \ufffd", "/start"]
    assert sent[0].text == "You said: down\ufffd in 0161 \ufffd"
    assert "Bo\ufffdb" in sent[1].text
    conversation = await conversations.get(rig.engine, inbound[0].conversation_id)
    assert conversation is not None and conversation.display_name == "A\ufffdnn"
