"""The X adapter: real tweepy AsyncClient against the fake X API v2, with the real router,
outbox and database. Most tests answer with a scripted brain in Rasa's place (the adapter
cannot tell the difference, and the tests stay fast); the last one runs the whole app with
the real Rasa server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.x.channel import XChannel
from bot.channels.x.cursor import DM_CURSOR, MENTIONS_CURSOR, load_cursor, save_cursor
from bot.conversations import store as conversations
from bot.conversations.locks import LocalLocks
from bot.conversations.router import ConversationRouter
from bot.delivery.outbox import Outbox
from bot.inbox.store import Inbox
from bot.keys import responses_key
from bot.messages import Channel, Handled, Inbound, Outbound, Variant
from bot.models import ChannelCursor, Message
from bot.responses.store import ResponseStore
from bot.settings import ROOT, Settings
from tests.conftest import add_outage, app_settings, running_app
from tests.fakes.x_api import FakeXApi, x_settings
from tests.scratch import QUICK

CUSTOMER = "2001"


@dataclass
class ScriptedBrain:
    """Answers every message with ``answer(text)``; records what it was asked."""

    answer: Callable[[str], list[str]] = lambda text: [f"Thanks, checking: {text[:40]}"]
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    async def respond(self, sender: str, text: str, metadata: dict[str, object]) -> list[str]:
        self.asked.append((sender, text, str(metadata.get("variant"))))
        return self.answer(text)


@dataclass
class Rig:
    fake: FakeXApi
    settings: Settings
    engine: AsyncEngine
    brain: ScriptedBrain
    router: ConversationRouter
    outbox: Outbox
    responses: ResponseStore
    wake: asyncio.Event
    channels: list[XChannel] = field(default_factory=list)

    def channel(self) -> XChannel:
        channel = XChannel(
            self.settings,
            self.router,
            self.outbox,
            self.engine,
            self.responses,
            self.wake,
            backoff=QUICK,
            outbox_poll_seconds=0.05,
        )
        self.channels.append(channel)
        return channel

    async def started(self) -> XChannel:
        channel = self.channel()
        await channel.start()
        return channel


@pytest.fixture
async def rig(engine: AsyncEngine, inbox: Inbox) -> AsyncIterator[Rig]:
    fake = FakeXApi()
    await fake.start()
    wake = asyncio.Event()
    brain = ScriptedBrain()
    responses = await ResponseStore.open(engine, ROOT / "data")
    router = ConversationRouter(
        engine,
        inbox,
        brain,
        responses,
        LocalLocks(),
        wake=lambda c: wake.set() if c is Channel.X else None,
    )
    rig = Rig(
        fake,
        x_settings(fake.base_url),
        engine,
        brain,
        router,
        Outbox(engine, backoff=QUICK),
        responses,
        wake,
    )
    yield rig
    for channel in rig.channels:
        await channel.stop()
    await fake.close()


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def outgoing(engine: AsyncEngine) -> list[Message]:
    async with AsyncSession(engine) as session:
        query = select(Message).where(Message.direction == "out").order_by(col(Message.id))
        return list((await session.exec(query)).all())


async def all_sent(engine: AsyncEngine, count: int) -> bool:
    rows = await outgoing(engine)
    return len(rows) == count and all(row.state == "sent" for row in rows)


async def everything_sent(engine: AsyncEngine) -> bool:
    rows = await outgoing(engine)
    return bool(rows) and all(row.state == "sent" for row in rows)


async def test_mention_gets_a_public_reply_to_that_tweet(rig: Rig) -> None:
    tweet = rig.fake.mention(CUSTOMER, "broadband down in 0161?")
    await rig.started()
    await eventually(lambda: len(rig.fake.replies_to(tweet)) == 1)
    await eventually(lambda: all_sent(rig.engine, 1))

    reply = rig.fake.replies_to(tweet)[0]
    assert reply["text"] == "Thanks, checking: broadband down in 0161?"
    assert rig.brain.asked[0][1:] == ("broadband down in 0161?", "x_public")
    [row] = await outgoing(rig.engine)
    assert row.external_id == f"tweet:{reply['id']}"
    assert rig.fake.our_dms() == []


async def test_dm_gets_a_dm_and_our_own_dm_is_not_answered(rig: Rig) -> None:
    rig.fake.dm(CUSTOMER, "no dial tone on 020 7946 0321")
    await rig.started()
    await eventually(lambda: len(rig.fake.our_dms(CUSTOMER)) == 1)
    await eventually(lambda: all_sent(rig.engine, 1))
    polls = rig.fake.count("GET", "/2/dm_events")
    await eventually(lambda: rig.fake.count("GET", "/2/dm_events") >= polls + 3)

    [dm] = rig.fake.our_dms(CUSTOMER)
    # Private: the customer's own number may be repeated back to them.
    assert dm["text"] == "Thanks, checking: no dial tone on 020 7946 0321"
    assert rig.fake.our_tweets() == []
    assert len(rig.brain.asked) == 1
    assert rig.brain.asked[0][2] == "x_dm"


async def test_public_reply_never_echoes_personal_details(rig: Rig) -> None:
    rig.brain.answer = lambda text: [f"Noted: {text}"]
    tweet = rig.fake.mention(
        CUSTOMER, "no dial tone on 020 7946 0321 at SW1A 1AA, email jo@example.com, acct 12345678"
    )
    await rig.started()
    await eventually(lambda: len(rig.fake.our_tweets()) >= 1)
    await eventually(lambda: all_sent(rig.engine, 1))

    posted = " ".join(t["text"] for t in rig.fake.our_tweets())
    for detail in ("7946", "0321", "1AA", "jo@example.com", "12345678"):
        assert detail not in posted
    assert "SW1A" in posted  # the postcode district is an area, like an area code
    assert "direct message" in posted.lower()  # utter_dm_invite from the response store
    assert rig.fake.replies_to(tweet)


async def test_long_reply_becomes_a_numbered_thread_chained_tweet_to_tweet(rig: Rig) -> None:
    long_answer = " ".join(f"word{i:03d}" for i in range(90))  # about 720 characters
    rig.brain.answer = lambda text: [long_answer]
    tweet = rig.fake.mention(CUSTOMER, "status?")
    await rig.started()
    await eventually(lambda: all_sent(rig.engine, 1))

    tweets = sorted(rig.fake.our_tweets(), key=lambda t: int(t["id"]))
    assert len(tweets) == 3
    assert [t["text"].split(" ", 1)[0] for t in tweets] == ["1/3", "2/3", "3/3"]
    assert all(len(t["text"]) <= 280 for t in tweets)
    parents = [t["_in_reply_to"] for t in tweets]
    assert parents == [tweet, tweets[0]["id"], tweets[1]["id"]]
    assert " ".join(t["text"].split(" ", 1)[1] for t in tweets) == long_answer
    [row] = await outgoing(rig.engine)
    assert row.external_id == f"tweet:{tweets[0]['id']}"


async def test_send_rate_limit_waits_for_the_reset_time(rig: Rig) -> None:
    rig.fake.fail(429, method="POST", path="/2/tweets", reset_in=1.5)
    tweet = rig.fake.mention(CUSTOMER, "any outage in Leeds?")
    await rig.started()
    await eventually(lambda: len(rig.fake.replies_to(tweet)) == 1)

    posts = [c for c in rig.fake.calls if c.method == "POST"]
    assert [c.status for c in posts] == [429, 201]
    reset = int(posts[0].at + 1.5)
    assert posts[1].at >= reset
    await eventually(lambda: all_sent(rig.engine, 1))


async def test_polling_rate_limit_waits_for_the_reset_time(rig: Rig) -> None:
    rig.fake.fail(429, method="GET", path="/2/users/1000/mentions", reset_in=1.5)
    rig.fake.mention(CUSTOMER, "internet down")
    channel = await rig.started()
    await eventually(lambda: channel.health() == "mentions: 429 rate limited")
    await eventually(lambda: len(rig.fake.our_tweets()) == 1)

    # Healthy again once the poll that succeeded has handed its mention over, which can
    # finish after the reply is already out.
    await eventually(lambda: channel.health() == "ok")
    polls = [c for c in rig.fake.calls if c.path.endswith("/mentions")]
    assert polls[0].status == 429 and polls[1].status == 200
    assert polls[1].at >= int(polls[0].at + 1.5)
    # DMs have their own rate limit and kept being polled meanwhile.
    assert any(c.path == "/2/dm_events" and c.at < polls[1].at for c in rig.fake.calls)


async def test_server_errors_are_retried_until_delivered(rig: Rig) -> None:
    rig.fake.fail(503, method="POST", path="/2/tweets", times=2)
    rig.fake.fail(500, method="GET", path="/2/dm_events")
    tweet = rig.fake.mention(CUSTOMER, "broadband down")
    rig.fake.dm("2002", "phone down")
    await rig.started()
    await eventually(lambda: all_sent(rig.engine, 2), within=15)

    assert len(rig.fake.replies_to(tweet)) == 1
    assert len(rig.fake.our_dms("2002")) == 1
    statuses = [c.status for c in rig.fake.calls if c.path == "/2/tweets"]
    assert statuses == [503, 503, 201]


async def test_server_error_after_posting_does_not_post_twice(rig: Rig) -> None:
    # X stored the tweet but answered 503: the retry must look before posting again.
    rig.fake.fail(503, method="POST", path="/2/tweets", after_effect=True)
    tweet = rig.fake.mention(CUSTOMER, "broadband down")
    await rig.started()
    await eventually(lambda: all_sent(rig.engine, 1), within=15)

    assert len(rig.fake.replies_to(tweet)) == 1
    assert rig.fake.count("GET", "/2/users/1000/tweets") >= 1
    [row] = await outgoing(rig.engine)
    assert row.external_id == f"tweet:{rig.fake.replies_to(tweet)[0]['id']}"


async def test_a_refused_dm_fails_for_good_without_retrying(rig: Rig) -> None:
    rig.fake.fail(403, method="POST", path="/2/dm_conversations")
    rig.fake.dm(CUSTOMER, "phone down")
    await rig.started()

    async def failed() -> bool:
        rows = await outgoing(rig.engine)
        return len(rows) == 1 and rows[0].state == "failed"

    await eventually(failed)
    await asyncio.sleep(0.3)  # several of the outbox's polls: no second attempt
    assert rig.fake.count("POST", "/2/dm_conversations") == 1
    [row] = await outgoing(rig.engine)
    assert row.last_error.startswith("403")


async def test_restart_resumes_from_the_cursor_without_duplicates(rig: Rig) -> None:
    first = rig.fake.mention(CUSTOMER, "broadband down")
    rig.fake.dm("2002", "phone down")
    channel = await rig.started()
    await eventually(lambda: all_sent(rig.engine, 2))
    await channel.stop()
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == first

    second = rig.fake.mention("2003", "still down?")
    rig.fake.dm("2002", "hello?")
    await rig.started()
    await eventually(lambda: all_sent(rig.engine, 4))
    await asyncio.sleep(0.3)  # several more polls

    assert len(rig.brain.asked) == 4
    assert len(rig.fake.replies_to(first)) == 1 and len(rig.fake.replies_to(second)) == 1
    assert len(rig.fake.our_dms("2002")) == 2
    after_restart = [c for c in rig.fake.calls if c.path.endswith("/mentions")]
    assert any(c.query.get("since_id") == first for c in after_restart)


async def test_items_read_again_after_a_crash_are_not_answered_twice(rig: Rig) -> None:
    tweet = rig.fake.mention(CUSTOMER, "broadband down")
    channel = rig.channel()
    assert await channel.poll_mentions() == 1
    # Crash before the cursor was saved: the same mention is read again.
    async with AsyncSession(rig.engine) as session:
        row = await session.get(ChannelCursor, MENTIONS_CURSOR)
        assert row is not None
        await session.delete(row)
        await session.commit()
    assert await channel.poll_mentions() == 0
    await channel.start()
    await eventually(lambda: all_sent(rig.engine, 1))
    await asyncio.sleep(0.2)
    assert len(rig.brain.asked) == 1
    assert len(rig.fake.replies_to(tweet)) == 1


async def test_first_start_answers_only_recent_mentions(rig: Rig) -> None:
    old = rig.fake.mention(CUSTOMER, "down last month")
    old_time = datetime.now(UTC) - timedelta(days=30)
    rig.fake.tweets[old]["created_at"] = old_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    old_dm = rig.fake.dm(CUSTOMER, "old dm")
    rig.fake.dm_events[old_dm]["created_at"] = old_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    channel = rig.channel()
    assert await channel.poll_mentions() == 0
    assert await channel.poll_dms() == 0
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == old
    assert await load_cursor(rig.engine, DM_CURSOR) == old_dm

    new = rig.fake.mention(CUSTOMER, "down now")
    assert await channel.poll_mentions() == 1
    assert [text for _, text, _ in rig.brain.asked] == ["down now"]
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == new


async def test_our_own_tweets_are_not_answered(rig: Rig) -> None:
    ours = rig.fake._store_tweet(rig.fake.me_id, "@ExampleSupport note to self", None, ["1000"])
    channel = rig.channel()
    assert await channel.poll_mentions() == 0
    assert rig.brain.asked == []
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == ours


async def test_many_mentions_are_paged_and_each_customers_kept_in_order(rig: Rig) -> None:
    tweets = [rig.fake.mention(str(3000 + i % 7), f"outage {i}") for i in range(105)]
    channel = rig.channel()
    assert await channel.poll_mentions() == 105
    assert rig.fake.count("GET", "/2/users/1000/mentions") == 2  # 100 a page
    for customer in range(7):
        asked = [text for sender, text, _ in rig.brain.asked if text in _texts(customer)]
        assert asked == _texts(customer)
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == tweets[-1]


def _texts(customer: int) -> list[str]:
    return [f"outage {i}" for i in range(105) if i % 7 == customer]


@dataclass
class FlakyRouter:
    """The real router, failing once on one text (a database blip, say)."""

    router: ConversationRouter
    fail_on: str
    failed: bool = False

    async def handle(self, inbound: Inbound) -> Handled:
        if inbound.text == self.fail_on and not self.failed:
            self.failed = True
            raise ConnectionError("database went away")
        return await self.router.handle(inbound)


async def test_a_failed_hand_over_is_read_again_and_nothing_is_answered_twice(rig: Rig) -> None:
    tweets = [rig.fake.mention(str(3000 + i), f"outage {i}") for i in range(6)]
    flaky = FlakyRouter(rig.router, fail_on="outage 2")
    channel = XChannel(
        rig.settings, flaky, rig.outbox, rig.engine, rig.responses, rig.wake, backoff=QUICK
    )
    rig.channels.append(channel)
    with pytest.raises(ConnectionError):
        await channel.poll_mentions()
    # Everything before the failure is stored, so the cursor moved up to it and no further.
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == tweets[1]
    await channel.poll_mentions()
    assert sorted(text for _, text, _ in rig.brain.asked) == [f"outage {i}" for i in range(6)]
    assert await load_cursor(rig.engine, MENTIONS_CURSOR) == tweets[-1]


async def _claimed(rig: Rig) -> tuple[XChannel, list[Outbound]]:
    """Queue one reply through the router and claim it, as a worker about to send does."""
    channel = rig.channel()
    assert await channel.poll_mentions() + await channel.poll_dms() >= 1
    claimed = await rig.outbox.claim(Channel.X)
    assert claimed
    return channel, claimed


async def test_crash_after_posting_but_before_marking_sent_does_not_post_again(rig: Rig) -> None:
    tweet = rig.fake.mention(CUSTOMER, "broadband down")
    rig.fake.dm("2002", "phone down")
    crashed, claimed = await _claimed(rig)
    for outbound in claimed:
        await crashed.send(outbound)  # posted ... and the process dies before mark_sent
    assert len(rig.fake.replies_to(tweet)) == 1 and len(rig.fake.our_dms("2002")) == 1

    restarted = rig.channel()
    assert await restarted.settle_in_doubt() == (2, 0)
    rows = await outgoing(rig.engine)
    assert [row.state for row in rows] == ["sent", "sent"]
    assert {row.external_id for row in rows} == {
        f"tweet:{rig.fake.replies_to(tweet)[0]['id']}",
        f"dm:{rig.fake.our_dms('2002')[0]['id']}",
    }
    await restarted.start()
    await asyncio.sleep(0.3)
    assert len(rig.fake.replies_to(tweet)) == 1 and len(rig.fake.our_dms("2002")) == 1


async def test_crash_before_posting_sends_the_reply_once_after_restart(rig: Rig) -> None:
    tweet = rig.fake.mention(CUSTOMER, "broadband down")
    await _claimed(rig)  # claimed, then the process dies before sending

    restarted = await rig.started()
    await eventually(lambda: all_sent(rig.engine, 1))
    assert len(rig.fake.replies_to(tweet)) == 1
    assert restarted is rig.channels[-1]


async def test_crash_in_the_middle_of_a_thread_continues_after_the_posted_part(rig: Rig) -> None:
    rig.brain.answer = lambda text: [" ".join(f"word{i:03d}" for i in range(90))]
    tweet = rig.fake.mention(CUSTOMER, "status?")
    crashed, [outbound] = await _claimed(rig)
    first_part = crashed.public_parts(outbound)[0]
    await crashed.client.create_tweet(text=first_part, in_reply_to_tweet_id=tweet)

    await rig.started()
    await eventually(lambda: all_sent(rig.engine, 1))
    tweets = sorted(rig.fake.our_tweets(), key=lambda t: int(t["id"]))
    assert [t["text"].split(" ", 1)[0] for t in tweets] == ["1/3", "2/3", "3/3"]
    assert [t["_in_reply_to"] for t in tweets] == [tweet, tweets[0]["id"], tweets[1]["id"]]


async def test_x_api_url_is_where_requests_go_with_user_and_app_auth(rig: Rig) -> None:
    channel = rig.channel()
    account = await channel.account()
    assert (account.id, account.username) == ("1000", "ExampleSupport")
    await channel.poll_mentions()
    await channel.poll_dms()
    paths = [(c.method, c.path, c.status) for c in rig.fake.calls]
    assert paths == [
        ("GET", "/2/users/me", 200),
        ("GET", "/2/users/1000/mentions", 200),
        ("GET", "/2/dm_events", 200),
    ]


async def test_cursor_never_moves_backwards(engine: AsyncEngine) -> None:
    assert await load_cursor(engine, MENTIONS_CURSOR) is None
    await save_cursor(engine, MENTIONS_CURSOR, "100")
    await save_cursor(engine, MENTIONS_CURSOR, "99")
    assert await load_cursor(engine, MENTIONS_CURSOR) == "100"
    await save_cursor(engine, MENTIONS_CURSOR, "1000")
    assert await load_cursor(engine, MENTIONS_CURSOR) == "1000"


@pytest.mark.e2e
async def test_through_the_app_and_rasa_a_mention_and_a_dm_are_answered(
    engine: AsyncEngine, database_url: str, rasa_server: str, app_port: int, tmp_path: Path
) -> None:
    fake = FakeXApi()
    await fake.start()
    settings = x_settings(
        fake.base_url, base=app_settings(database_url, rasa_server, app_port, tmp_path)
    )
    try:
        async with running_app(settings) as live:  # the X_* settings start the channel
            await add_outage(live.app, ["0161"], cause="a cut fibre cable")
            tweet = fake.mention(CUSTOMER, "is broadband down? my number is 0161 496 0000")
            fake.dm("2002", "is broadband down in 0161?")
            await eventually(
                lambda: bool(fake.replies_to(tweet) and fake.our_dms("2002")), within=90
            )
            await eventually(lambda: everything_sent(engine), within=30)
            responses = live.app[responses_key]
    finally:
        await fake.close()

    public = " ".join(t["text"] for t in fake.our_tweets())
    private = " ".join(dm["text"] for dm in fake.our_dms("2002"))
    assert public != responses.render("utter_holding", Variant.X_PUBLIC)
    assert private != responses.render("utter_holding", Variant.X_DM)
    assert "496 0000" not in public and "4960000" not in public
    assert "Manchester" in public or "0161" in public
    assert "Manchester" in private or "0161" in private


async def test_nul_and_lone_surrogates_are_mended_before_anything_stores_them(rig: Rig) -> None:
    """X passes them on (JSON escapes); PostgreSQL refuses NUL, UTF-8 lone surrogates."""
    rig.fake.add_user(CUSTOMER, "ann\x00\ud800")
    rig.fake.mention(CUSTOMER, "down\x00 in 0161 \ud83d")
    rig.fake.dm(CUSTOMER, "no dial tone\x00 \udc00")
    await rig.started()
    await eventually(lambda: all_sent(rig.engine, 2))

    async with AsyncSession(rig.engine) as session:
        query = select(Message).where(Message.direction == "in").order_by(col(Message.id))
        stored = sorted(m.text for m in (await session.exec(query)).all())
    assert stored == ["down\ufffd in 0161 \ufffd", "no dial tone\ufffd \ufffd"]
    conversation = await conversations.by_channel_user(rig.engine, Channel.X, CUSTOMER)
    assert conversation is not None and conversation.display_name == "@ann\ufffd\ufffd"
